#!/bin/sh
# Builds and runs the ONNX parser's libFuzzer harness (fuzz/onnx/Harness.swift) for
# FUZZ_SECONDS (default 60); `make fuzz-onnx`. Same build as fuzz/run.sh: the harness compiled
# with Sources/AECV as one module (-sanitize=fuzzer,address). New inputs go to
# $FUZZ_BUILD/corpus/onnx, crashes to $FUZZ_BUILD/crashes/onnx/; nonzero exit on a crash.
set -eu
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
swiftc=${SWIFTC:-swiftc}
out=${FUZZ_BUILD:-build/fuzz}
binary=$out/fuzz_onnx
mkdir -p "$out/corpus/onnx" "$out/crashes/onnx"
sources=$(find Sources/AECV -name '*.swift' | LC_ALL=C sort)
if [ ! -x "$binary" ] || [ -n "$(find Sources/AECV fuzz/onnx -name '*.swift' -newer "$binary" | head -1)" ]; then
    echo "fuzz-onnx: building $binary (swiftc -sanitize=fuzzer,address; about a minute)"
    # The C kernels (Sources/CKernels) as objects, with a module map for `import CKernels`.
    mkdir -p "$out/ckernels"
    printf 'module CKernels {\n  header "%s/Sources/CKernels/include/ckernels.h"\n  export *\n}\n' "$(pwd)" \
        > "$out/ckernels/module.modulemap"
    objects=""
    for c in Sources/CKernels/*.c; do
        o="$out/ckernels/$(basename "$c" .c).o"
        ${CC:-clang} -O2 -fsanitize=fuzzer-no-link,address -ISources/CKernels/include -c "$c" -o "$o"
        objects="$objects $o"
    done
    # shellcheck disable=SC2086
    "$swiftc" -O -parse-as-library -sanitize=fuzzer,address -module-name AECV \
        -I Sources/CBLAS -I "$out/ckernels" $sources fuzz/onnx/Harness.swift $objects -o "$binary.tmp" -lopenblas \
        > "$out/onnx-build.log" 2>&1 || { grep -v 'Cannot export local symbol' "$out/onnx-build.log" | tail -20; exit 1; }
    mv -f "$binary.tmp" "$binary"
fi
log="$out/onnx.log"
echo "fuzz-onnx: ${seconds}s (log: $log)"
status=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$binary" -max_total_time="$seconds" -timeout=30 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/crashes/onnx/" \
    "$out/corpus/onnx" fuzz/corpus/onnx > "$log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
echo "fuzz-onnx: ${runs:-?} executions, ${rate:-?} exec/s, exit $status"
if [ "$status" -ne 0 ]; then grep -E '^==[0-9]+==ERROR|^SUMMARY|Fatal error|Test unit written' "$log" | head -5 || true; fi
exit "$status"
