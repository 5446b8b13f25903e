"""What the tests need from the build, through environment variables that
ctest sets (bindings/python/CMakeLists.txt). Run by hand:

    KHANG_LIBRARY=build/lib/libkhang.so.0 KHANG_CLI=build/cli/khang \\
    KHANG_C_REFERENCE=build/bindings/python/khang_c_reference \\
    KHANG_TEST_DUMPS=build/sample/khang-sample.dmp:fuzz/corpus/fuzz_kernel \\
    PYTHONPATH=bindings/python python3 -m unittest discover -s bindings/python/tests
"""

import json
import os
import subprocess
import unittest


def env(name):
    return os.environ.get(name) or None


def dumps():
    """The fixture dumps: files, or every file of the directories, listed in
    $KHANG_TEST_DUMPS (separated by ':'), plus the real dumps of the shared
    data when present."""
    out = []
    for item in (env("KHANG_TEST_DUMPS") or "").split(os.pathsep):
        if os.path.isdir(item):
            out += sorted(os.path.join(item, f) for f in os.listdir(item))
        elif os.path.isfile(item):
            out.append(item)
    shared = env("KHANG_SHARED_DIR")
    if shared:
        for f in ("triage_x64.dmp", "triage_arm64.dmp"):
            p = os.path.join(shared, "realdumps", f)
            if os.path.isfile(p):
                out.append(p)
    return out


def kernel_dumps():
    """The fixtures with a kernel address space (forge-made ones)."""
    return [d for d in dumps() if "realdumps" not in d]


def run_json(*argv):
    """Run a program and parse the JSON document it prints."""
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (argv, r.returncode, r.stderr.decode()))
    return json.loads(r.stdout.decode())


def needs(name):
    return unittest.skipUnless(env(name), "$%s not set" % name)
