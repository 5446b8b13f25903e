"""Processors, processes and threads (khang/processor.h, process.h, thread.h).

::

    with khang.open("MEMORY.DMP") as dump:
        for cpu in dump.processors():                  # like !running / cpus
            print(cpu.index, "idle" if cpu.is_idle else "busy", cpu.current_thread_address)
        for t in dump.threads():                       # like !mex.lt
            print(t.process_name, t.pid, hex(t.address), t.tid, t.state_name,
                  t.wait_ms, t.wait_reason_name)
        explorer = dump.process_by_pid(1234)
        for t in explorer.threads():
            print(t.stack().frames[0].symbol, t.wait_objects())

Every :class:`Processor`, :class:`Process` and :class:`Thread` is a frozen
snapshot: its fields are copied from the C accessors when it is made, so
they stay readable after the dump is closed. Their methods (``threads()``,
``stack()``, ``wait_objects()``, ...) look the object up again by address
and need the dump to be open (else ``KhangError(EINVAL)``).

Values the dump does not hold (the C accessors' -1) are None.
"""

import dataclasses
import enum
from ctypes import (POINTER, Structure, byref, c_char_p, c_int, c_int32, c_int64, c_size_t, c_uint32,
                    c_uint64, c_void_p)

from . import stack as _stack
from ._ffi import check_next, ffi, handle, text
from ._iter import HandleIterator
from ._types import C_STRUCTS, enum_or_int, sized
from .errors import ENOTFOUND, ITEROVER, KhangError


class ThreadState(enum.IntEnum):
    """KTHREAD.State (``khang_thread_state_value``)."""
    INITIALIZED = 0
    READY = 1
    RUNNING = 2
    STANDBY = 3
    TERMINATED = 4
    WAITING = 5
    TRANSITION = 6
    DEFERRED_READY = 7
    GATE_WAIT = 8
    WAITING_FOR_PROCESS_IN_SWAP = 9


class WaitReason(enum.IntEnum):
    """KTHREAD.WaitReason (``khang_wait_reason_value``)."""
    EXECUTIVE = 0
    FREE_PAGE = 1
    PAGE_IN = 2
    POOL_ALLOCATION = 3
    DELAY_EXECUTION = 4
    SUSPENDED = 5
    USER_REQUEST = 6
    WR_EXECUTIVE = 7
    WR_FREE_PAGE = 8
    WR_PAGE_IN = 9
    WR_POOL_ALLOCATION = 10
    WR_DELAY_EXECUTION = 11
    WR_SUSPENDED = 12
    WR_USER_REQUEST = 13
    WR_QUEUE = 15
    WR_LPC_RECEIVE = 16
    WR_LPC_REPLY = 17
    WR_VIRTUAL_MEMORY = 18
    WR_PAGE_OUT = 19
    WR_RENDEZVOUS = 20
    WR_KEYED_EVENT = 21
    WR_TERMINATED = 22
    WR_PROCESS_IN_SWAP = 23
    WR_CPU_RATE_CONTROL = 24
    WR_CALLOUT_STACK = 25
    WR_KERNEL = 26
    WR_RESOURCE = 27
    WR_PUSH_LOCK = 28
    WR_MUTEX = 29
    WR_QUANTUM_END = 30
    WR_DISPATCH_INT = 31
    WR_PREEMPTED = 32
    WR_YIELD_EXECUTION = 33
    WR_FAST_MUTEX = 34
    WR_GUARDED_MUTEX = 35
    WR_RUNDOWN = 36


class DispatcherType(enum.IntEnum):
    """Type of an object a thread waits on (``khang_dispatcher_type``)."""
    UNKNOWN = 0
    EVENT_NOTIFICATION = 1
    EVENT_SYNCHRONIZATION = 2
    MUTANT = 3
    PROCESS = 4
    QUEUE = 5
    SEMAPHORE = 6
    THREAD = 7
    GATE = 8
    TIMER_NOTIFICATION = 9
    TIMER_SYNCHRONIZATION = 10
    PRIQUEUE = 11
    EVENT_PAIR = 12
    OTHER = 13


class ProcessorSlot(enum.IntEnum):
    """``khang_processor_slot``."""
    CURRENT = 0
    NEXT = 1
    IDLE = 2


