"""Errors, versions and finding the library."""

import os
import re
import subprocess
import sys
import tempfile
import unittest

import khang
from khang import _ffi

from support import env, needs

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)


class TestErrors(unittest.TestCase):
    def test_error_object(self):
        e = khang.KhangError(khang.ENOTPRESENT, "page 0x1234 not in dump")
        self.assertEqual(e.code, -7)
        self.assertIs(e.code, khang.ErrorCode.ENOTPRESENT)
        self.assertEqual(e.name, "KHANG_ENOTPRESENT")
        self.assertEqual(str(e), "page 0x1234 not in dump (KHANG_ENOTPRESENT)")
        self.assertEqual(str(khang.KhangError(-1000)), "error -1000")
        self.assertEqual(khang.strerror(0), "success")
        self.assertEqual(khang.strerror(-1000), "unknown error")

    def test_codes_match_c(self):
        """ErrorCode lists every code of the C header, with its value."""
        header = os.path.join(PACKAGE_ROOT, "..", "..", "include", "khang", "errors.h")
        if not os.path.isfile(header):
            self.skipTest("not in a source tree")
        with open(header) as f:
            c = {m.group(1): int(m.group(2))
                 for m in re.finditer(r"KHANG_([A-Z0-9_]+) = (-?\d+)", f.read())}
        self.assertEqual(c, {e.name: int(e) for e in khang.ErrorCode})

    def test_open_errors(self):
        with self.assertRaises(khang.KhangError) as cm:
            khang.open("/nonexistent/MEMORY.DMP")
        self.assertEqual(cm.exception.code, khang.EIO)
        self.assertIn("/nonexistent/MEMORY.DMP", cm.exception.message)
        with self.assertRaises(khang.KhangError) as cm:
            khang.open(__file__)
        self.assertEqual(cm.exception.code, khang.EFORMAT)
        with self.assertRaises(khang.KhangError) as cm:
            khang.Dump.from_bytes(b"PAGEDU64" + bytes(100))
        self.assertIn(cm.exception.code, (khang.EFORMAT, khang.ECORRUPT))

    def test_missing_function(self):
        """A function the loaded library lacks raises EUNSUPPORTED when called."""
        f = _ffi.ffi("no_such_function_in_any_version", [])
        with self.assertRaises(khang.KhangError) as cm:
            f()
        self.assertEqual(cm.exception.code, khang.EUNSUPPORTED)
        self.assertIn("khang_no_such_function_in_any_version", cm.exception.message)


class TestVersions(unittest.TestCase):
    @needs("KHANG_PROJECT_VERSION")
    def test_versions_agree(self):
        """CMake's project version = the library's = this package's = pyproject's."""
        v = env("KHANG_PROJECT_VERSION")
        self.assertEqual(khang.library_version(), v)
        self.assertEqual(".".join(map(str, khang.library_version_info())), v)
        self.assertEqual(khang.__version__, v)
        with open(os.path.join(PACKAGE_ROOT, "pyproject.toml")) as f:
            m = re.search(r'^version = "([^"]+)"', f.read(), re.M)
        self.assertEqual(m.group(1), v)

    @needs("KHANG_SOVERSION")
    def test_soversion(self):
        self.assertEqual(_ffi.SOVERSION, int(env("KHANG_SOVERSION")))


class TestLoading(unittest.TestCase):
    """How `import khang` finds libkhang (each case in a fresh interpreter)."""

    def run_python(self, code, pythonpath, **environ):
        e = dict(os.environ)
        e.pop("KHANG_LIBRARY", None)
        e.update(environ)
        e["PYTHONPATH"] = pythonpath
        return subprocess.run([sys.executable, "-c", code], env=e, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False)

    def test_env_override(self):
        lib = khang.library_path
        r = self.run_python("import khang; print(khang.library_path)", PACKAGE_ROOT,
                            KHANG_LIBRARY=os.path.dirname(lib))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.path.dirname(r.stdout.decode().strip()), os.path.dirname(lib))
        r = self.run_python("import khang", PACKAGE_ROOT, KHANG_LIBRARY="/nonexistent/libkhang.so.0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("KHANG_LIBRARY", r.stderr.decode())
        self.assertIn("/nonexistent/libkhang.so.0", r.stderr.decode())

    @needs("KHANG_BUILD_PYTHONPATH")
    def test_build_tree_copy(self):
        """The copy CMake puts in the build tree loads the library built
        beside it, without KHANG_LIBRARY."""
        r = self.run_python("import khang; print(khang.library_path)", env("KHANG_BUILD_PYTHONPATH"),
                            LD_LIBRARY_PATH="")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.path.realpath(r.stdout.decode().strip()),
                         os.path.realpath(khang.library_path))

    def test_prefix_layout(self):
        """Installed in a prefix (PREFIX/lib/pythonX.Y/site-packages/khang),
        the package finds PREFIX/lib/libkhang.so.N."""
        with tempfile.TemporaryDirectory() as prefix:
            site = os.path.join(prefix, "lib", "python3", "site-packages")
            os.makedirs(site)
            os.symlink(os.path.join(PACKAGE_ROOT, "khang"), os.path.join(site, "khang"))
            name = "libkhang.so.%d" % _ffi.SOVERSION
            os.symlink(os.path.realpath(khang.library_path), os.path.join(prefix, "lib", name))
            # A symlinked package resolves __file__ through the link on some
            # systems; copy instead when that happens.
            r = self.run_python("import khang; print(khang.library_path)", site, LD_LIBRARY_PATH="")
            if r.returncode == 0 and not r.stdout.decode().startswith(prefix):
                os.unlink(os.path.join(site, "khang"))
                import shutil
                shutil.copytree(os.path.join(PACKAGE_ROOT, "khang"), os.path.join(site, "khang"),
                                ignore=shutil.ignore_patterns("_location.py", "__pycache__"))
                r = self.run_python("import khang; print(khang.library_path)", site,
                                    LD_LIBRARY_PATH="")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.decode().strip(), os.path.join(prefix, "lib", name))


if __name__ == "__main__":
    unittest.main()
