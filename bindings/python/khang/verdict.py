"""The hang verdict (khang/verdict.h)."""

import dataclasses
import enum
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_int64, c_size_t, c_uint32, c_uint64, c_void_p

from ._ffi import ffi, handle, text
from ._types import C_STRUCTS, enum_or_int, sized


class Category(enum.IntEnum):
    """What the verdict found (``khang_verdict_category``)."""
    NO_HANG = 0
    ALPC_CHAIN = 1
    DEADLOCK = 2
    LOCK_CHAIN = 3
    BLOCKED_IN_DRIVER = 4
    CPU_STARVATION = 5
    CRASH = 6
    UNKNOWN = 7


class StepKind(enum.IntEnum):
    """What a step of the evidence chain is about (``khang_step_kind``)."""
    THREAD = 1
    OBJECT = 2
    PROCESS = 3
    PROCESSOR = 4
    NOTE = 5


class CheckStatus(enum.IntEnum):
    """Outcome of a check (``khang_check_status``)."""
    OK = 0
    FOUND = 1
    NOT_RUN = 2


class _CVerdictOpts(Structure):
    _fields_ = [("size", c_size_t), ("long_wait_ms", c_uint32), ("ready_wait_ms", c_uint32)]


class _CStep(Structure):
    _fields_ = [("size", c_size_t), ("kind", c_int), ("thread", c_void_p), ("process", c_void_p),
                ("object", c_uint64), ("wait_ms", c_int64), ("text", c_char_p)]


class _CCheck(Structure):
    _fields_ = [("size", c_size_t), ("name", c_char_p), ("status", c_int), ("text", c_char_p)]


C_STRUCTS[_CVerdictOpts] = "khang_verdict_opts"
C_STRUCTS[_CStep] = "khang_verdict_step"
C_STRUCTS[_CCheck] = "khang_verdict_check"

_verdict = ffi("hang_verdict", [POINTER(handle), handle, POINTER(_CVerdictOpts)])
_free = ffi("verdict_free", [handle], None, None)
_category = ffi("verdict_get_category", [handle], c_int, None)
_category_name = ffi("verdict_category_name", [c_int], c_char_p, None)
_summary = ffi("verdict_summary", [handle], c_char_p, None)
_confidence = ffi("verdict_confidence", [handle], c_int, None)
_culprit_thread = ffi("verdict_culprit_thread", [handle], c_void_p, None)
_culprit_process = ffi("verdict_culprit_process", [handle], c_void_p, None)
_culprit_module = ffi("verdict_culprit_module", [handle], c_char_p, None)
_step_count = ffi("verdict_step_count", [handle], c_size_t, None)
_step_at = ffi("verdict_step_at", [POINTER(_CStep), handle, c_size_t])
_check_count = ffi("verdict_check_count", [handle], c_size_t, None)
_check_at = ffi("verdict_check_at", [POINTER(_CCheck), handle, c_size_t])
_warning_count = ffi("verdict_warning_count", [handle], c_size_t, None)
_warning = ffi("verdict_warning", [handle, c_size_t], c_char_p, None)
_edge_count = ffi("verdict_edge_count", [handle], c_size_t, None)
_json = ffi("verdict_json", [handle], c_char_p, None)
_dot = ffi("verdict_dot", [handle], c_char_p, None)
_thread_address = ffi("thread_address", [c_void_p], c_uint64, None)
_thread_tid = ffi("thread_tid", [c_void_p], c_int64, None)
_thread_process = ffi("thread_process", [POINTER(c_void_p), c_void_p])
_process_name = ffi("process_name", [c_void_p], c_char_p, None)
_process_pid = ffi("process_pid", [c_void_p], c_int64, None)


def category_name(category):
    """Stable short name of a category ("deadlock", "cpu-starvation", ...)."""
    return text(_category_name(int(category)))


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of the evidence chain. ``thread`` is the ETHREAD address and
    ``tid``/``pid``/``process`` describe it (None when the step has none)."""
    kind: StepKind
    text: str
    thread: object = None
    tid: object = None
    pid: object = None
    process: object = None
    object: int = 0
    wait_ms: int = -1


@dataclasses.dataclass(frozen=True)
class Check:
    """One check made during the analysis."""
    name: str
    status: CheckStatus
    text: str


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What khang_hang_verdict() found. ``chain`` is the evidence, ``checks``
    what was looked at; ``to_json()`` and ``to_dot()`` give the library's own
    renderings."""
    category: Category
    summary: str
    confidence: int
    culprit_thread: object
    culprit_tid: object
    culprit_process: object
    culprit_pid: object
    culprit_module: str
    chain: tuple
    checks: tuple
    warnings: tuple
    edges: int
    json: str
    dot: str

    @property
    def category_name(self):
        return category_name(self.category)

    def to_json(self):
        return self.json

    def to_dot(self):
        return self.dot


def _process_of(proc):
    if not proc:
        return None, None
    return text(_process_name(proc)), _process_pid(proc)


def _thread_fields(thread, proc):
    if not thread:
        name, pid = _process_of(proc)
        return None, None, pid, name
    if not proc:
        p = c_void_p()
        try:
            _thread_process(byref(p), thread)
            proc = p.value
        except Exception:  # a thread whose process cannot be read
            proc = None
    name, pid = _process_of(proc)
    return _thread_address(thread), _thread_tid(thread), pid, name


def hang_verdict(dump, long_wait_ms=0, ready_wait_ms=0):
    """Run the analysis (see Dump.hang_verdict); everything is read into
    Python objects and the C verdict is freed at once."""
    opts = sized(_CVerdictOpts)
    opts.long_wait_ms = long_wait_ms
    opts.ready_wait_ms = ready_wait_ms
    v = handle()
    with dump._lock:
        _verdict(byref(v), dump._handle(), byref(opts))
        try:
            h = v.value
            chain = []
            st = sized(_CStep)
            for i in range(_step_count(h)):
                _step_at(byref(st), h, i)
                thread, tid, pid, pname = _thread_fields(st.thread, st.process)
                chain.append(Step(enum_or_int(StepKind, st.kind), text(st.text), thread, tid, pid, pname,
                                  st.object, st.wait_ms))
            checks = []
            ck = sized(_CCheck)
            for i in range(_check_count(h)):
                _check_at(byref(ck), h, i)
                checks.append(Check(text(ck.name), enum_or_int(CheckStatus, ck.status), text(ck.text)))
            warnings = tuple(text(_warning(h, i)) for i in range(_warning_count(h)))
            ct = _culprit_thread(h)
            cp = _culprit_process(h)
            thread, tid, pid, pname = _thread_fields(ct, cp)
            return Verdict(enum_or_int(Category, _category(h)), text(_summary(h)), _confidence(h), thread, tid,
                           pname, pid, text(_culprit_module(h)), tuple(chain), tuple(checks), warnings,
                           _edge_count(h), text(_json(h)), text(_dot(h)))
        finally:
            _free(v.value)
