"""khang: Python bindings of libkhang (Windows kernel memory dump hang analysis).

::

    import khang

    with khang.open("MEMORY.DMP") as dump:
        info = dump.info()
        print(info.dump_type_name, info.build, info.arch_name)
        k = dump.kernel_info()
        print(k.pdb_name, k.pdb_id, k.layout)
        for m in dump.modules():
            print(hex(m.base), m.name)
        print(dump.symbolize(k.base + 0x1000))

Failures raise :class:`KhangError` (``code``, ``message``). The shared
library is found as described in ``khang._ffi`` (``KHANG_LIBRARY`` overrides).
"""

from . import _ffi
from ._types import Arch, DumpType, LayoutCheck, LayoutSource
from .alpc import AlpcConnection, AlpcKind, AlpcPort, AlpcQueue, AlpcWait, ProcessRef, ThreadRef
from .dump import DumpInfo, Dump, TlbStats, TriageInfo, arch_name, dump_type_name, open
from .errors import (EBUFSIZE, ECORRUPT, EFORMAT, EINVAL, EIO, ELIMIT, ENOMEM, ENOTFOUND,
                     ENOTPRESENT, ERANGE, EUNSUPPORTED, ITEROVER, OK, ErrorCode, KhangError)
from .irp import Irp, IrpLocation
from .kernel import KernelInfo, Module, UnloadedDriver
from .layout import Layout
from .objects import (DispatcherType, Process, Processor, ProcessorDpc, ProcessorSlot, ReadyEntry, Thread,
                      ThreadState, WaitObject, WaitReason, format_duration)
from .stack import Frame, FrameKind, Stack, StackEnd, StackFlags, StackStart, UniqueStack
from .verdict import Category, Check, CheckStatus, Step, StepKind, Verdict, category_name

#: Version of this package (kept equal to the libkhang version it is made with).
__version__ = "0.1.0"

#: The shared library in use (a path, or a name resolved by the system).
library_path = _ffi.library_path

#: ``Source`` is the C name of a dump (``khang_source``).
Source = Dump


def library_version():
    """Version of the loaded libkhang as a string, e.g. "0.1.0"."""
    return _ffi.version_string()


def library_version_info():
    """Version of the loaded libkhang as a (major, minor, patch) tuple."""
    return _ffi.version_tuple()


def strerror(code):
    """Short description of a return code (``khang_strerror``)."""
    return _ffi.text(_ffi.strerror(int(code)))


__all__ = [
    "Arch", "Dump", "DumpInfo", "DumpType", "ErrorCode", "Frame", "FrameKind", "KernelInfo",
    "KhangError", "Layout", "LayoutCheck", "LayoutSource", "Module", "Source", "Stack",
    "StackEnd", "StackFlags", "StackStart", "TlbStats", "TriageInfo", "UniqueStack", "UnloadedDriver",
    "DispatcherType", "Irp", "IrpLocation", "Process", "Processor", "ProcessorDpc", "ProcessorSlot", "ReadyEntry", "Thread", "ThreadState",
    "WaitObject", "WaitReason", "format_duration",
    "AlpcConnection", "AlpcKind", "AlpcPort", "AlpcQueue", "AlpcWait", "ProcessRef", "ThreadRef",
    "arch_name", "dump_type_name", "library_path", "library_version",
    "library_version_info", "open", "strerror",
    "OK", "EINVAL", "ENOMEM", "EIO", "EFORMAT", "ECORRUPT", "EUNSUPPORTED",
    "ENOTPRESENT", "ENOTFOUND", "ERANGE", "ELIMIT", "EBUFSIZE", "ITEROVER",
]
