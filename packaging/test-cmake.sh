#!/usr/bin/env bash
# test-cmake: examples/cpp configured with find_package(aecv) against an installed tree, built,
# and run (it exits non-zero unless training halves its loss).
#   packaging/test-cmake.sh PREFIX BUILD_DIR
# A version check too: find_package(aecv 1.0) must be refused (the major version differs).
set -euo pipefail
prefix=$1 build=$2
rm -rf "$build" && mkdir -p "$(dirname "$build")"
cmake -S examples/cpp -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$build.log" 2>&1 \
    || { cat "$build.log"; echo "test-cmake: configure failed"; exit 1; }
cmake --build "$build" >>"$build.log" 2>&1 || { cat "$build.log"; echo "test-cmake: build failed"; exit 1; }
lib=$(find "$prefix" -name 'libaecv.so.0' -print -quit)
LD_LIBRARY_PATH=$(dirname "$lib") "$build/aecv_cpp_example"

mkdir -p "$build/v1"
printf 'cmake_minimum_required(VERSION 3.16)\nproject(v LANGUAGES C)\nfind_package(aecv 1.0 REQUIRED)\n' \
    > "$build/v1/CMakeLists.txt"
if cmake -S "$build/v1" -B "$build/v1/b" -DCMAKE_PREFIX_PATH="$prefix" >"$build/v1.log" 2>&1; then
    echo "test-cmake: find_package(aecv 1.0) accepted version 0.x"; exit 1
fi
grep -q "version: 0.1.0" "$build/v1.log" || { cat "$build/v1.log"; exit 1; }
echo "test-cmake: PASSED (find_package(aecv) + aecv::aecv from $prefix; aecv 1.0 refused)"
