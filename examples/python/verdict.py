#!/usr/bin/env python3
"""verdict.py: why did the system hang? The Python twin of verdict.c.

    usage: python3 verdict.py MEMORY.DMP [--json]

Needs the khang package (pip install bindings/python, or
PYTHONPATH=BUILD/python in a CMake build) and libkhang.so.
"""

import sys

import khang


def main(path, as_json=False):
    with khang.open(path) as dump:
        # One call runs every check; the result is plain Python values that
        # stay readable after the dump is closed.
        v = dump.hang_verdict()

    if as_json:
        # The library's own JSON document (what `khang analyze --json` prints).
        print(v.to_json())
        return 0

    print("category:   %s" % v.category_name)   # e.g. "alpc-chain"
    print("summary:    %s" % v.summary)
    print("confidence: %d%%" % v.confidence)
    if v.culprit_module:
        print("module:     %s" % v.culprit_module)

    # The evidence chain: each step names a thread, object, process... in words.
    print("\nchain:")
    for i, step in enumerate(v.chain, 1):
        print("  %d. %s" % (i, step.text))

    print("\nchecks:")
    for c in v.checks:
        print("  %-8s %-8s %s" % (c.name, c.status.name.lower(), c.text))
    for w in v.warnings:
        print("warning:", w)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], "--json" in sys.argv[2:]))
