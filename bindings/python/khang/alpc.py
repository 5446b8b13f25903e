"""ALPC ports and ALPC waits (khang/alpc.h).

::

    with khang.open("MEMORY.DMP") as dump:
        for w in dump.alpc_waits():               # like !lpcwait
            print(w.process.name, "waits", w.wait_ms, "ms on", w.server_process.name,
                  w.connection_name, "server thread:", w.server_thread)
        for p in dump.alpc_ports("explorer.exe"):  # like !alpc /lpp
            print(hex(p.address), p.kind.name, p.name or p.connection_name)

Everything is read when asked for and returned as plain values (the C
iterators are freed before the call returns), so the results outlive the
dump. A process or thread is named by a :class:`ProcessRef` or
:class:`ThreadRef`, which can ask the dump for more while it is open:
``w.server_process.alpc_ports()``, ``w.thread.alpc_wait()``.
"""

import dataclasses
import enum
from ctypes import (POINTER, Structure, byref, c_char_p, c_int, c_int32, c_int64, c_size_t, c_uint32,
                    c_uint64, c_void_p, create_string_buffer)

from ._ffi import _last_error, check_next, ffi, handle, text
from ._types import C_STRUCTS, enum_or_int, sized
from .errors import ENOTFOUND, ITEROVER, KhangError


class AlpcKind(enum.IntEnum):
    """What a port is within its connection (``khang_alpc_kind``)."""
    UNKNOWN = 0
    CONNECTION = 1
    SERVER_COMMUNICATION = 2
    CLIENT_COMMUNICATION = 3


class AlpcQueue(enum.IntEnum):
    """The queues of a port (``khang_alpc_queue``)."""
    MAIN = 0
    PENDING = 1
    LARGE_MESSAGE = 2
    WAIT = 3
    CANCELED = 4
    DIRECT = 5


class _CConnection(Structure):
    _fields_ = [("size", c_size_t), ("communication_info", c_uint64), ("server_port", c_uint64),
                ("client_port", c_uint64), ("server_queued", c_int64), ("client_queued", c_int64),
                ("server_process_address", c_uint64), ("server_process", c_void_p),
                ("client_process_address", c_uint64), ("client_process", c_void_p)]


class _CWait(Structure):
    _fields_ = [("size", c_size_t), ("thread", c_void_p), ("thread_address", c_uint64),
                ("client_process_address", c_uint64), ("client_process", c_void_p), ("wait_ms", c_int64),
                ("message", c_uint64), ("message_id", c_uint64), ("message_ok", c_int32),
                ("queue_port_kind", c_int), ("queue_port", c_uint64), ("owner_port", c_uint64),
                ("connection_port", c_uint64), ("server_process_address", c_uint64),
                ("server_process", c_void_p), ("server_thread_address", c_uint64),
                ("server_thread", c_void_p)]


C_STRUCTS[_CConnection] = "khang_alpc_connection"
C_STRUCTS[_CWait] = "khang_alpc_wait"