class _CWaitObject(Structure):
    _fields_ = [("size", c_size_t), ("wait_block", c_uint64), ("object", c_uint64), ("type", c_int),
                ("raw_type", c_int32), ("type_name", c_char_p), ("signal_state", c_int32),
                ("wait_type", c_int32), ("wait_key", c_int32), ("block_state", c_int32),
                ("block_state_name", c_char_p), ("owner_address", c_uint64), ("owner", c_void_p),
                ("thread", c_void_p), ("process", c_void_p)]


class _CReadyEntry(Structure):
    _fields_ = [("size", c_size_t), ("thread", c_void_p), ("thread_address", c_uint64),
                ("priority", c_uint32), ("processor", c_int32), ("queue", c_uint64), ("ready_ms", c_int64)]


class _CProcessorDpc(Structure):
    _fields_ = [("size", c_size_t), ("routine", c_uint64), ("active_dpc", c_uint64), ("routine_active", c_int),
                ("time_count", c_int64), ("time_limit", c_int64), ("watchdog_period", c_int64),
                ("watchdog_count", c_int64)]


C_STRUCTS[_CWaitObject] = "khang_wait_object"
C_STRUCTS[_CReadyEntry] = "khang_ready_entry"
C_STRUCTS[_CProcessorDpc] = "khang_processor_dpc"

# ---- processors ---------------------------------------------------------------
_cpu_iter_new = ffi("processor_iter_new", [POINTER(handle), handle])
_cpu_next = ffi("processor_next", [POINTER(handle), handle], c_int, check_next)
_cpu_iter_free = ffi("processor_iter_free", [handle], None, None)
_cpu_iter_skipped = ffi("processor_iter_skipped", [handle], c_uint32, None)
_cpu_count = ffi("processor_count", [POINTER(c_uint32), handle])
_cpu_get = ffi("processor_get", [POINTER(handle), handle, c_uint32])
_cpu_index = ffi("processor_index", [handle], c_uint32, None)
_cpu_kpcr = ffi("processor_kpcr", [handle], c_uint64, None)
_cpu_kprcb = ffi("processor_kprcb", [handle], c_uint64, None)
_cpu_current = ffi("processor_current_thread_address", [handle], c_uint64, None)
_cpu_next_thread = ffi("processor_next_thread_address", [handle], c_uint64, None)
_cpu_idle_thread = ffi("processor_idle_thread_address", [handle], c_uint64, None)
_cpu_is_idle = ffi("processor_is_idle", [handle], c_int, None)
_cpu_irql = ffi("processor_irql", [handle], c_int, None)
_cpu_mhz = ffi("processor_mhz", [handle], c_int64, None)
_cpu_vendor = ffi("processor_vendor", [handle], c_char_p, None)
_cpu_family = ffi("processor_family", [handle], c_int64, None)
_cpu_model = ffi("processor_model", [handle], c_int64, None)
_cpu_stepping = ffi("processor_stepping", [handle], c_int64, None)
_cpu_feature_bits = ffi("processor_feature_bits", [handle], c_int64, None)
_cpu_group = ffi("processor_group", [handle], c_int64, None)
_cpu_group_index = ffi("processor_group_index", [handle], c_int64, None)
_cpu_interrupt_count = ffi("processor_interrupt_count", [handle], c_int64, None)
_cpu_ticks = ffi("processor_ticks", [handle, c_int], c_int64, None)
_cpu_dpc_depth = ffi("processor_dpc_queue_depth", [handle], c_int64, None)
_cpu_tdpc_depth = ffi("processor_threaded_dpc_queue_depth", [handle], c_int64, None)
_cpu_ready_summary = ffi("processor_ready_summary", [handle], c_int64, None)
_cpu_shared_ready_queue = ffi("processor_shared_ready_queue", [handle], c_uint64, None)
_cpu_dpc_info = ffi("processor_dpc_info", [POINTER(_CProcessorDpc), handle])
_ready_iter_new = ffi("ready_iter_new", [POINTER(handle), handle, c_void_p])
_ready_next = ffi("ready_next", [POINTER(_CReadyEntry), handle], c_int, check_next)
_ready_iter_skipped = ffi("ready_iter_skipped", [handle], c_uint32, None)
_ready_iter_free = ffi("ready_iter_free", [handle], None, None)

