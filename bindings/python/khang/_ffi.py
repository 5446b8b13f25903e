"""Loading libkhang and declaring its functions (internal).

Every C function the package calls is declared once, with ``ffi()``: its
argument types, result type and error check. A function the loaded library
does not have (an older libkhang) is declared as a stub that raises
``KhangError(KHANG_EUNSUPPORTED)`` when called, so the rest keeps working.

The library is looked for, in order:

1. ``$KHANG_LIBRARY``: the file to load (or a directory holding it);
2. the build tree the package was copied into by CMake (``_location.py``);
3. ``lib/``, ``lib64/`` or ``lib/<multiarch>/`` of the prefixes above the
   package (a ``pip install`` into the prefix CMake installed to) and of
   ``sys.prefix``;
4. the system's library search path (``LD_LIBRARY_PATH``, ld.so.cache).
"""

import ctypes
import os
import sys
import sysconfig
from ctypes import POINTER, c_char_p, c_int, c_void_p

from .errors import ITEROVER, EUNSUPPORTED, KhangError

#: SOVERSION of the shared library this package is written for. The package
#: only loads a library of this ABI.
SOVERSION = 0

if sys.platform == "darwin":
    _NAMES = ["libkhang.%d.dylib" % SOVERSION]
elif sys.platform == "win32":
    _NAMES = ["khang.dll", "libkhang.dll"]
else:
    _NAMES = ["libkhang.so.%d" % SOVERSION]


def _candidates():
    """Paths and names to try, best first, as (description, path) pairs."""
    env = os.environ.get("KHANG_LIBRARY")
    if env:
        if os.path.isdir(env):
            return [("$KHANG_LIBRARY", os.path.join(env, n)) for n in _NAMES]
        return [("$KHANG_LIBRARY", env)]
    found = []
    try:
        from . import _location  # written by CMake into the build-tree copy
        found.append(("build tree", _location.LIBRARY))
    except ImportError:
        pass
    libdirs = ["lib", "lib64"]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch:
        libdirs.append(os.path.join("lib", multiarch))
    prefixes = []
    d = os.path.dirname(os.path.abspath(__file__))
    for _ in range(6):
        d = os.path.dirname(d)
        prefixes.append(d)
    prefixes += [sys.prefix, os.path.join(sys.prefix, "local")]
    for p in prefixes:
        for ld in libdirs:
            for n in _NAMES:
                path = os.path.join(p, ld, n)
                if os.path.isfile(path):
                    found.append(("prefix " + p, path))
    found += [("system search path", n) for n in _NAMES]
    return found


def _load():
    tried = []
    for where, path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("  %s: %s" % (where, e))
    raise ImportError(
        "khang: cannot load libkhang (SOVERSION %d). Install libkhang or set "
        "KHANG_LIBRARY to the path of %s. Tried:\n%s"
        % (SOVERSION, _NAMES[0], "\n".join(tried)))


lib, library_path = _load()


def _last_error(code):
    msg = _error_last()
    return KhangError(code, msg.decode("utf-8", "replace") if msg else "")


def check_code(result, func, args):
    """errcheck for functions returning 0 or a negative code (or a length)."""
    if result < 0:
        raise _last_error(result)
    return result


def check_next(result, func, args):
    """errcheck for iterators' _next: 0, ITEROVER, or an error."""
    if result < 0 and result != ITEROVER:
        raise _last_error(result)
    return result


def _missing(name):
    def stub(*args):
        raise KhangError(EUNSUPPORTED, "%s (libkhang %s) has no %s: a newer libkhang is needed"
                         % (library_path, version_string(), name))
    stub.__name__ = name
    return stub


def ffi(name, argtypes, restype=c_int, errcheck=check_code):
    """Declare the C function ``khang_<name>`` and return it.

    ``errcheck`` runs after each call (``check_code`` by default for an int
    result, ``None`` for functions that cannot fail).
    """
    cname = "khang_" + name
    try:
        f = getattr(lib, cname)
    except AttributeError:
        return _missing(cname)
    f.argtypes = argtypes
    f.restype = restype
    if errcheck is not None:
        f.errcheck = errcheck
    return f


# The error functions have no errcheck (they never fail).
_error_last = ffi("error_last", [], c_char_p, None)
error_last_code = ffi("error_last_code", [], c_int, None)
error_clear = ffi("error_clear", [], None, None)
strerror = ffi("strerror", [c_int], c_char_p, None)
_version = ffi("version", [POINTER(c_int), POINTER(c_int), POINTER(c_int)], c_char_p, None)


def version_string():
    return _version(None, None, None).decode()


def version_tuple():
    a, b, c = c_int(), c_int(), c_int()
    _version(ctypes.byref(a), ctypes.byref(b), ctypes.byref(c))
    return (a.value, b.value, c.value)


def text(b):
    """A C string (bytes or None) as str ("" for NULL)."""
    return b.decode("utf-8", "replace") if b else ""


# Opaque handles are plain pointers.
handle = c_void_p