_kind_name = ffi("alpc_kind_name", [c_int], c_char_p, None)
_queue_name = ffi("alpc_queue_name", [c_int], c_char_p, None)
_port_iter_new = ffi("alpc_port_iter_new", [POINTER(handle), handle, c_void_p])
_port_next = ffi("alpc_port_next", [POINTER(handle), handle], c_int, check_next)
_port_iter_free = ffi("alpc_port_iter_free", [handle], None, None)
_port_iter_skipped = ffi("alpc_port_iter_skipped", [handle], c_uint32, None)
_port_address = ffi("alpc_port_address", [c_void_p], c_uint64, None)
_port_name = ffi("alpc_port_name", [c_void_p], c_char_p, None)
_port_kind = ffi("alpc_port_kind", [c_void_p], c_int, None)
_port_owner_address = ffi("alpc_port_owner_address", [c_void_p], c_uint64, None)
_port_owner = ffi("alpc_port_owner", [POINTER(c_void_p), c_void_p], c_int, None)
_port_ci = ffi("alpc_port_communication_info", [c_void_p], c_uint64, None)
_port_connection = ffi("alpc_port_connection_port", [c_void_p], c_uint64, None)
_port_server = ffi("alpc_port_server_port", [c_void_p], c_uint64, None)
_port_client = ffi("alpc_port_client_port", [c_void_p], c_uint64, None)
_port_connection_name = ffi("alpc_port_connection_name", [c_void_p], c_char_p, None)
_port_server_process_address = ffi("alpc_port_server_process_address", [c_void_p], c_uint64, None)
_port_server_process = ffi("alpc_port_server_process", [POINTER(c_void_p), c_void_p], c_int, None)
_port_queue_length = ffi("alpc_port_queue_length", [c_void_p, c_int], c_int64, None)
_port_queued = ffi("alpc_port_queued", [c_void_p], c_int64, None)
_port_connection_queued = ffi("alpc_port_connection_queued", [c_void_p], c_int64, None)
_port_queue = ffi("alpc_port_queue", [POINTER(POINTER(c_uint64)), POINTER(c_size_t), c_void_p, c_int], c_int, None)
_port_is_closed = ffi("alpc_port_is_closed", [c_void_p], c_int, None)
_port_is_disconnected = ffi("alpc_port_is_disconnected", [c_void_p], c_int, None)
_port_skipped = ffi("alpc_port_skipped", [c_void_p], c_uint32, None)
_port_connection_count = ffi("alpc_port_connection_count", [c_void_p])
_port_connection_at = ffi("alpc_port_connection", [POINTER(_CConnection), c_void_p, c_size_t])
_port_name_at = ffi("alpc_port_name_at", [c_char_p, c_size_t, handle, c_uint64])
_thread_alpc_wait = ffi("thread_alpc_wait", [POINTER(_CWait), c_void_p], c_int, None)
_wait_iter_new = ffi("alpc_wait_iter_new", [POINTER(handle), handle])
_wait_next = ffi("alpc_wait_next", [POINTER(_CWait), handle], c_int, check_next)
_wait_iter_free = ffi("alpc_wait_iter_free", [handle], None, None)
_wait_iter_skipped = ffi("alpc_wait_iter_skipped", [handle], c_uint32, None)
_process_by_pid = ffi("process_by_pid", [POINTER(c_void_p), handle, c_uint64])
_process_by_address = ffi("process_by_address", [POINTER(c_void_p), handle, c_uint64])
_process_iter_new = ffi("process_iter_new", [POINTER(handle), handle])
_process_next = ffi("process_next", [POINTER(c_void_p), handle], c_int, check_next)
_process_iter_free = ffi("process_iter_free", [handle], None, None)
_process_address = ffi("process_address", [c_void_p], c_uint64, None)
_process_name = ffi("process_name", [c_void_p], c_char_p, None)
_process_pid = ffi("process_pid", [c_void_p], c_int64, None)
_thread_by_address = ffi("thread_by_address", [POINTER(c_void_p), handle, c_uint64])
_thread_address = ffi("thread_address", [c_void_p], c_uint64, None)
_thread_tid = ffi("thread_tid", [c_void_p], c_int64, None)
_thread_pid = ffi("thread_pid", [c_void_p], c_int64, None)


def kind_name(kind):
    """"connection", "server", "client" or "unknown" (``khang_alpc_kind_name``)."""
    return text(_kind_name(int(kind)))


def queue_name(queue):
    """"main", "pending", "large-message", "wait", "canceled" or "direct"."""
    return text(_queue_name(int(queue)))


def _or_none(v):
    return None if v < 0 else v


def _flag(v):
    return None if v < 0 else bool(v)


class ProcessRef:
    """A process as the ALPC views name it: ``address``, ``name``, ``pid``
    (None when unknown). Equal when the addresses are."""

    __slots__ = ("_dump", "address", "name", "pid")

    def __init__(self, dump, address, name, pid):
        self._dump = dump
        self.address = address
        self.name = name
        self.pid = pid

    def alpc_ports(self):
        """The ALPC ports this process owns (see :meth:`khang.Dump.alpc_ports`)."""
        return ports(self._dump, self)

    def __eq__(self, other):
        return isinstance(other, ProcessRef) and other.address == self.address

    def __hash__(self):
        return hash(self.address)

    def __repr__(self):
        return "<khang.ProcessRef %s pid=%s 0x%x>" % (self.name, self.pid, self.address)