# ---- processes ------------------------------------------------------------------
_proc_iter_new = ffi("process_iter_new", [POINTER(handle), handle])
_proc_next = ffi("process_next", [POINTER(handle), handle], c_int, check_next)
_proc_iter_free = ffi("process_iter_free", [handle], None, None)
_proc_iter_skipped = ffi("process_iter_skipped", [handle], c_uint32, None)
_proc_by_pid = ffi("process_by_pid", [POINTER(handle), handle, c_uint64])
_proc_by_address = ffi("process_by_address", [POINTER(handle), handle, c_uint64])
_proc_address = ffi("process_address", [handle], c_uint64, None)
_proc_pid = ffi("process_pid", [handle], c_int64, None)
_proc_parent_pid = ffi("process_parent_pid", [handle], c_int64, None)
_proc_name = ffi("process_name", [handle], c_char_p, None)
_proc_image_path = ffi("process_image_path", [handle], c_char_p, None)
_proc_session = ffi("process_session_id", [handle], c_int64, None)
_proc_create_time = ffi("process_create_time", [handle], c_uint64, None)
_proc_dtb = ffi("process_dtb", [handle], c_uint64, None)
_proc_thread_count = ffi("process_thread_count", [handle], c_int64, None)
_proc_handle_count = ffi("process_handle_count", [handle], c_int64, None)
_proc_peb = ffi("process_peb", [handle], c_uint64, None)
_proc_exit_time = ffi("process_exit_time", [handle], c_uint64, None)
_proc_is_exiting = ffi("process_is_exiting", [handle], c_int, None)
_proc_is_gui = ffi("process_is_gui", [handle], c_int, None)
_proc_base_priority = ffi("process_base_priority", [handle], c_int64, None)
_proc_main_thread = ffi("process_main_thread", [POINTER(handle), handle])

# ---- threads ----------------------------------------------------------------------
_thr_iter_new = ffi("thread_iter_new", [POINTER(handle), handle, c_void_p])
_thr_next = ffi("thread_next", [POINTER(handle), handle], c_int, check_next)
_thr_iter_free = ffi("thread_iter_free", [handle], None, None)
_thr_iter_skipped = ffi("thread_iter_skipped", [handle], c_uint32, None)
_thr_by_tid = ffi("thread_by_tid", [POINTER(handle), handle, c_uint64])
_thr_by_address = ffi("thread_by_address", [POINTER(handle), handle, c_uint64])
_thr_process = ffi("thread_process", [POINTER(handle), handle], c_int, None)
_thr_irps = ffi("thread_irps", [POINTER(POINTER(c_uint64)), POINTER(c_size_t), handle])
_thr_wait_count = ffi("thread_wait_count", [handle])
_thr_wait_skipped = ffi("thread_wait_skipped", [handle], c_uint32, None)
_thr_wait_object = ffi("thread_wait_object", [POINTER(_CWaitObject), handle, c_size_t])
_dispatcher_type_name = ffi("dispatcher_type_name", [c_int], c_char_p, None)
_format_duration = ffi("format_duration", [c_char_p, c_size_t, c_int64])
_format_filetime = ffi("format_filetime", [c_char_p, c_size_t, c_uint64])


def _thr(name, restype):
    return ffi("thread_" + name, [handle], restype, None)


