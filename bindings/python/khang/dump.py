"""An opened kernel memory dump (khang/source.h, khang/kernel.h)."""

import ctypes
import dataclasses
import datetime
import os
import threading
import weakref
from ctypes import (POINTER, byref, c_char_p, c_int, c_size_t, c_uint32, c_uint64,
                    create_string_buffer)

from . import _types, kernel as _kernel, stack as _stack
from ._ffi import ffi, handle, text
from ._iter import HandleIterator
from ._types import (Arch, DumpType, SourceInfo as _CSourceInfo, SourceOpts as _CSourceOpts,
                     TlbStats as _CTlbStats, TriageInfo as _CTriageInfo, enum_or_int, sized)
from .errors import EINVAL, ENOTFOUND, ENOTPRESENT, KhangError
from .layout import Layout

_open = ffi("source_open", [POINTER(handle), c_char_p, POINTER(_CSourceOpts)])
_open_memory = ffi("source_open_memory", [POINTER(handle), c_char_p, c_size_t, POINTER(_CSourceOpts)])
_free = ffi("source_free", [handle], None, None)
_get_info = ffi("source_get_info", [POINTER(_CSourceInfo), handle])
_context_record = ffi("source_context_record", [POINTER(POINTER(ctypes.c_uint8)), POINTER(c_size_t), handle])
_warning_count = ffi("source_warning_count", [handle], c_uint32, None)
_warning = ffi("source_warning", [handle, c_uint32], c_char_p, None)
_read_physical = ffi("read_physical", [handle, c_uint64, c_char_p, c_size_t,
                                       POINTER(c_size_t), POINTER(c_uint64)])
_translate = ffi("translate", [POINTER(c_uint64), handle, c_uint64, c_uint64])
_read_virtual = ffi("read_virtual", [handle, c_uint64, c_uint64, c_char_p, c_size_t,
                                     POINTER(c_size_t), POINTER(c_uint64)])
_triage_info = ffi("source_triage_info", [POINTER(_CTriageInfo), handle])
_tlb_stats = ffi("source_tlb_stats", [POINTER(_CTlbStats), handle])
_arch_name = ffi("arch_name", [c_int], c_char_p, None)
_dump_type_name = ffi("dump_type_name", [c_int], c_char_p, None)

_FILETIME_EPOCH = datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)


def arch_name(arch):
    """"x86", "x64", "arm64" or "unknown" (``khang_arch_name``)."""
    return text(_arch_name(int(arch)))


def dump_type_name(dump_type):
    """"full", "bitmap-kernel", "triage", ... (``khang_dump_type_name``)."""
    return text(_dump_type_name(int(dump_type)))


