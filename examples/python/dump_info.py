#!/usr/bin/env python3
"""dump_info.py: open a kernel memory dump and print what it is, from Python.

    usage: python3 dump_info.py MEMORY.DMP

The Python twin of dump_info.c and list_modules.c. Needs the khang package
(pip install bindings/python, or PYTHONPATH=BUILD/python in a CMake build)
and libkhang.so (found next to the package, or set KHANG_LIBRARY).
"""

import sys

import khang


def main(path):
    # khang.open() returns a Dump; "with" closes it (and frees everything
    # borrowed from it) at the end of the block.
    with khang.open(path) as dump:
        info = dump.info()
        print("dump:     %s, %d bytes" % (info.dump_type_name, info.file_size))
        print("system:   Windows build %d, %s, %d processors"
              % (info.build, info.arch_name, info.processors))
        print("bugcheck: 0x%08x" % info.bugcheck_code)

        # Failures raise khang.KhangError; a triage dump, for one, has no
        # kernel address space to search.
        try:
            kernel = dump.kernel_info()
        except khang.KhangError as e:
            print("kernel:   not available: %s" % e.message)
            return 0
        print("kernel:   base 0x%x, %s %s" % (kernel.base, kernel.pdb_name, kernel.pdb_id))
        print("layout:   %s (%s)" % (kernel.layout.description if kernel.layout else "none",
                                     kernel.check_name))

        # Iteration: modules are borrowed from the dump; their fields are
        # plain Python values.
        for m in dump.modules():
            print("module:   0x%016x %8d  %s" % (m.base, m.size, m.name))
            # An address inside the module, named the way a stack shows it.
            print("          0x%x = %s" % (m.base + 0x1bce3 % m.size,
                                         dump.symbolize(m.base + 0x1bce3 % m.size)))

        for w in dump.warnings:
            print("warning:  %s" % w)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    try:
        sys.exit(main(sys.argv[1]))
    except khang.KhangError as e:
        sys.exit("%s: %s" % (sys.argv[1], e))