class ThreadRef:
    """A thread as the ALPC views name it: ``address``, ``tid`` (None when
    unknown). Equal when the addresses are."""

    __slots__ = ("_dump", "address", "tid")

    def __init__(self, dump, address, tid):
        self._dump = dump
        self.address = address
        self.tid = tid

    def alpc_wait(self):
        """The ALPC reply this thread waits for (:class:`AlpcWait`), or None."""
        return thread_wait(self._dump, self)

    def __eq__(self, other):
        return isinstance(other, ThreadRef) and other.address == self.address

    def __hash__(self):
        return hash(self.address)

    def __repr__(self):
        return "<khang.ThreadRef tid=%s 0x%x>" % (self.tid, self.address)


def _process_ref(dump, address, ptr):
    if not address:
        return None
    if not ptr:
        return ProcessRef(dump, address, None, None)
    return ProcessRef(dump, address, text(_process_name(ptr)), _or_none(_process_pid(ptr)))


def _thread_ref(dump, address, ptr):
    if not address:
        return None
    return ThreadRef(dump, address, _or_none(_thread_tid(ptr)) if ptr else None)


@dataclasses.dataclass(frozen=True)
class AlpcConnection:
    """One connection to a connection port (``khang_alpc_connection``)."""
    communication_info: int
    server_port: int
    client_port: int
    server_queued: object       # int, or None when unknown
    client_queued: object
    server_process: object      # ProcessRef or None
    client_process: object


@dataclasses.dataclass(frozen=True)
class AlpcPort:
    """One ALPC port and what the dump says of it."""
    address: int
    name: str                   # "" for an unnamed port
    kind: AlpcKind
    owner: object               # ProcessRef or None
    communication_info: int
    connection_port: int
    connection_name: str
    server_port: int
    client_port: int
    server_process: object      # the owner of the connection port (ProcessRef or None)
    queued: object              # int or None
    connection_queued: object   # int or None
    queue_lengths: dict         # queue name -> recorded length (None when unknown)
    queues: dict                # queue name -> tuple of entry addresses (None: no such queue)
    closed: object              # bool or None
    disconnected: object
    connections: tuple          # AlpcConnection, for a connection port
    skipped: int                # damaged parts of the port skipped


@dataclasses.dataclass(frozen=True)
class AlpcWait:
    """A thread waiting for an ALPC reply, and for whom (``khang_alpc_wait``)."""
    thread: ThreadRef
    process: object             # the client process, ProcessRef or None
    wait_ms: object             # int or None
    message: int
    message_id: int
    message_ok: bool
    queue_port: int
    queue_port_kind: AlpcKind
    owner_port: int
    connection_port: int
    connection_name: str
    server_process: object      # ProcessRef or None
    server_thread: object       # ThreadRef, or None while no server thread has taken the message
    server_thread_address: int


class PortList(list):
    """A list of :class:`AlpcPort` with ``skipped``: damaged entries of the
    port list that were skipped."""
    skipped = 0


class WaitList(list):
    """A list of :class:`AlpcWait` with ``skipped`` (see
    ``khang_alpc_wait_iter_skipped``)."""
    skipped = 0


def _name_at(dump, va):
    if not va:
        return ""
    buf = create_string_buffer(256)
    n = _port_name_at(buf, 256, dump._handle(), va)
    if n >= 256:
        buf = create_string_buffer(n + 1)
        _port_name_at(buf, n + 1, dump._handle(), va)
    return text(buf.value)


def _read_port(dump, p):
    owner = c_void_p()
    server = c_void_p()
    owner_address = _port_owner_address(p)
    server_address = _port_server_process_address(p)
    _port_owner(byref(owner), p)
    _port_server_process(byref(server), p)
    lengths, queues = {}, {}
    for q in AlpcQueue:
        name = queue_name(q)
        lengths[name] = _or_none(_port_queue_length(p, int(q)))
        v = POINTER(c_uint64)()
        n = c_size_t()
        rc = _port_queue(byref(v), byref(n), p, int(q))
        if rc == 0:
            queues[name] = tuple(v[i] for i in range(n.value))
        elif rc == ENOTFOUND:
            queues[name] = None
        else:
            raise _last_error(rc)
    conns = []
    for i in range(_port_connection_count(p)):
        c = sized(_CConnection)
        _port_connection_at(byref(c), p, i)
        conns.append(AlpcConnection(c.communication_info, c.server_port, c.client_port,
                                    _or_none(c.server_queued), _or_none(c.client_queued),
                                    _process_ref(dump, c.server_process_address, c.server_process),
                                    _process_ref(dump, c.client_process_address, c.client_process)))
    return AlpcPort(
        address=_port_address(p), name=text(_port_name(p)),
        kind=enum_or_int(AlpcKind, _port_kind(p)),
        owner=_process_ref(dump, owner_address, owner.value),
        communication_info=_port_ci(p), connection_port=_port_connection(p),
        connection_name=text(_port_connection_name(p)), server_port=_port_server(p),
        client_port=_port_client(p), server_process=_process_ref(dump, server_address, server.value),
        queued=_or_none(_port_queued(p)), connection_queued=_or_none(_port_connection_queued(p)),
        queue_lengths=lengths, queues=queues, closed=_flag(_port_is_closed(p)),
        disconnected=_flag(_port_is_disconnected(p)), connections=tuple(conns),
        skipped=_port_skipped(p))