# (field, C accessor, result type, -1 means unknown)
_THREAD_ACCESSORS = [
    ("tid", "tid", c_int64, True), ("pid", "pid", c_int64, True),
    ("process_address", "process_address", c_uint64, False),
    ("state_name", "state_name", c_char_p, False),
    ("wait_reason_name", "wait_reason_name", c_char_p, False),
    ("wait_mode", "wait_mode", c_int, True), ("wait_irql", "wait_irql", c_int, True),
    ("wait_tick", "wait_tick", c_int64, True), ("wait_ms", "wait_ms", c_int64, True),
    ("priority", "priority", c_int, True), ("base_priority", "base_priority", c_int, True),
    ("processor", "processor", c_int64, True), ("ideal_processor", "ideal_processor", c_int64, True),
    ("context_switches", "context_switches", c_int64, True),
    ("kernel_ticks", "kernel_ticks", c_int64, True), ("user_ticks", "user_ticks", c_int64, True),
    ("kernel_ms", "kernel_ms", c_int64, True), ("user_ms", "user_ms", c_int64, True),
    ("suspend_count", "suspend_count", c_int, True),
    ("start_address", "start_address", c_uint64, False),
    ("win32_start_address", "win32_start_address", c_uint64, False),
    ("teb", "teb", c_uint64, False), ("stack_init", "stack_init", c_uint64, False),
    ("stack_base", "stack_base", c_uint64, False), ("stack_limit", "stack_limit", c_uint64, False),
    ("kernel_stack", "kernel_stack", c_uint64, False), ("win32_thread", "win32_thread", c_uint64, False),
    ("create_time", "create_time", c_uint64, False),
]
_THREAD_FLAGS = ["alertable", "is_system", "is_terminated", "is_gui"]
_thr_fns = {f: _thr(c, t) for f, c, t, _ in _THREAD_ACCESSORS}
_thr_flag_fns = {f: _thr(f, c_int) for f in _THREAD_FLAGS}
_thr_address = _thr("address", c_uint64)
_thr_state = _thr("state", c_int)
_thr_wait_reason = _thr("wait_reason", c_int)
_UNKNOWN_IS_MINUS_ONE = {f for f, _, _, m in _THREAD_ACCESSORS if m}


def _or_none(v):
    return None if v is None or v < 0 else v


def _flag(v):
    return None if v < 0 else bool(v)


def format_duration(ms):
    """``ms`` as libkhang writes a wait time ("0:00:01:05.250", "-" when
    None or negative; ``khang_format_duration``)."""
    from ctypes import create_string_buffer
    buf = create_string_buffer(64)
    _format_duration(buf, 64, -1 if ms is None else ms)
    return text(buf.value)


def format_filetime(filetime):
    """A FILETIME as "YYYY-MM-DD HH:MM:SS.mmm" UTC (``khang_format_filetime``)."""
    from ctypes import create_string_buffer
    buf = create_string_buffer(64)
    _format_filetime(buf, 64, filetime)
    return text(buf.value)


def dispatcher_type_name(t):
    """"SynchronizationEvent", "Mutant", ... (``khang_dispatcher_type_name``)."""
    return text(_dispatcher_type_name(int(t)))


# ---- snapshots ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class WaitObject:
    """One object a thread waits on (``khang_wait_object``). ``owner`` is a
    mutant's owner thread address (0 when free or unknown) and ``owner_tid``
    its TID; ``thread`` / ``process`` the address of a thread or process
    object waited on (0 otherwise). Unknown numbers are None."""
    wait_block: int
    object: int
    type: DispatcherType
    raw_type: object
    type_name: str
    signal_state: object
    wait_type: object
    wait_key: object
    block_state: object
    block_state_name: str
    owner: int
    owner_tid: object
    thread: int
    process: int


@dataclasses.dataclass(frozen=True)
class ReadyEntry:
    """A thread in a ready queue (``khang_ready_entry``): the thread, the
    queue's priority, the processor of a per-processor queue (None for a
    shared queue), the queue's address (KPRCB or KSHARED_READY_QUEUE) and how
    long it has been ready (ms, None if unknown)."""
    thread: "Thread"
    thread_address: int
    priority: int
    processor: object
    queue: int
    ready_ms: object

    @property
    def shared_queue(self):
        return self.processor is None


class ReadyList(list):
    """A list of :class:`ReadyEntry` with ``skipped``: ready-list entries that
    could not be read."""
    skipped = 0


