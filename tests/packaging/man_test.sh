#!/bin/sh
# man_test.sh KHANG_BINARY MAN_PAGE VERSION
# The man page is valid roff (when groff is installed), names the current
# version, and documents every command `khang --help` lists.
set -eu
khang=$1
page=$2
version=$3
fail=0
if command -v groff >/dev/null 2>&1; then
  if ! out=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || [ -n "$out" ]; then
    echo "groff: $out"
    fail=1
  fi
fi
if ! grep -q "^\.TH KHANG 1 .*\"libkhang $version\"" "$page"; then
  echo "$page: the .TH line does not name libkhang $version"
  fail=1
fi
# Commands are the lines of the "commands:" block of --help.
cmds=$("$khang" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { on = 0 } on { print $1 }')
[ -n "$cmds" ] || { echo "no commands found in khang --help"; exit 1; }
for c in $cmds; do
  if ! grep -qE "^\.BI? $c( |\$)" "$page"; then
    echo "$page: command '$c' (in khang --help) is not documented under COMMANDS"
    fail=1
  fi
done
[ "$fail" -eq 0 ] && echo "man page current: $(echo "$cmds" | wc -w) commands"
exit "$fail"
