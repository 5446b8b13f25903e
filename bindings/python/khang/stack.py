"""Call stacks (khang/stack.h)."""

import dataclasses
import enum
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_size_t, c_uint32, c_uint64

from ._ffi import ffi, handle, text
from ._types import C_STRUCTS, enum_or_int, sized


class FrameKind(enum.IntEnum):
    """How a frame was found (``khang_frame_kind``)."""
    CONTEXT = 0
    UNWIND = 1
    LEAF = 2
    TRAP = 3
    SCAN = 4


class _CFrame(Structure):
    _fields_ = [("ip", c_uint64), ("sp", c_uint64), ("kind", c_int)]


class _CStackOpts(Structure):
    _fields_ = [("size", c_size_t), ("max_frames", c_uint32)]


C_STRUCTS[_CFrame] = "khang_frame"
C_STRUCTS[_CStackOpts] = "khang_stack_opts"

_walk_context = ffi("stack_walk_context", [POINTER(handle), handle, c_uint64, POINTER(_CStackOpts)])
_frame_count = ffi("stack_frame_count", [handle], c_size_t, None)
_frame = ffi("stack_frame", [POINTER(_CFrame), handle, c_size_t])
_end_reason = ffi("stack_end_reason", [handle], c_char_p, None)
_free = ffi("stack_free", [handle], None, None)


@dataclasses.dataclass(frozen=True)
class Frame:
    """One frame: instruction pointer, stack pointer, how it was found, and
    the instruction pointer as WinDbg names it."""
    ip: int
    sp: int
    kind: FrameKind
    symbol: str


@dataclasses.dataclass(frozen=True)
class Stack:
    """A walked call stack: its frames (the first is the starting context)
    and why the walk ended."""
    frames: tuple
    end_reason: str

    def __iter__(self):
        return iter(self.frames)

    def __len__(self):
        return len(self.frames)


def walk_context(dump, context_va, max_frames):
    """Walk from a CONTEXT record (see Dump.walk_stack); the C stack is read
    into Python objects and freed at once."""
    opts = sized(_CStackOpts)
    opts.max_frames = max_frames
    p = handle()
    with dump._lock:
        _walk_context(byref(p), dump._handle(), context_va, byref(opts))
        try:
            frames = []
            f = _CFrame()
            for i in range(_frame_count(p.value)):
                _frame(byref(f), p.value, i)
                frames.append(Frame(f.ip, f.sp, enum_or_int(FrameKind, f.kind), dump.symbolize(f.ip)))
            return Stack(tuple(frames), text(_end_reason(p.value)))
        finally:
            _free(p.value)