@dataclasses.dataclass(frozen=True, eq=False)
class Thread:
    """A thread (ETHREAD), copied from the dump. ``state``/``wait_reason``
    are :class:`ThreadState`/:class:`WaitReason` (or a plain int the enum
    does not know, None when unknown); ``state_name``/``wait_reason_name``
    are WinDbg's names. Flags (``is_gui``, ``alertable``, ...) are None when
    unknown. Equal when the addresses are."""
    _dump: object = dataclasses.field(repr=False, compare=False)
    address: int
    tid: object
    pid: object
    process_address: int
    process_name: str
    state: object
    state_name: str
    wait_reason: object
    wait_reason_name: str
    wait_mode: object
    wait_irql: object
    wait_tick: object
    wait_ms: object
    priority: object
    base_priority: object
    processor: object
    ideal_processor: object
    context_switches: object
    kernel_ticks: object
    user_ticks: object
    kernel_ms: object
    user_ms: object
    suspend_count: object
    start_address: int
    win32_start_address: int
    teb: int
    stack_init: int
    stack_base: int
    stack_limit: int
    kernel_stack: int
    win32_thread: int
    create_time: int
    alertable: object
    is_system: object
    is_terminated: object
    is_gui: object
    irps: tuple

    def __eq__(self, other):
        return isinstance(other, Thread) and other.address == self.address

    def __hash__(self):
        return hash(self.address)

    def __repr__(self):
        return "<khang.Thread %s tid=%s %s 0x%x>" % (self.process_name, self.tid, self.state_name, self.address)

    @property
    def wait_time(self):
        """The wait time as libkhang writes it ("0:00:01:05.250", "-")."""
        return format_duration(self.wait_ms)

    def process(self):
        """The thread's :class:`Process` (None when it cannot be read)."""
        with self._dump._lock:
            return _process_or_none(self._dump, _proc_by_address, self.process_address)

    def wait_objects(self):
        """The objects the thread waits on, in wait-block order: a list of
        :class:`WaitObject` with ``skipped`` (wait blocks that could not be
        read)."""
        return wait_objects(self._dump, self.address)

    def stack(self, *, max_frames=0, flags=0):
        """The thread's call stack (:class:`~khang.Stack`, see
        :meth:`khang.Dump.thread_stack`)."""
        return _stack.walk_thread(self._dump, self.address, max_frames, flags)

    def alpc_wait(self):
        """The ALPC reply the thread waits for (:class:`~khang.AlpcWait`), or None."""
        from .alpc import thread_wait
        return thread_wait(self._dump, self)


@dataclasses.dataclass(frozen=True, eq=False)
class Process:
    """A process (EPROCESS), copied from the dump. Unknown numbers are None,
    unknown flags None. Equal when the addresses are."""
    _dump: object = dataclasses.field(repr=False, compare=False)
    address: int
    pid: object
    parent_pid: object
    name: str
    image_path: str
    session_id: object
    create_time: int
    exit_time: int
    dtb: int
    peb: int
    thread_count: object
    handle_count: object
    base_priority: object
    is_exiting: object
    is_gui: object

    def __eq__(self, other):
        return isinstance(other, Process) and other.address == self.address

    def __hash__(self):
        return hash(self.address)

    def __repr__(self):
        return "<khang.Process %s pid=%s 0x%x>" % (self.name, self.pid, self.address)

    def threads(self):
        """Iterate this process's threads (:class:`Thread`), in list order."""
        return threads(self._dump, self)

    def main_thread(self):
        """The process's first thread (:class:`Thread`), or None."""
        with self._dump._lock:
            p = handle()
            _proc_by_address(byref(p), self._dump._handle(), self.address)
            t = handle()
            try:
                _proc_main_thread(byref(t), p)
            except KhangError as e:
                if e.code == ENOTFOUND:
                    return None
                raise
            return make_thread(self._dump, t.value)

    def alpc_ports(self):
        """The ALPC ports this process owns (see :meth:`khang.Dump.alpc_ports`)."""
        from .alpc import ports
        return ports(self._dump, self)


@dataclasses.dataclass(frozen=True, eq=False)
class Processor:
    """A processor (KPCR/KPRCB), copied from the dump. Thread addresses are 0
    when the slot is empty; unknown numbers are None. ``ticks`` maps
    "kernel", "user", "dpc", "interrupt" to KPRCB's tick counts."""
    _dump: object = dataclasses.field(repr=False, compare=False)
    index: int
    kpcr: int
    kprcb: int
    current_thread_address: int
    next_thread_address: int
    idle_thread_address: int
    is_idle: object
    irql: object
    mhz: object
    vendor: str
    family: object
    model: object
    stepping: object
    feature_bits: object
    group: object
    group_index: object
    interrupt_count: object
    ticks: dict
    dpc_queue_depth: object
    threaded_dpc_queue_depth: object
    ready_summary: object
    shared_ready_queue: int
    #: what its DPC machinery was doing (:class:`ProcessorDpc`)
    dpc: object = None

    def __eq__(self, other):
        return isinstance(other, Processor) and other.kprcb == self.kprcb

    def __hash__(self):
        return hash(self.kprcb)

    def __repr__(self):
        return "<khang.Processor %d %s>" % (self.index, {True: "idle", False: "busy"}.get(self.is_idle, "?"))

    def _thread(self, address):
        if not address:
            return None
        return self._dump.thread_by_address(address)

    def current_thread(self):
        """The thread running on the processor (:class:`Thread`), or None."""
        return self._thread(self.current_thread_address)

    def next_thread(self):
        return self._thread(self.next_thread_address)

    def idle_thread(self):
        return self._thread(self.idle_thread_address)

    def ready_threads(self):
        """The threads ready to run on this processor (its queues and its
        shared queue): a :class:`ReadyList`."""
        return ready_threads(self._dump, self)


