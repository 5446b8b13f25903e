"""Call stacks (khang/stack.h): walks from a CONTEXT record or a thread,
frames with their module and symbol, and unique stacks."""

import dataclasses
import enum
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_size_t, c_uint32, c_uint64, c_void_p

from ._ffi import ffi, handle, text
from ._types import C_STRUCTS, enum_or_int, sized


class FrameKind(enum.IntEnum):
    """How a frame was found (``khang_frame_kind``)."""
    CONTEXT = 0
    UNWIND = 1
    LEAF = 2
    TRAP = 3
    SCAN = 4


class StackFlags(enum.IntFlag):
    """``khang_stack_flags``."""
    NONE = 0
    NO_SCAN = 1
    SCAN_UNVERIFIED = 2
    KERNEL_ONLY = 4


class StackEnd(enum.IntEnum):
    """Why a walk ended (``khang_stack_end_code``)."""
    COMPLETE = 0
    FRAME_LIMIT = 1
    NO_MODULE = 2
    NO_UNWIND = 3
    NOT_PRESENT = 4
    BAD_SP = 5
    CORRUPT = 6
    USER_MODE = 7


class StackStart(enum.IntEnum):
    """Where a walk started (``khang_stack_start_code``)."""
    CONTEXT_VA = 0
    SWITCH_FRAME = 1
    DUMP_CONTEXT = 2
    PRCB_CONTEXT = 3


class _CFrame(Structure):
    _fields_ = [("ip", c_uint64), ("sp", c_uint64), ("kind", c_int)]


class _CStackOpts(Structure):
    _fields_ = [("size", c_size_t), ("max_frames", c_uint32), ("flags", c_uint32), ("scan_bytes", c_uint32)]


class _CFrameInfo(Structure):
    _fields_ = [("size", c_size_t), ("ip", c_uint64), ("sp", c_uint64), ("kind", c_int), ("user_mode", c_int),
                ("module", c_char_p), ("module_base", c_uint64), ("symbol", c_char_p), ("offset", c_uint64),
                ("text", c_char_p), ("trap_frame", c_uint64)]


class _CUniqueOpts(Structure):
    _fields_ = [("size", c_size_t), ("process", c_void_p), ("module_filter", c_char_p),
                ("symbol_filter", c_char_p), ("stack", _CStackOpts)]


C_STRUCTS[_CFrame] = "khang_frame"
C_STRUCTS[_CStackOpts] = "khang_stack_opts"
C_STRUCTS[_CFrameInfo] = "khang_frame_info"
C_STRUCTS[_CUniqueOpts] = "khang_unique_opts"

_walk_context = ffi("stack_walk_context", [POINTER(handle), handle, c_uint64, POINTER(_CStackOpts)])
_walk = ffi("stack_walk", [POINTER(handle), handle, POINTER(_CStackOpts)])
_frame_count = ffi("stack_frame_count", [handle], c_size_t, None)
_frame = ffi("stack_frame", [POINTER(_CFrame), handle, c_size_t])
_frame_info = ffi("stack_frame_info", [POINTER(_CFrameInfo), handle, c_size_t])
_end_reason = ffi("stack_end_reason", [handle], c_char_p, None)
_end = ffi("stack_end", [handle], c_int, None)
_start = ffi("stack_start", [handle], c_int, None)
_stack_thread = ffi("stack_thread_address", [handle], c_uint64, None)
_free = ffi("stack_free", [handle], None, None)
_thread_by_address = ffi("thread_by_address", [POINTER(handle), handle, c_uint64])
_thread_address = ffi("thread_address", [handle], c_uint64, None)
_process_by_address = ffi("process_by_address", [POINTER(handle), handle, c_uint64])
_process_by_pid = ffi("process_by_pid", [POINTER(handle), handle, c_uint64])
_unique_new = ffi("unique_stacks_new", [POINTER(handle), handle, POINTER(_CUniqueOpts)])
_unique_count = ffi("unique_stacks_count", [handle], c_size_t, None)
_unique_total = ffi("unique_stacks_thread_total", [handle], c_size_t, None)
_unique_walked = ffi("unique_stacks_walked", [handle], c_size_t, None)
_unique_skipped = ffi("unique_stacks_skipped", [handle], c_uint32, None)
_unique_stack = ffi("unique_stacks_stack", [handle, c_size_t], handle, None)
_unique_nthreads = ffi("unique_stacks_thread_count", [handle, c_size_t], c_size_t, None)
_unique_thread = ffi("unique_stacks_thread", [handle, c_size_t, c_size_t], handle, None)
_unique_free = ffi("unique_stacks_free", [handle], None, None)