@dataclasses.dataclass(frozen=True)
class DumpInfo:
    """The dump header (``khang_source_info``). Unset values are 0."""
    arch: Arch
    dump_type: DumpType
    machine_type: int
    major_version: int
    build: int
    processors: int
    pae: bool
    bugcheck_code: int
    bugcheck_params: tuple
    dtb: int
    pfn_database: int
    ps_loaded_module_list: int
    ps_active_process_head: int
    kd_debugger_data_block: int
    system_time: int
    system_uptime: int
    product_type: int
    suite_mask: int
    file_size: int
    pages_indexed: int
    pages_missing: int
    max_pfn: int
    header_size: int
    warnings: int
    comment: str

    @property
    def arch_name(self):
        return arch_name(self.arch)

    @property
    def dump_type_name(self):
        return dump_type_name(self.dump_type)

    @property
    def system_datetime(self):
        """When the dump was written (UTC), or None if unset."""
        if not self.system_time:
            return None
        return _FILETIME_EPOCH + datetime.timedelta(microseconds=self.system_time // 10)


@dataclasses.dataclass(frozen=True)
class TriageInfo:
    """What a triage (small) dump holds (``khang_triage_info``)."""
    processor: int
    prcb: int
    thread: int
    process: int
    top_of_stack: int
    stack_size: int
    data_blocks: int
    drivers: int
    size_of_dump: int
    triage_options: int


@dataclasses.dataclass(frozen=True)
class TlbStats:
    """Translation cache counters."""
    hits: int
    misses: int


def _fields(dc, cstruct, **override):
    """The dataclass ``dc`` filled from the ctypes structure's fields."""
    values = {}
    for f in dataclasses.fields(dc):
        if f.name in override:
            values[f.name] = override[f.name]
        else:
            v = getattr(cstruct, f.name)
            values[f.name] = text(v) if isinstance(v, bytes) else v
    return dc(**values)


class Dump:
    """One opened kernel memory dump (``khang_source``).

    Open it with :func:`khang.open` (or ``Dump(path)``) and use it as a
    context manager; it is read-only and never changes the file::

        with khang.open("MEMORY.DMP") as dump:
            print(dump.info().build, dump.kernel_info().pdb_id)
            for m in dump.modules():
                print(m.name, hex(m.base))

    Objects it hands out (modules, layouts) are borrowed from it; their
    fields stay readable after it is closed, but nothing more can be read
    through them. Calls on one dump are serialised by a lock, so a dump may
    be shared between Python threads (they take turns).

    Options (keyword arguments): ``layout`` (a :class:`~khang.Layout`, e.g.
    from an ISF file, instead of the built-in tables), ``no_mmap`` (read with
    pread), ``quiet_truncation``, ``tlb_entries``, ``max_list_entries``,
    ``image_path`` (directories with module images, a list or a
    ':'-separated string).
    """

    def __init__(self, path, **options):
        self._init(options)
        p = handle()
        self.path = os.fspath(path)
        self._data = None
        _open(byref(p), os.fsencode(path), byref(self._opts))
        self._ptr = p.value
        self._hold_layout()

    @classmethod
    def from_bytes(cls, data, **options):
        """Open a dump held in memory (bytes; other buffers are copied)."""
        self = cls.__new__(cls)
        self._init(options)
        self.path = None
        self._data = bytes(data)
        p = handle()
        _open_memory(byref(p), self._data, len(self._data), byref(self._opts))
        self._ptr = p.value
        self._hold_layout()
        return self

    def _init(self, options):
        self._ptr = None
        self._lock = threading.RLock()
        self._iters = weakref.WeakSet()
        self._layout = options.pop("layout", None)
        opts = sized(_CSourceOpts)
        if options.pop("no_mmap", False):
            opts.flags |= _types.SOURCE_NO_MMAP
        if options.pop("quiet_truncation", False):
            opts.flags |= _types.SOURCE_QUIET_TRUNCATION
        opts.tlb_entries = options.pop("tlb_entries", 0)
        opts.max_list_entries = options.pop("max_list_entries", 0)
        image_path = options.pop("image_path", None)
        if image_path is not None:
            if not isinstance(image_path, (str, bytes, os.PathLike)):
                image_path = os.pathsep.join(os.fspath(d) for d in image_path)
            self._image_path = os.fsencode(image_path)
            opts.image_path = self._image_path
        if self._layout is not None:
            if not isinstance(self._layout, Layout):
                raise TypeError("layout must be a khang.Layout")
            opts.layout = self._layout._handle()
        if options:
            raise TypeError("unknown option(s): " + ", ".join(sorted(options)))
        self._opts = opts

    def _hold_layout(self):
        if self._layout is not None:
            self._layout._users += 1

    def _handle(self):
        if not self._ptr:
            raise KhangError(EINVAL, "the dump is closed")
        return self._ptr

    # ---- life cycle -------------------------------------------------------
    def close(self):
        """Close the dump and free everything borrowed from it."""
        with self._lock:
            if not self._ptr:
                return
            for it in list(self._iters):
                it.close()
            _free(self._ptr)
            self._ptr = None
            if self._layout is not None:
                self._layout._users -= 1
        self._data = None

    @property
    def closed(self):
        return not self._ptr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_ptr", None):
            self.close()

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return "<khang.Dump %s %s>" % (self.path or "(memory)", state)

    # ---- header ------------------------------------------------------------
    def info(self):
        """The dump header as a :class:`DumpInfo`."""
        ci = sized(_CSourceInfo)
        with self._lock:
            _get_info(byref(ci), self._handle())
        return _fields(DumpInfo, ci, arch=enum_or_int(Arch, ci.arch),
                       dump_type=enum_or_int(DumpType, ci.dump_type), pae=bool(ci.pae),
                       bugcheck_params=tuple(ci.bugcheck_params))

    def triage_info(self):
        """What a triage dump holds (:class:`TriageInfo`), or None for other dumps."""
        ct = sized(_CTriageInfo)
        with self._lock:
            try:
                _triage_info(byref(ct), self._handle())
            except KhangError as e:
                if e.code == ENOTFOUND:
                    return None
                raise
        return _fields(TriageInfo, ct)

    def context_record(self):
        """The raw CONTEXT record saved in the header, as bytes."""
        p = POINTER(ctypes.c_uint8)()
        n = c_size_t()
        with self._lock:
            _context_record(byref(p), byref(n), self._handle())
            return ctypes.string_at(p, n.value)

    @property
    def warnings(self):
        """The warnings recorded so far (the first 64 keep their text)."""
        with self._lock:
            src = self._handle()
            out = []
            for i in range(_warning_count(src)):
                w = _warning(src, i)
                if w is not None:
                    out.append(text(w))
            return out

    @property
    def warning_count(self):
        with self._lock:
            return _warning_count(self._handle())

    # ---- memory ------------------------------------------------------------
    def _read(self, fn, args, size, partial):
        buf = create_string_buffer(size)
        got = c_size_t()
        missing = c_uint64()
        with self._lock:
            try:
                fn(self._handle(), *args, buf, size, byref(got), byref(missing))
            except KhangError as e:
                if e.code == ENOTPRESENT:
                    if partial:
                        return buf.raw[:got.value]
                    e.data = buf.raw[:got.value]
                    e.missing_address = missing.value
                raise
        return buf.raw

    def read_physical(self, pa, size, *, partial=False):
        """Read ``size`` bytes of physical memory.

        A page that is not in the dump raises ``KhangError`` (ENOTPRESENT)
        whose ``data`` holds the bytes read before it and ``missing_address``
        the first address missing; with ``partial=True`` those bytes are
        returned instead (possibly fewer than asked).
        """
        return self._read(_read_physical, (pa,), size, partial)

    def read_virtual(self, va, size, *, dtb=0, partial=False):
        """Read ``size`` bytes of virtual memory (``dtb`` 0: the kernel's
        address space). Missing pages behave as for :meth:`read_physical`."""
        return self._read(_read_virtual, (dtb, va), size, partial)

    def translate(self, va, *, dtb=0):
        """The physical address of ``va`` (KhangError ENOTPRESENT if unmapped)."""
        pa = c_uint64()
        with self._lock:
            _translate(byref(pa), self._handle(), dtb, va)
        return pa.value

    def tlb_stats(self):
        s = _CTlbStats()
        with self._lock:
            _tlb_stats(byref(s), self._handle())
        return TlbStats(s.hits, s.misses)

    # ---- kernel ------------------------------------------------------------
    def kernel_info(self):
        """Find the kernel (once) and describe it (:class:`KernelInfo`).

        Raises KhangError (EUNSUPPORTED) for dumps without a kernel address
        space (triage, header-only, ARM64).
        """
        ck = sized(_types.KernelInfo)
        with self._lock:
            _kernel._kernel_info(byref(ck), self._handle())
        layout = Layout(ck.layout, False, keep=self) if ck.layout else None
        return _fields(_kernel.KernelInfo, ck, layout=layout,
                       check=enum_or_int(_types.LayoutCheck, ck.check),
                       has_pdb=bool(ck.has_pdb), kdbg_valid=bool(ck.kdbg_valid),
                       kdbg_was_encoded=bool(ck.kdbg_was_encoded))

    def ticks_to_ms(self, tick):
        """Milliseconds from a tick count (e.g. a thread's wait tick) to the
        dump, or None when the dump's tick count is unknown."""
        with self._lock:
            ms = _kernel._ticks_to_ms(self._handle(), tick & 0xFFFFFFFF)
        return None if ms < 0 else ms

    def modules(self):
        """Iterate the loaded kernel modules (:class:`~khang.Module`), in
        PsLoadedModuleList order. The iterator's ``skipped`` counts list
        entries that could not be read."""
        return HandleIterator(self, _kernel.iter_new, _kernel.iter_next, _kernel.iter_free,
                              _kernel.iter_skipped, _kernel.Module)

    def unloaded_drivers(self):
        """The drivers the kernel unloaded before the dump, as a list of
        :class:`~khang.UnloadedDriver` (newest first where the dump tells the
        order: MmUnloadedDrivers; triage dumps in their own order)."""
        out = []
        with self._lock:
            n = c_size_t(0)
            _kernel._unloaded_count(self._handle(), byref(n))
            for i in range(n.value):
                cu = sized(_types.UnloadedDriver)
                _kernel._unloaded(byref(cu), self._handle(), i)
                out.append(_kernel.UnloadedDriver(text(cu.name), cu.start, cu.end, cu.unload_time))
        return out

    def module_at(self, va):
        """The module whose image holds ``va``, or None."""
        m = handle()
        with self._lock:
            try:
                _kernel._module_at(byref(m), self._handle(), va)
            except KhangError as e:
                if e.code == ENOTFOUND:
                    return None
                raise
            return _kernel.Module(self, m.value)

    def walk_stack(self, context_va, *, max_frames=0, flags=0):
        """Walk the call stack from a CONTEXT record stored in the dump
        (e.g. the one a bugcheck parameter points to): a :class:`~khang.Stack`
        of :class:`~khang.Frame` (0 ``max_frames``: the library's default;
        ``flags``: :class:`~khang.StackFlags`)."""
        return _stack.walk_context(self, context_va, max_frames, flags)

    def thread_stack(self, thread, *, max_frames=0, flags=0):
        """The call stack of the thread at ETHREAD address ``thread``, from
        its saved switch frame or, running, its processor's context, through
        trap frames into user mode: a :class:`~khang.Stack` (``flags``:
        :class:`~khang.StackFlags`)."""
        return _stack.walk_thread(self, thread, max_frames, flags)

    def unique_stacks(self, *, process=None, pid=None, module=None, symbol=None, max_frames=0, flags=0):
        """Threads grouped by identical stacks, like !us / !mex.us: a list of
        :class:`~khang.UniqueStack` (threads, stack), largest group first.
        Limit to one process (EPROCESS address ``process`` or ``pid``), or to
        stacks with a frame in a module / whose text holds ``module`` /
        ``symbol`` (case-insensitive)."""
        return _stack.unique_stacks(self, process, pid, module, symbol, max_frames, flags)[0]

    def symbolize(self, va):
        """``va`` as WinDbg names it: "nt!KeWaitForSingleObject+0x377",
        "TmXPFlt+0x1bce3", or "0x..." when no module holds it."""
        size = 256
        with self._lock:
            while True:
                buf = create_string_buffer(size)
                n = _kernel._symbolize(buf, size, self._handle(), va)
                if n < size:
                    return text(buf.value)
                size = n + 1

    # ---- processors, processes, threads -------------------------------------------
    # (khang.objects: every object handed out is a snapshot of plain values.)
    def processors(self):
        """Iterate the processors (:class:`~khang.Processor`), in number
        order; ``skipped`` counts those whose KPRCB could not be read."""
        from . import objects
        return objects.processors(self)

    def processor(self, index):
        """Processor ``index`` (:class:`~khang.Processor`), or None."""
        from . import objects
        return objects.processor(self, index)

    def processor_count(self):
        """How many processors the system has."""
        from . import objects
        return objects.processor_count(self)

    def processes(self):
        """Iterate the processes (:class:`~khang.Process`) in
        PsActiveProcessHead order; ``skipped`` counts damaged entries."""
        from . import objects
        return objects.processes(self)

    def process_by_pid(self, pid):
        """The process with this PID (:class:`~khang.Process`), or None."""
        from . import objects
        return objects.process_by_pid(self, pid)

    def process_by_address(self, va):
        """The process whose EPROCESS is at ``va``, or None."""
        from . import objects
        return objects.process_by_address(self, va)

    def threads(self, process=None):
        """Iterate every thread (:class:`~khang.Thread`), process by process,
        or those of one process (a :class:`~khang.Process` or a PID), like
        !mex.lt; ``skipped`` counts damaged list entries."""
        from . import objects
        return objects.threads(self, process)

    def thread_by_tid(self, tid):
        """The thread with this TID (:class:`~khang.Thread`), or None."""
        from . import objects
        return objects.thread_by_tid(self, tid)

    def thread_by_address(self, va):
        """The thread whose ETHREAD is at ``va`` (:class:`~khang.Thread`), or
        None when no thread is there."""
        from . import objects
        return objects.thread_by_address(self, va)

    def irp(self, va):
        """The IRP at ``va`` (:class:`~khang.Irp`) with its stack locations
        and the driver each names. Raises :class:`~khang.KhangError`:
        ENOTPRESENT when it is not in the dump, ECORRUPT when the memory
        there is not an IRP."""
        from . import irp
        return irp.read(self, va)

    def ready_threads(self, processor=None):
        """The threads in ready queues (like !ready), of every processor or
        of one (a :class:`~khang.Processor` or its index): a list of
        :class:`~khang.ReadyEntry` with ``skipped``."""
        from . import objects
        return objects.ready_threads(self, processor)

    # ---- the verdict ---------------------------------------------------------
    def hang_verdict(self, long_wait_ms=0, ready_wait_ms=0):
        """Why the system hangs: a :class:`khang.Verdict` with ``category``,
        ``summary``, ``confidence``, the culprit, the evidence ``chain``, the
        ``checks`` made and ``to_json()``. Thresholds in ms (0: defaults)."""
        from .verdict import hang_verdict
        return hang_verdict(self, long_wait_ms, ready_wait_ms)

    # ---- ALPC ------------------------------------------------------------------
    def alpc_ports(self, process=None):
        """Every ALPC port, or those of one process (a PID, an image name or
        a :class:`~khang.ProcessRef`), in the kernel's port list order: a
        list of :class:`~khang.AlpcPort` with ``skipped`` (like !alpc /lpp)."""
        from .alpc import ports
        return ports(self, process)

    def alpc_waits(self):
        """Every thread waiting for an ALPC reply, grouped by server process
        and connection port: a list of :class:`~khang.AlpcWait` with
        ``skipped`` (like !lpcwait)."""
        from .alpc import waits
        return waits(self)

    def alpc_wait(self, thread):
        """The ALPC reply the thread at ETHREAD address ``thread`` (or a
        :class:`~khang.ThreadRef`) waits for: an :class:`~khang.AlpcWait`,
        or None when it waits for none."""
        from .alpc import thread_wait
        return thread_wait(self, thread)


def open(path, **options):  # noqa: A001 (mirrors the builtin on purpose)
    """Open a dump file: ``with khang.open("MEMORY.DMP") as dump: ...``.

    See :class:`Dump` for the options.
    """
    return Dump(path, **options)