# ---- making snapshots (under the dump's lock) ----------------------------------------

def make_thread(dump, t):
    v = {f: fn(t) for f, fn in _thr_fns.items()}
    for f in _UNKNOWN_IS_MINUS_ONE:
        v[f] = _or_none(v[f])
    v["state_name"] = text(v["state_name"])
    v["wait_reason_name"] = text(v["wait_reason_name"])
    for f, fn in _thr_flag_fns.items():
        v[f] = _flag(fn(t))
    state = _thr_state(t)
    reason = _thr_wait_reason(t)
    v["state"] = None if state < 0 else enum_or_int(ThreadState, state)
    v["wait_reason"] = None if reason < 0 else enum_or_int(WaitReason, reason)
    p = handle()
    v["process_name"] = text(_proc_name(p)) if _thr_process(byref(p), t) == 0 and p.value else ""
    arr = POINTER(c_uint64)()
    n = c_size_t()
    try:
        _thr_irps(byref(arr), byref(n), t)
        v["irps"] = tuple(arr[i] for i in range(n.value))
    except KhangError:
        v["irps"] = ()
    return Thread(dump, _thr_address(t), **v)


def make_process(dump, p):
    return Process(
        dump, _proc_address(p), _or_none(_proc_pid(p)), _or_none(_proc_parent_pid(p)), text(_proc_name(p)),
        text(_proc_image_path(p)), _or_none(_proc_session(p)), _proc_create_time(p), _proc_exit_time(p),
        _proc_dtb(p), _proc_peb(p), _or_none(_proc_thread_count(p)), _or_none(_proc_handle_count(p)),
        _or_none(_proc_base_priority(p)), _flag(_proc_is_exiting(p)), _flag(_proc_is_gui(p)))


_TICKS = (("kernel", 0), ("user", 1), ("dpc", 2), ("interrupt", 3))


@dataclasses.dataclass(frozen=True)
class ProcessorDpc:
    """A processor's DPC state (``khang_processor_dpc``): the DPC routine
    running (``routine``, 0 none or unknown), the KDPC being run
    (``active_dpc``), whether a routine is active (True/False/None), and the
    DPC watchdog's counters in clock ticks (None when the kernel has no such
    field): the running DPC's ``time_count`` against ``time_limit``, and the
    cumulative ``watchdog_count`` against ``watchdog_period``."""
    routine: int
    active_dpc: int
    routine_active: object
    time_count: object
    time_limit: object
    watchdog_period: object
    watchdog_count: object


def _dpc_of(p):
    d = sized(_CProcessorDpc)
    _cpu_dpc_info(byref(d), p)
    return ProcessorDpc(d.routine, d.active_dpc, _flag(d.routine_active), _or_none(d.time_count),
                        _or_none(d.time_limit), _or_none(d.watchdog_period), _or_none(d.watchdog_count))


def make_processor(dump, p):
    return Processor(
        dump, _cpu_index(p), _cpu_kpcr(p), _cpu_kprcb(p), _cpu_current(p), _cpu_next_thread(p),
        _cpu_idle_thread(p), _flag(_cpu_is_idle(p)), _or_none(_cpu_irql(p)), _or_none(_cpu_mhz(p)),
        text(_cpu_vendor(p)), _or_none(_cpu_family(p)), _or_none(_cpu_model(p)), _or_none(_cpu_stepping(p)),
        _or_none(_cpu_feature_bits(p)), _or_none(_cpu_group(p)), _or_none(_cpu_group_index(p)),
        _or_none(_cpu_interrupt_count(p)), {k: _or_none(_cpu_ticks(p, w)) for k, w in _TICKS},
        _or_none(_cpu_dpc_depth(p)), _or_none(_cpu_tdpc_depth(p)), _or_none(_cpu_ready_summary(p)),
        _cpu_shared_ready_queue(p), _dpc_of(p))


