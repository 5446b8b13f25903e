#!/bin/sh
# exports_test.sh LIBKHANG_SO INCLUDE_DIR
# The shared library exports only khang_* functions, each with a version node
# (lib/libkhang.map), and exactly the functions the public headers declare
# with KHANG_API: nothing internal leaks, nothing declared is missing.
set -eu
lib=$1
inc=$2
command -v nm >/dev/null 2>&1 || { echo "nm not found; skipped"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/khang-exports.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0

# "address type name@@NODE"; type A lines are the version nodes themselves.
nm -D --defined-only "$lib" | awk '$2 != "A" { print $2, $3 }' > "$tmp/dynsyms"
awk '$1 != "T" || $2 !~ /^khang_[a-z0-9_]+@@?KHANG_[0-9.]+$/' "$tmp/dynsyms" > "$tmp/bad"
if [ -s "$tmp/bad" ]; then
  echo "exported symbols that are not versioned khang_* functions:"
  sed 's/^/  /' "$tmp/bad"
  fail=1
fi
sed 's/^[A-Za-z] //; s/@.*//' "$tmp/dynsyms" | sort -u > "$tmp/exported"
grep -rhoE 'KHANG_API[^;(]*[ *]khang_[a-z0-9_]+[ ]*\(' "$inc" \
  | sed -E 's/.*[ *](khang_[a-z0-9_]+)[ ]*\($/\1/' | sort -u > "$tmp/declared"
if ! cmp -s "$tmp/exported" "$tmp/declared"; then
  echo "exported (<) and declared in the headers (>) differ:"
  diff "$tmp/exported" "$tmp/declared" | grep '^[<>]' | sed 's/^/  /'
  fail=1
fi
[ "$fail" -eq 0 ] && echo "$(wc -l < "$tmp/exported") functions exported, all declared, all versioned"
exit "$fail"