def _find_processes(dump, process):
    """C handles of the processes given as a ProcessRef (or anything with an
    ``address``), a PID (int) or an image name (str, case-insensitive: every
    process of that name)."""
    ptr = c_void_p()
    address = getattr(process, "address", None)
    if address is not None:
        _process_by_address(byref(ptr), dump._handle(), address)
        return [ptr.value]
    if isinstance(process, int):
        _process_by_pid(byref(ptr), dump._handle(), process)
        return [ptr.value]
    if isinstance(process, str):
        found = []
        it = handle()
        _process_iter_new(byref(it), dump._handle())
        try:
            while _process_next(byref(ptr), it) != ITEROVER:
                if text(_process_name(ptr)).lower() == process.lower():
                    found.append(ptr.value)
        finally:
            _process_iter_free(it)
        if not found:
            raise KhangError(ENOTFOUND, "no process named '%s'" % process)
        return found
    raise TypeError("process must be a PID, an image name or a ProcessRef")


def ports(dump, process=None):
    """Every ALPC port of the system, or of a process (a PID, a
    :class:`ProcessRef`, or an image name: every process of that name), in
    the order of the kernel's port list: a :class:`PortList` of
    :class:`AlpcPort`."""
    out = PortList()
    with dump._lock:
        procs = _find_processes(dump, process) if process is not None else [None]
        for proc in procs:
            it = handle()
            _port_iter_new(byref(it), dump._handle(), proc)
            try:
                p = c_void_p()
                while _port_next(byref(p), it) != ITEROVER:
                    out.append(_read_port(dump, p.value))
                out.skipped += _port_iter_skipped(it)
            finally:
                _port_iter_free(it)
    return out


def _wait(dump, w):
    return AlpcWait(
        thread=_thread_ref(dump, w.thread_address, w.thread),
        process=_process_ref(dump, w.client_process_address, w.client_process),
        wait_ms=_or_none(w.wait_ms), message=w.message, message_id=w.message_id,
        message_ok=bool(w.message_ok), queue_port=w.queue_port,
        queue_port_kind=enum_or_int(AlpcKind, w.queue_port_kind), owner_port=w.owner_port,
        connection_port=w.connection_port, connection_name=_name_at(dump, w.connection_port),
        server_process=_process_ref(dump, w.server_process_address, w.server_process),
        server_thread=_thread_ref(dump, w.server_thread_address, w.server_thread),
        server_thread_address=w.server_thread_address)


def waits(dump):
    """Every thread waiting for an ALPC reply (like !lpcwait), grouped by
    server process and connection port: a :class:`WaitList` of
    :class:`AlpcWait`."""
    out = WaitList()
    with dump._lock:
        it = handle()
        _wait_iter_new(byref(it), dump._handle())
        try:
            w = sized(_CWait)
            while _wait_next(byref(w), it) != ITEROVER:
                out.append(_wait(dump, w))
            out.skipped = _wait_iter_skipped(it)
        finally:
            _wait_iter_free(it)
    return out


def thread_wait(dump, thread):
    """The ALPC reply a thread (its address, or anything with an
    ``address``) waits for, as an :class:`AlpcWait`; None when it does not
    wait for one."""
    address = getattr(thread, "address", thread)
    with dump._lock:
        t = c_void_p()
        _thread_by_address(byref(t), dump._handle(), address)
        w = sized(_CWait)
        rc = _thread_alpc_wait(byref(w), t)
        if rc == ENOTFOUND:
            return None
        if rc < 0:
            raise _last_error(rc)
        return _wait(dump, w)
