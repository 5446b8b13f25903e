"""The kernel found in a dump: identity, layout, modules (khang/kernel.h)."""

import dataclasses
from ctypes import POINTER, c_char_p, c_int, c_int64, c_size_t, c_uint32, c_uint64

from ._ffi import check_next, ffi, handle, text
from ._types import KernelInfo as _CKernelInfo, LayoutCheck, UnloadedDriver as _CUnloaded

_kernel_info = ffi("source_kernel_info", [POINTER(_CKernelInfo), handle])
_ticks_to_ms = ffi("source_ticks_to_ms", [handle, c_uint32], c_int64, None)
iter_new = ffi("module_iter_new", [POINTER(handle), handle])
iter_next = ffi("module_next", [POINTER(handle), handle], c_int, check_next)
iter_free = ffi("module_iter_free", [handle], None, None)
iter_skipped = ffi("module_iter_skipped", [handle], c_uint32, None)
_name = ffi("module_name", [handle], c_char_p, None)
_path = ffi("module_path", [handle], c_char_p, None)
_base = ffi("module_base", [handle], c_uint64, None)
_size = ffi("module_size", [handle], c_uint32, None)
_timestamp = ffi("module_timestamp", [handle], c_uint32, None)
_module_at = ffi("source_module_at", [POINTER(handle), handle, c_uint64])
_symbolize = ffi("source_symbolize", [c_char_p, c_size_t, handle, c_uint64])
_unloaded_count = ffi("source_unloaded_driver_count", [handle, POINTER(c_size_t)])
_unloaded = ffi("source_unloaded_driver", [POINTER(_CUnloaded), handle, c_size_t])


@dataclasses.dataclass(frozen=True)
class KernelInfo:
    """What kernel discovery found (``khang_kernel_info``).

    ``layout`` is the :class:`~khang.Layout` in use (borrowed from the dump),
    or None in limited mode; ``check`` says how it was validated and
    ``layout_note`` why it was chosen or what failed.
    """
    base: int
    image_size: int
    has_pdb: bool
    pdb_name: str
    pdb_id: str
    kdbg_address: int
    kdbg_valid: bool
    kdbg_was_encoded: bool
    layout: object
    check: LayoutCheck
    layout_note: str
    ki_processor_block: int
    ps_active_process_head: int
    ps_loaded_module_list: int
    processors: int
    tick_count: int
    tick_multiplier: int
    time_increment: int

    @property
    def check_name(self):
        """"passed", "partial", "failed" or "none", as ``khang info`` prints."""
        return self.check.name.lower() if isinstance(self.check, LayoutCheck) else str(self.check)


@dataclasses.dataclass(frozen=True)
class UnloadedDriver:
    """A driver the kernel unloaded before the dump (``khang_unloaded_driver``).

    ``end`` is exclusive; ``unload_time`` is a FILETIME (100 ns since 1601),
    0 when the dump does not record it (triage dumps). Triage dumps keep at
    most 12 characters of the name.
    """
    name: str
    start: int
    end: int
    unload_time: int

    def __contains__(self, va):
        return self.start <= va < self.end


class Module:
    """A loaded kernel module (``khang_module``, borrowed from its dump).

    Its fields are read when the object is made, so they stay readable after
    the dump is closed. ``va in module`` tells whether an address lies in its
    image.
    """

    __slots__ = ("_dump", "_ptr", "name", "path", "base", "size", "timestamp")

    def __init__(self, dump, ptr):
        self._dump = dump
        self._ptr = ptr
        self.name = text(_name(ptr))
        self.path = text(_path(ptr))
        self.base = _base(ptr)
        self.size = _size(ptr)
        self.timestamp = _timestamp(ptr)

    @property
    def end(self):
        """One past the last byte of the image."""
        return self.base + self.size

    def __contains__(self, va):
        return self.base <= va < self.end

    def __eq__(self, other):
        return isinstance(other, Module) and self._ptr == other._ptr

    def __hash__(self):
        return hash(self._ptr)

    def __repr__(self):
        return "<khang.Module %s 0x%x-0x%x>" % (self.name, self.base, self.end)
