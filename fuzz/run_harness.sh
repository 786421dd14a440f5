#!/bin/sh
# Builds and runs one libFuzzer harness compiled TOGETHER with the core as one module
# (fuzz/core_sources.sh)
# (-sanitize=fuzzer,address), for FUZZ_SECONDS (default 60):
#
#   fuzz/run_harness.sh NAME HARNESS.swift [EXTRA_SOURCE_DIR ...]
#
# NAME names the binary ($FUZZ_BUILD/fuzz_NAME), the seeds (fuzz/corpus/NAME, read only), new
# inputs ($FUZZ_BUILD/corpus/NAME) and crashes ($FUZZ_BUILD/crashes/NAME/). EXTRA_SOURCE_DIRs
# (e.g. Sources/AECVCAPI) are compiled into the same module; their `import AECV` then names the
# module itself, which swiftc ignores. Exit status nonzero on a crash, a leak or a trap.
# Used by fuzz/onnx/run.sh (`make fuzz-onnx`) and fuzz/capi/run.sh (`make fuzz-capi`).
set -eu
cd "$(dirname "$0")/.."
name=$1; harness=$2; shift 2
seconds=${FUZZ_SECONDS:-60}
swiftc=${SWIFTC:-swiftc}
out=${FUZZ_BUILD:-build/fuzz}
binary=$out/fuzz_$name
mkdir -p "$out/corpus/$name" "$out/crashes/$name"
if [ ! -x "$binary" ] || [ -n "$(find Sources/AECV* Sources/CKernels "$@" "$harness" -newer "$binary" | head -1)" ]; then
    echo "fuzz-$name: building $binary (swiftc -sanitize=fuzzer,address; about a minute)"
    # The core's five targets as one module (fuzz/core_sources.sh), with the extra dirs.
    sources=$(fuzz/core_sources.sh "$out/$name" "$@")
    # The C kernels (Sources/CKernels) as objects, with a module map for `import CKernels`.
    # C is also built with UBSan in trap mode (undefined behaviour executes ud2, which
    # libFuzzer reports as a crash; no runtime needed). Swift has no UBSan on Linux, and
    # needs none: its overflow, bounds and nil checks trap in -O builds already.
    mkdir -p "$out/ckernels"
    printf 'module CKernels {\n  header "%s/Sources/CKernels/include/ckernels.h"\n  export *\n}\n' "$(pwd)" \
        > "$out/ckernels/module.modulemap"
    objects=""
    for c in Sources/CKernels/*.c; do
        o="$out/ckernels/$(basename "$c" .c).o"
        ${CC:-clang} -O2 -fsanitize=fuzzer-no-link,address,undefined -fsanitize-trap=undefined -ISources/CKernels/include -c "$c" -o "$o"
        objects="$objects $o"
    done
    # shellcheck disable=SC2086
    "$swiftc" -O -parse-as-library -sanitize=fuzzer,address -module-name AECV -package-name aecv \
        -I Sources/CBLAS -I "$out/ckernels" $sources "$harness" $objects -o "$binary.tmp" -lopenblas \
        > "$out/$name-build.log" 2>&1 || { grep -v 'Cannot export local symbol' "$out/$name-build.log" | tail -20; exit 1; }
    mv -f "$binary.tmp" "$binary"
fi
log="$out/$name.log"
echo "fuzz-$name: ${seconds}s (log: $log)"
status=0
# -rss_limit_mb: more than 2 GB is a bug (an allocation a small input should not cause);
# -timeout: one input taking 30 s is a bug too.
# SWIFT_BACKTRACE=enable=no: a Swift trap then reaches libFuzzer's own handler, which prints
# the stack and writes the input; Swift's backtracer would catch it first and trip ASan while
# reading its own stack (a report naming CrashHandlerLinux.cpp, not the bug).
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$binary" -max_total_time="$seconds" -timeout=30 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/crashes/$name/" \
    "$out/corpus/$name" "fuzz/corpus/$name" > "$log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
echo "fuzz-$name: ${runs:-?} executions, ${rate:-?} exec/s, exit $status"
if [ "$status" -ne 0 ]; then grep -E '^==[0-9]+==ERROR|^SUMMARY|Fatal error|Test unit written' "$log" | head -5 || true; fi
exit "$status"
