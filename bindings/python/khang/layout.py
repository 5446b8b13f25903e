"""Kernel structure layouts (khang/layout.h)."""

import os
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_uint32, create_string_buffer

from ._ffi import ffi, handle, text
from ._types import Arch, LayoutSource, enum_or_int
from .errors import EINVAL, ENOTFOUND, KhangError

_load_isf = ffi("layout_load_isf", [POINTER(handle), c_char_p])
_load_isf_memory = ffi("layout_load_isf_memory", [POINTER(handle), c_char_p, c_size_t])
_builtin = ffi("layout_builtin", [POINTER(handle), c_char_p, c_uint32])
_free = ffi("layout_free", [handle], None, None)
_description = ffi("layout_description", [handle], c_char_p, None)
_source_kind = ffi("layout_source_kind", [handle], c_int, None)
_arch = ffi("layout_arch", [handle], c_int, None)
_build = ffi("layout_build", [handle], c_uint32, None)
_guid = ffi("layout_guid", [handle, c_char_p, c_size_t])
_symbol_count = ffi("layout_symbol_count", [handle], c_size_t, None)


class Layout:
    """Where the fields of one Windows kernel's structures lie.

    Built-in layouts (:meth:`builtin`, :attr:`KernelInfo.layout`) are
    borrowed and static. Layouts loaded from a Volatility 3 ISF file
    (:meth:`load_isf`, :meth:`from_isf_bytes`) belong to this object; pass one
    to :func:`khang.open` for a kernel the library does not know. Closing it
    (or leaving a ``with`` block) frees it, once no open dump uses it.
    Layout objects may be shared between threads.
    """

    def __init__(self, ptr, owned, keep=None):
        self._ptr = ptr
        self._owned = owned
        self._keep = keep        # what a borrowed layout lives in
        self._users = 0          # open dumps using it

    @classmethod
    def load_isf(cls, path):
        """Load an ISF file (.json or .json.xz)."""
        p = handle()
        _load_isf(byref(p), os.fsencode(path))
        return cls(p.value, True)

    @classmethod
    def from_isf_bytes(cls, data):
        """Load an ISF document held in memory (JSON or xz-compressed JSON)."""
        data = bytes(data)
        p = handle()
        _load_isf_memory(byref(p), data, len(data))
        return cls(p.value, True)

    @classmethod
    def builtin(cls, pdb_guid, age):
        """The built-in layout of a kernel by PDB GUID and age, or None."""
        p = handle()
        try:
            _builtin(byref(p), pdb_guid.encode(), age)
        except KhangError as e:
            if e.code == ENOTFOUND:
                return None
            raise
        return cls(p.value, False)

    def _handle(self):
        if not self._ptr:
            raise KhangError(EINVAL, "layout is closed")
        return self._ptr

    def close(self):
        """Free a layout loaded from ISF (nothing for built-in ones)."""
        if self._users:
            raise KhangError(EINVAL, "layout is used by %d open dump(s)" % self._users)
        if self._ptr and self._owned:
            _free(self._ptr)
        self._ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_owned", False) and self._ptr and not self._users:
            _free(self._ptr)
            self._ptr = None

    @property
    def description(self):
        """One line, e.g. "10.0.19041.804"."""
        return text(_description(self._handle()))

    @property
    def source(self):
        """A :class:`LayoutSource`: built in (by GUID or build) or ISF."""
        return enum_or_int(LayoutSource, _source_kind(self._handle()))

    @property
    def arch(self):
        return enum_or_int(Arch, _arch(self._handle()))

    @property
    def build(self):
        """Windows build number (0 when unknown)."""
        return _build(self._handle())

    @property
    def guid(self):
        """The kernel's PDB identity "GUID-age", or None for by-build tables."""
        buf = create_string_buffer(64)
        try:
            _guid(self._handle(), buf, len(buf))
        except KhangError as e:
            if e.code == ENOTFOUND:
                return None
            raise
        return text(buf.value)

    @property
    def symbol_count(self):
        return _symbol_count(self._handle())

    def __eq__(self, other):
        return isinstance(other, Layout) and self._ptr == other._ptr and self._ptr is not None

    def __hash__(self):
        return hash(self._ptr)

    def __repr__(self):
        if not self._ptr:
            return "<khang.Layout closed>"
        src = self.source
        return "<khang.Layout %s (%s)>" % (self.description,
                                            src.name.lower() if isinstance(src, LayoutSource) else src)