@dataclasses.dataclass(frozen=True)
class Frame:
    """One frame: instruction pointer, stack pointer (WinDbg's Child-SP),
    how it was found, and the instruction pointer as WinDbg names it
    (``nt!KeWaitForSingleObject+0x377``); then its module (``nt``), the
    symbol and the offset from it (or from the module when no symbol is
    known), whether it is a user-mode frame, and for frames continued
    through a KTRAP_FRAME the trap frame's address."""
    ip: int
    sp: int
    kind: FrameKind
    symbol: str
    module: str = ""
    function: str = ""
    offset: int = 0
    user_mode: bool = False
    trap_frame: int = 0


@dataclasses.dataclass(frozen=True)
class Stack:
    """A walked call stack: its frames (the first is the starting context),
    why the walk ended (text and code), where it started, and the thread's
    address (0 for a walk from a CONTEXT record)."""
    frames: tuple
    end_reason: str
    end: StackEnd = StackEnd.COMPLETE
    start: StackStart = StackStart.CONTEXT_VA
    thread: int = 0

    def __iter__(self):
        return iter(self.frames)

    def __len__(self):
        return len(self.frames)

    @property
    def ips(self):
        """The instruction pointers, innermost first."""
        return tuple(f.ip for f in self.frames)


@dataclasses.dataclass(frozen=True)
class UniqueStack:
    """Threads (their ETHREAD addresses, in list order) that share one
    stack."""
    threads: tuple
    stack: Stack

    def __len__(self):
        return len(self.threads)


def _opts(max_frames, flags, scan_bytes):
    opts = sized(_CStackOpts)
    opts.max_frames = max_frames
    opts.flags = int(flags)
    opts.scan_bytes = scan_bytes
    return opts


def _read(p):
    """The C stack p read into a Stack (p stays owned by the caller)."""
    frames = []
    fi = sized(_CFrameInfo)
    for i in range(_frame_count(p)):
        _frame_info(byref(fi), p, i)
        frames.append(Frame(fi.ip, fi.sp, enum_or_int(FrameKind, fi.kind), text(fi.text), text(fi.module),
                            text(fi.symbol), fi.offset, bool(fi.user_mode), fi.trap_frame))
    return Stack(tuple(frames), text(_end_reason(p)), enum_or_int(StackEnd, _end(p)),
                 enum_or_int(StackStart, _start(p)), _stack_thread(p))


def walk_context(dump, context_va, max_frames, flags=0, scan_bytes=0):
    """Walk from a CONTEXT record (see Dump.walk_stack); the C stack is read
    into Python objects and freed at once."""
    opts = _opts(max_frames, flags, scan_bytes)
    p = handle()
    with dump._lock:
        _walk_context(byref(p), dump._handle(), context_va, byref(opts))
        try:
            return _read(p.value)
        finally:
            _free(p.value)


def walk_thread(dump, thread_va, max_frames=0, flags=0, scan_bytes=0):
    """Walk a thread's stack (see Dump.thread_stack)."""
    opts = _opts(max_frames, flags, scan_bytes)
    t = handle()
    p = handle()
    with dump._lock:
        _thread_by_address(byref(t), dump._handle(), thread_va)
        _walk(byref(p), t.value, byref(opts))
        try:
            return _read(p.value)
        finally:
            _free(p.value)


def unique_stacks(dump, process=None, pid=None, module=None, symbol=None, max_frames=0, flags=0):
    """Group threads by identical stacks (see Dump.unique_stacks). Returns
    (groups, walked, skipped)."""
    opts = sized(_CUniqueOpts)
    opts.stack = _opts(max_frames, flags, 0)
    opts.module_filter = module.encode() if module else None
    opts.symbol_filter = symbol.encode() if symbol else None
    u = handle()
    with dump._lock:
        if process is not None or pid is not None:
            ph = handle()
            if process is not None:
                _process_by_address(byref(ph), dump._handle(), process)
            else:
                _process_by_pid(byref(ph), dump._handle(), pid)
            opts.process = ph.value
        _unique_new(byref(u), dump._handle(), byref(opts))
        try:
            groups = []
            for g in range(_unique_count(u.value)):
                threads = tuple(_thread_address(_unique_thread(u.value, g, i))
                                for i in range(_unique_nthreads(u.value, g)))
                groups.append(UniqueStack(threads, _read(_unique_stack(u.value, g))))
            return groups, _unique_walked(u.value), _unique_skipped(u.value)
        finally:
            _unique_free(u.value)
