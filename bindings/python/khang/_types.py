"""ctypes mirrors of the public C structures and enums (internal).

The structures that start with ``size`` may be a prefix of the C structure:
the library reads and writes only ``size`` bytes. The tests compare every
offset here with the C compiler's, and the sizes, so a field added to a C
structure must be added here too.
"""

import enum
from ctypes import (Structure, c_char, c_char_p, c_int, c_size_t, c_uint32,
                    c_uint64, c_void_p, sizeof)


class Arch(enum.IntEnum):
    """Processor architecture of the dumped system (``khang_arch``)."""
    UNKNOWN = 0
    X86 = 1
    X64 = 2
    ARM64 = 3


class DumpType(enum.IntEnum):
    """The header's DumpType (``khang_dump_type``)."""
    UNKNOWN = 0
    FULL = 1
    SUMMARY = 2
    HEADER = 3
    TRIAGE = 4
    BITMAP_FULL = 5
    BITMAP_KERNEL = 6
    AUTOMATIC = 7
    RDMP_8 = 8
    RDMP_9 = 9
    RDMP_A = 10


class LayoutCheck(enum.IntEnum):
    """How the kernel layout was validated (``khang_layout_check``)."""
    NONE = 0
    PASSED = 1
    PARTIAL = 2
    FAILED = 3


class LayoutSource(enum.IntEnum):
    """Where a layout comes from (``khang_layout_source``)."""
    INVALID = 0
    BUILTIN_GUID = 1
    BUILTIN_BUILD = 2
    BUILTIN_PARTIAL = 3
    ISF = 4


# khang_source_flags
SOURCE_NO_MMAP = 1 << 0
SOURCE_QUIET_TRUNCATION = 1 << 1


def enum_or_int(cls, value):
    try:
        return cls(value)
    except ValueError:
        return value


class SourceOpts(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("flags", c_uint32),
        ("allocator", c_void_p),        # allocation hooks: not offered in Python
        ("tlb_entries", c_uint32),
        ("layout", c_void_p),
        ("max_list_entries", c_uint32),
        ("image_path", c_char_p),
    ]


class SourceInfo(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("arch", c_int),
        ("dump_type", c_int),
        ("machine_type", c_uint32),
        ("major_version", c_uint32),
        ("build", c_uint32),
        ("processors", c_uint32),
        ("pae", c_int),
        ("bugcheck_code", c_uint32),
        ("bugcheck_params", c_uint64 * 4),
        ("dtb", c_uint64),
        ("pfn_database", c_uint64),
        ("ps_loaded_module_list", c_uint64),
        ("ps_active_process_head", c_uint64),
        ("kd_debugger_data_block", c_uint64),
        ("system_time", c_uint64),
        ("system_uptime", c_uint64),
        ("product_type", c_uint32),
        ("suite_mask", c_uint32),
        ("file_size", c_uint64),
        ("pages_indexed", c_uint64),
        ("pages_missing", c_uint64),
        ("max_pfn", c_uint64),
        ("header_size", c_uint32),
        ("warnings", c_uint32),
        ("comment", c_char * 129),
    ]


class TriageInfo(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("processor", c_uint32),
        ("prcb", c_uint64),
        ("thread", c_uint64),
        ("process", c_uint64),
        ("top_of_stack", c_uint64),
        ("stack_size", c_uint32),
        ("data_blocks", c_uint32),
        ("drivers", c_uint32),
        ("size_of_dump", c_uint32),
        ("triage_options", c_uint32),
    ]


class TlbStats(Structure):
    _fields_ = [
        ("hits", c_uint64),
        ("misses", c_uint64),
    ]


class KernelInfo(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("base", c_uint64),
        ("image_size", c_uint32),
        ("has_pdb", c_int),
        ("pdb_name", c_char * 64),
        ("pdb_id", c_char * 48),
        ("kdbg_address", c_uint64),
        ("kdbg_valid", c_int),
        ("kdbg_was_encoded", c_int),
        ("layout", c_void_p),
        ("check", c_int),
        ("layout_note", c_char * 256),
        ("ki_processor_block", c_uint64),
        ("ps_active_process_head", c_uint64),
        ("ps_loaded_module_list", c_uint64),
        ("processors", c_uint32),
        ("tick_count", c_uint64),
        ("tick_multiplier", c_uint32),
        ("time_increment", c_uint32),
    ]


class UnloadedDriver(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("name", c_char * 64),
        ("start", c_uint64),
        ("end", c_uint64),
        ("unload_time", c_uint64),
    ]


def sized(cls):
    """A zeroed instance with ``size`` set (the C *_INIT macros)."""
    s = cls()
    s.size = sizeof(cls)
    return s


#: The structures the tests compare with C: Python class -> C type name
#: (khang.stack adds its own).
C_STRUCTS = {
    SourceOpts: "khang_source_opts",
    SourceInfo: "khang_source_info",
    TriageInfo: "khang_triage_info",
    TlbStats: "khang_tlb_stats",
    KernelInfo: "khang_kernel_info",
    UnloadedDriver: "khang_unloaded_driver",
}
