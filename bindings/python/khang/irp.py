"""I/O request packets (khang/irp.h), like WinDbg's ``!irp``.

::

    with khang.open("MEMORY.DMP") as dump:
        t = dump.thread_by_tid(0x40c)
        for va in t.irps:
            irp = dump.irp(va)
            print(hex(irp.address), irp.major_name, irp.driver_name, irp.module)
            for loc in irp.locations:
                print(">" if loc.current else " ", loc.index, loc.major_name, loc.driver_name)

An :class:`Irp` is a snapshot copied when it is read.
"""

import dataclasses
from ctypes import POINTER, Structure, byref, c_char, c_char_p, c_int, c_int32, c_size_t, c_uint, c_uint8, \
    c_uint32, c_uint64

from ._ffi import ffi, handle, text
from ._types import C_STRUCTS, sized


class _CIrp(Structure):
    _fields_ = [("size", c_size_t), ("address", c_uint64), ("thread", c_uint64), ("file_object", c_uint64),
                ("flags", c_uint32), ("status", c_int32), ("stack_count", c_int), ("current_location", c_int),
                ("cancel", c_int), ("pending_returned", c_int), ("major", c_uint8), ("minor", c_uint8),
                ("device", c_uint64), ("driver", c_uint64), ("driver_name", c_char * 64), ("module", c_char * 64)]


class _CIrpLocation(Structure):
    _fields_ = [("size", c_size_t), ("address", c_uint64), ("index", c_uint32), ("current", c_int),
                ("major", c_uint8), ("minor", c_uint8), ("flags", c_uint8), ("control", c_uint8),
                ("device", c_uint64), ("driver", c_uint64), ("driver_name", c_char * 64), ("module", c_char * 64),
                ("file_object", c_uint64), ("completion_routine", c_uint64), ("context", c_uint64),
                ("power_type", c_int), ("power_state", c_int), ("power_action", c_int)]


C_STRUCTS[_CIrp] = "khang_irp"
C_STRUCTS[_CIrpLocation] = "khang_irp_location"

_irp_read = ffi("irp_read", [POINTER(_CIrp), handle, c_uint64])
_irp_location_read = ffi("irp_location_read", [POINTER(_CIrpLocation), handle, c_uint64, c_uint32])
_major_name = ffi("irp_major_name", [c_uint], c_char_p, None)
_minor_name = ffi("irp_minor_name", [c_uint, c_uint], c_char_p, None)
_power_state_name = ffi("power_state_name", [c_int, c_int], c_char_p, None)


def major_name(major):
    """"IRP_MJ_POWER" for 0x16 (``khang_irp_major_name``)."""
    return text(_major_name(major))


def minor_name(major, minor):
    """"IRP_MN_SET_POWER" for (0x16, 2); "" for other majors or an unknown minor."""
    return text(_minor_name(major, minor))


def power_state_name(kind, state):
    """"S3 (sleeping)" for (0, 4), "D3" for (1, 4)."""
    return text(_power_state_name(kind, state))


def _flag(v):
    return None if v < 0 else bool(v)


@dataclasses.dataclass(frozen=True)
class IrpLocation:
    """One stack location (``khang_irp_location``). ``power_kind`` is
    "system" or "device" and ``power_state`` a name such as "S4 (hibernate)"
    or "D3" for IRP_MN_SET_POWER / IRP_MN_QUERY_POWER requests, else None."""
    address: int
    index: int
    current: bool
    major: int
    minor: int
    major_name: str
    minor_name: str
    flags: int
    control: int
    device: int
    driver: int
    driver_name: str
    module: str
    file_object: int
    completion_routine: int
    context: int
    power_kind: object
    power_state: object
    power_action: object


@dataclasses.dataclass(frozen=True)
class Irp:
    """An IRP (``khang_irp``) and the driver it is pending in: ``device``,
    ``driver``, ``driver_name`` ("\\\\Driver\\\\disk") and ``module``
    ("disk.sys") of its current stack location ("" / 0 when unknown), and
    all its ``locations``. ``cancel`` and ``pending_returned`` are None when
    unknown; ``status`` is IoStatus.Status (0x103 while pending)."""
    address: int
    thread: int
    file_object: int
    flags: int
    status: int
    stack_count: int
    current_location: int
    cancel: object
    pending_returned: object
    major: int
    minor: int
    major_name: str
    minor_name: str
    device: int
    driver: int
    driver_name: str
    module: str
    locations: tuple


def read(dump, va):
    """What :meth:`khang.Dump.irp` returns."""
    with dump._lock:
        src = dump._handle()
        c = sized(_CIrp)
        _irp_read(byref(c), src, va)
        locs = []
        for i in range(1, c.stack_count + 1):
            cl = sized(_CIrpLocation)
            _irp_location_read(byref(cl), src, va, i)
            power = cl.power_state >= 0
            locs.append(IrpLocation(
                cl.address, cl.index, bool(cl.current), cl.major, cl.minor, major_name(cl.major),
                minor_name(cl.major, cl.minor), cl.flags, cl.control, cl.device, cl.driver, text(cl.driver_name),
                text(cl.module), cl.file_object, cl.completion_routine, cl.context,
                ("device" if cl.power_type == 1 else "system") if power else None,
                power_state_name(cl.power_type, cl.power_state) if power else None,
                cl.power_action if power else None))
        return Irp(c.address, c.thread, c.file_object, c.flags, c.status, c.stack_count, c.current_location,
                   _flag(c.cancel), _flag(c.pending_returned), c.major, c.minor, major_name(c.major),
                   minor_name(c.major, c.minor), c.device, c.driver, text(c.driver_name), text(c.module),
                   tuple(locs))