def _lookup(dump, fn, key, make):
    """``make`` of what ``fn`` finds for ``key``, or None (ENOTFOUND)."""
    with dump._lock:
        h = handle()
        try:
            fn(byref(h), dump._handle(), key)
        except KhangError as e:
            if e.code == ENOTFOUND:
                return None
            raise
        return make(dump, h.value)


def _process_or_none(dump, fn, key):
    try:
        return _lookup(dump, fn, key, make_process)
    except KhangError as e:
        if e.code < 0 and not dump.closed:
            return None
        raise


# ---- what the Dump methods call ----------------------------------------------------------

def processors(dump):
    return HandleIterator(dump, _cpu_iter_new, _cpu_next, _cpu_iter_free, _cpu_iter_skipped, make_processor)


def processor(dump, index):
    return _lookup(dump, _cpu_get, index, make_processor)


def processor_count(dump):
    n = c_uint32()
    with dump._lock:
        _cpu_count(byref(n), dump._handle())
    return n.value


def processes(dump):
    return HandleIterator(dump, _proc_iter_new, _proc_next, _proc_iter_free, _proc_iter_skipped, make_process)


def process_by_pid(dump, pid):
    return _lookup(dump, _proc_by_pid, pid, make_process)


def process_by_address(dump, va):
    return _lookup(dump, _proc_by_address, va, make_process)


def _process_handle(dump, process):
    """The C handle of a process given as a Process (anything with an
    ``address``) or a PID."""
    p = handle()
    address = getattr(process, "address", None)
    if address is not None:
        _proc_by_address(byref(p), dump._handle(), address)
    elif isinstance(process, int):
        _proc_by_pid(byref(p), dump._handle(), process)
    else:
        raise TypeError("process must be a khang.Process or a PID")
    return p.value


def threads(dump, process=None):
    with dump._lock:
        ph = _process_handle(dump, process) if process is not None else None
        return HandleIterator(dump, _thr_iter_new, _thr_next, _thr_iter_free, _thr_iter_skipped, make_thread, ph)


def thread_by_tid(dump, tid):
    return _lookup(dump, _thr_by_tid, tid, make_thread)


def thread_by_address(dump, va):
    return _lookup(dump, _thr_by_address, va, make_thread)


class WaitList(list):
    """A list of :class:`WaitObject` with ``skipped``."""
    skipped = 0


def wait_objects(dump, thread_va):
    out = WaitList()
    with dump._lock:
        t = handle()
        _thr_by_address(byref(t), dump._handle(), thread_va)
        n = _thr_wait_count(t)
        w = sized(_CWaitObject)
        for i in range(n):
            _thr_wait_object(byref(w), t, i)
            owner_tid = _or_none(_thr_fns["tid"](w.owner)) if w.owner else None
            out.append(WaitObject(
                w.wait_block, w.object, enum_or_int(DispatcherType, w.type), _or_none(w.raw_type),
                text(w.type_name), w.signal_state if w.raw_type >= 0 else None, _or_none(w.wait_type),
                _or_none(w.wait_key), _or_none(w.block_state), text(w.block_state_name), w.owner_address,
                owner_tid, _thr_address(w.thread) if w.thread else 0,
                _proc_address(w.process) if w.process else 0))
        out.skipped = _thr_wait_skipped(t)
    return out


def ready_threads(dump, processor=None):
    out = ReadyList()
    with dump._lock:
        cpu = None
        if processor is not None:
            index = getattr(processor, "index", processor)
            h = handle()
            _cpu_get(byref(h), dump._handle(), index)
            cpu = h.value
        it = handle()
        _ready_iter_new(byref(it), dump._handle(), cpu)
        try:
            e = sized(_CReadyEntry)
            while _ready_next(byref(e), it) != ITEROVER:
                th = make_thread(dump, e.thread) if e.thread else None
                out.append(ReadyEntry(th, e.thread_address, e.priority,
                                      None if e.processor < 0 else e.processor, e.queue, _or_none(e.ready_ms)))
            out.skipped = _ready_iter_skipped(it)
        finally:
            _ready_iter_free(it)
    return out
