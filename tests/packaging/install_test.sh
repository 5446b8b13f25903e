#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR DUMP VERSION SOVERSION TOOLS(0|1) [PYTHON]
#
# Installs the build into a temporary prefix and uses it the way a user
# would: checks the installed files, builds the examples against the prefix
# with find_package(khang) and pkg-config (CMake, and a plain pkg-config
# command line), runs them on DUMP, runs the installed khang, and
# pip-installs the Python package into the same prefix (or copies it there
# when pip, setuptools and wheel are not available offline) to run the
# Python example without KHANG_LIBRARY.
set -euo pipefail
build=$1 src=$2 dump=$3 version=$4 soversion=$5 tools=$6 python=${7:-python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/khang-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
step() { printf '\n== %s\n' "$*"; }
die() { echo "install_tree: $*" >&2; exit 1; }

step "cmake --install into $prefix"
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
so=$(find "$prefix" -name "libkhang.so.$version" | head -n 1)
[ -n "$so" ] || die "libkhang.so.$version not installed"
libdir=${so%/*}
libdir_rel=${libdir#"$prefix"/}
expect=(
  include/khang.h
  "$libdir_rel/libkhang.a"
  "$libdir_rel/libkhang.so"
  "$libdir_rel/libkhang.so.$soversion"
  "$libdir_rel/libkhang.so.$version"
  "$libdir_rel/pkgconfig/khang.pc"
  "$libdir_rel/cmake/khang/khangConfig.cmake"
  "$libdir_rel/cmake/khang/khangConfigVersion.cmake"
  "$libdir_rel/cmake/khang/khangTargets.cmake"
)
for h in "$src"/include/khang/*.h; do expect+=("include/khang/${h##*/}"); done
if [ "$tools" = 1 ]; then expect+=(bin/khang share/man/man1/khang.1); fi
for f in "${expect[@]}"; do
  [ -e "$prefix/$f" ] || die "missing after install: $f"
done
echo "${#expect[@]} expected files installed"
[ "$(readlink "$prefix/$libdir_rel/libkhang.so.$soversion")" = "libkhang.so.$version" ] \
  || die "libkhang.so.$soversion does not point to libkhang.so.$version"

export PKG_CONFIG_PATH=$prefix/$libdir_rel/pkgconfig
if command -v pkg-config >/dev/null 2>&1; then
  [ "$(pkg-config --modversion khang)" = "$version" ] || die "pkg-config --modversion is not $version"
fi

step "examples built against the prefix (find_package + pkg-config)"
cmake -S "$src/examples" -B "$tmp/examples" -DCMAKE_PREFIX_PATH="$prefix" \
  -DKHANG_EXAMPLE_DUMP="$dump" > "$tmp/examples-configure.log" \
  || { cat "$tmp/examples-configure.log"; die "configuring the examples failed"; }
cmake --build "$tmp/examples" > "$tmp/examples-build.log" 2>&1 \
  || { cat "$tmp/examples-build.log"; die "building the examples failed"; }
if command -v c++ >/dev/null 2>&1; then
  [ -x "$tmp/examples/modules_static" ] || die "modules_static (find_package, static) was not built"
  if command -v pkg-config >/dev/null 2>&1; then
    [ -x "$tmp/examples/info_pkgconfig" ] || die "info_pkgconfig (pkg-config) was not built"
  fi
fi
# The static example must not need libkhang.so at run time.
if [ -x "$tmp/examples/modules_static" ] && readelf -d "$tmp/examples/modules_static" | grep -q 'NEEDED.*libkhang'; then
  die "modules_static links libkhang.so instead of libkhang.a"
fi
ctest --test-dir "$tmp/examples" --output-on-failure

if command -v pkg-config >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1; then
  step "plain command line: c++ info_pkgconfig.cpp \$(pkg-config --cflags --libs khang)"
  # shellcheck disable=SC2046
  c++ -std=c++11 -Wall -Wextra -Werror "$src/examples/cpp/info_pkgconfig.cpp" \
    $(pkg-config --cflags --libs khang) -Wl,-rpath,"$libdir" -o "$tmp/info_pc"
  "$tmp/info_pc" "$dump"
  step "plain command line: cc dump_info.c \$(pkg-config --cflags --libs khang)"
  # shellcheck disable=SC2046
  cc -std=c11 -Wall -Wextra -Werror "$src/examples/dump_info.c" \
    $(pkg-config --cflags --libs khang) -Wl,-rpath,"$libdir" -o "$tmp/dump_info"
  out=$("$tmp/dump_info" "$dump")
  grep -q "Windows build" <<< "$out" || die "dump_info printed no build"
fi

if [ "$tools" = 1 ]; then
  step "the installed khang"
  [ "$("$prefix/bin/khang" --version)" = "khang $version" ] || die "khang --version is not $version"
  "$prefix/bin/khang" info "$dump" > /dev/null
fi

step "Python: the package in the prefix finds the library without KHANG_LIBRARY"
if "$python" -c 'import setuptools, wheel' 2>/dev/null && "$python" -m pip --version >/dev/null 2>&1; then
  cp -r "$src/bindings/python" "$tmp/pysrc"     # pip builds in the source folder
  rm -f "$tmp/pysrc/khang/_location.py"
  "$python" -m pip install -q --no-build-isolation --no-deps --no-index --disable-pip-version-check \
    --prefix "$prefix" "$tmp/pysrc" > "$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log"; die "pip install failed"; }
  how="pip install --prefix"
else
  # No offline pip build here (pip, setuptools and wheel are needed): put the
  # package where pip would.
  pyver=$("$python" -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
  mkdir -p "$prefix/lib/$pyver/site-packages"
  cp -r "$src/bindings/python/khang" "$prefix/lib/$pyver/site-packages/"
  rm -f "$prefix/lib/$pyver/site-packages/khang/_location.py"
  how="copied (pip, setuptools or wheel missing)"
fi
pkg=$(find "$prefix" -path '*-packages/khang/__init__.py' | head -n 1)
[ -n "$pkg" ] || die "no khang package under $prefix"
site=${pkg%/khang/__init__.py}
out=$(env -u KHANG_LIBRARY LD_LIBRARY_PATH= PYTHONPATH="$site" PYTHONDONTWRITEBYTECODE=1 \
      "$python" -c 'import khang; print(khang.library_path)')
[ "$out" = "$libdir/libkhang.so.$soversion" ] || die "the installed package loaded $out"
printed=$(env -u KHANG_LIBRARY LD_LIBRARY_PATH= PYTHONPATH="$site" PYTHONDONTWRITEBYTECODE=1 \
  "$python" "$src/examples/python/dump_info.py" "$dump") || die "examples/python/dump_info.py failed"
grep -q "Windows build" <<< "$printed" || die "examples/python/dump_info.py printed no build"
echo "khang package ($how) in $site loads $out"
echo
echo "install_tree: passed"
