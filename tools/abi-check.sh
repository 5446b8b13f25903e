#!/usr/bin/env bash
# ABI check of libkhang.so against the baseline of its SOVERSION.
#
#   tools/abi-check.sh BUILD_DIR            compare with abi/libkhang.so.N.*
#   tools/abi-check.sh --update BUILD_DIR   write that baseline (at a release,
#                                           or after a deliberate SOVERSION bump)
#
# BUILD_DIR is a configured and built libkhang tree with debug information
# (RelWithDebInfo or Debug). The library is installed into a temporary prefix
# (the file users get), described with abidw (Debian: abigail-tools) and
# compared with abidiff; types defined outside include/ are private, so opaque
# handles may change freely. abidiff cannot see enumerators that no function
# signature uses (error codes are returned as int), so the values of every
# KHANG_* enumerator of the installed headers are compared as well.
#
# Fails (exit 1) on any change to the existing ABI: a removed or changed
# function, a changed or removed enumerator, a changed public structure.
# Allowed: added functions, types and enumerators, and members appended at the
# end of the size-versioned structures listed in abi/suppressions.abignore.
# An incompatible change needs all of: KHANG_SOVERSION bumped in
# CMakeLists.txt, a new node in lib/libkhang.map, a "Breaking changes" entry
# marked ABI-breaking in CHANGELOG.md, and the new baseline written with
# --update. Exit 77 (skipped) when the tools are missing or the build has no
# debug information.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
if [ $# -ne 1 ] || [ ! -f "$1/CMakeCache.txt" ]; then
  echo "usage: $0 [--update] BUILD_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
cc=${CC:-cc}

for tool in abidw abidiff readelf "$cc"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "abi-check: $tool not found (Debian: abigail-tools, binutils, gcc); skipped"
    exit 77
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/khang-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null

lib=$(find "$tmp/prefix" -name 'libkhang.so.*.*' -type f | head -n 1)
if [ -z "$lib" ]; then
  echo "abi-check: no libkhang.so.* installed from $build" >&2
  exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
  echo "abi-check: $lib has no debug information (build RelWithDebInfo or Debug); skipped"
  exit 77
fi
# The debug information names the headers of the source tree, not the
# installed copies: those decide which types are public.
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
baseline="$here/abi/$soname.abi"
baseline_constants="$here/abi/$soname.constants"

# ---- enumerator values of the installed headers ----------------------------
inc="$tmp/prefix/include"
names=$(grep -rhoE '^[[:space:]]*KHANG_[A-Z0-9_]+[[:space:]]*=' "$inc" | tr -d ' \t=' | sort -u)
{
  echo '#include <stdio.h>'
  echo '#include "khang.h"'
  for h in "$inc"/khang/*.h; do echo "#include \"khang/${h##*/}\""; done
  echo 'int main(void) {'
  for n in $names; do printf '  printf("%%s %%lld\\n", "%s", (long long)%s);\n' "$n" "$n"; done
  echo '  return 0; }'
} > "$tmp/constants.c"
"$cc" -std=c11 -DKHANG_EXPERIMENTAL -I"$inc" "$tmp/constants.c" -o "$tmp/constants"
"$tmp/constants" > "$tmp/current.constants"

# ---- abidw ----------------------------------------------------------------------
abidw --headers-dir "$src/include" --drop-private-types --no-corpus-path \
      --no-comp-dir-path --type-id-style hash --out-file "$tmp/current.abi" "$lib"
# Store source paths relative to the checkout so the baseline does not depend
# on where it was made (abidiff needs them absolute again, see below).
sed -i -e "s|path='$src/|path='|g" "$tmp/current.abi"

if [ "$update" = 1 ]; then
  cp "$tmp/current.abi" "$baseline"
  cp "$tmp/current.constants" "$baseline_constants"
  echo "abi-check: wrote abi/$soname.abi and abi/$soname.constants (libkhang $(basename "$lib" | sed 's/libkhang\.so\.//'))"
  exit 0
fi

if [ ! -f "$baseline" ] || [ ! -f "$baseline_constants" ]; then
  echo "abi-check: no baseline abi/$soname.abi and abi/$soname.constants." >&2
  echo "  If KHANG_SOVERSION was bumped on purpose, write it: $0 --update BUILD_DIR" >&2
  exit 1
fi

fail=0
# An enumerator of the baseline must keep its value (new ones are fine).
while read -r name value; do
  now=$(awk -v n="$name" '$1 == n { print $2 }' "$tmp/current.constants")
  if [ -z "$now" ]; then
    echo "abi-check: enumerator $name (= $value) was removed"; fail=1
  elif [ "$now" != "$value" ]; then
    echo "abi-check: enumerator $name changed from $value to $now"; fail=1
  fi
done < "$baseline_constants"

sed -e "s|path='\([^/]\)|path='$src/\1|g" "$baseline" > "$tmp/baseline.abi"
set +e
abidiff --headers-dir2 "$src/include" --drop-private-types \
        --suppressions "$here/abi/suppressions.abignore" \
        --no-added-syms --no-show-locs "$tmp/baseline.abi" "$lib" > "$tmp/diff.txt" 2>&1
rc=$?
set -e
# abidiff's status is a bit mask: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible ABI change. Added functions alone set none of them.
if [ "$rc" -ne 0 ]; then
  cat "$tmp/diff.txt"
  if [ $((rc & 3)) -ne 0 ]; then
    echo "abi-check: abidiff failed (status $rc)" >&2
    exit 1
  fi
  fail=1
fi
if [ "$fail" -ne 0 ]; then
  echo >&2
  echo "abi-check: $soname differs from its baseline in abi/ (abidiff status $rc)." >&2
  echo "  If the change is intended and incompatible: bump KHANG_SOVERSION, add a" >&2
  echo "  version node to lib/libkhang.map, say so under \"Breaking changes\" in" >&2
  echo "  CHANGELOG.md, and write the new baseline with $0 --update BUILD_DIR." >&2
  exit 1
fi
echo "abi-check: $soname matches abi/$soname.abi and .constants (additions allowed)"
