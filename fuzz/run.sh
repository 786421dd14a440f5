#!/bin/sh
# Builds the libFuzzer binary of libaecv's untrusted-input parsers and runs each target for
# FUZZ_SECONDS (default 60). Used by `make fuzz`; see docs/model-format.md ("Fuzzing").
#
#   fuzz/run.sh [target ...]      targets: model_file safetensors spec (default: all three)
#
# Environment: FUZZ_SECONDS, SWIFTC (default swiftc), FUZZ_BUILD (default build/fuzz).
#
# The binary is the harness (fuzz/Harness.swift) compiled TOGETHER with the core (its five
# targets, see fuzz/core_sources.sh) as one module with `swiftc -sanitize=fuzzer,address`: libFuzzer's coverage and ASan instrument the
# Swift code itself, and the harness calls internal API (ModelFile.decode) without exporting it
# from libaecv.so. New inputs go to $FUZZ_BUILD/corpus/<target> (the seeds in
# fuzz/corpus/<target> are only read); crashes to $FUZZ_BUILD/crashes/<target>/. The exit status
# is nonzero when any target crashed; the crashing input is then printed as a path to turn
# into a regression test (Tests/AECVTests/FuzzRegressionTests.swift).
set -eu
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
swiftc=${SWIFTC:-swiftc}
out=${FUZZ_BUILD:-build/fuzz}
binary=$out/fuzz_aecv
targets=${*:-model_file safetensors spec}
mkdir -p "$out"

if [ ! -x "$binary" ] || [ -n "$(find Sources/AECV* Sources/CKernels fuzz/Harness.swift -newer "$binary" | head -1)" ]; then
    echo "fuzz: building $binary (swiftc -sanitize=fuzzer,address; about a minute)"
    sources=$(fuzz/core_sources.sh "$out/aecv")
    # C is also built with UBSan in trap mode (undefined behaviour executes ud2, which
    # libFuzzer reports as a crash; no runtime needed). Swift has no UBSan on Linux, and
    # needs none: its overflow, bounds and nil checks trap in -O builds already.
    # AECV imports CKernels (C loops): compile its .c files with the same sanitizers and give
    # swiftc a module map for its header (SwiftPM makes one itself; swiftc needs it spelled out).
    ck="$out/ckernels"
    mkdir -p "$ck"
    printf 'module CKernels {\n    header "%s/Sources/CKernels/include/ckernels.h"\n    export *\n}\n' "$PWD" \
        > "$ck/module.modulemap"
    objects=""
    for c in Sources/CKernels/*.c; do
        o="$ck/$(basename "$c" .c).o"
        ${CC:-clang} -O2 -fsanitize=fuzzer-no-link,address,undefined -fsanitize-trap=undefined -I Sources/CKernels/include -c "$c" -o "$o"
        objects="$objects $o"
    done
    # shellcheck disable=SC2086
    "$swiftc" -O -parse-as-library -sanitize=fuzzer,address -module-name AECV -package-name aecv \
        -I Sources/CBLAS -I "$ck" $sources fuzz/Harness.swift $objects -o "$binary.tmp" -lopenblas
    mv -f "$binary.tmp" "$binary"
fi

summary="$out/summary.txt"
printf '%-12s %10s %12s %10s %8s  %s\n' target seconds executions exec/s coverage result > "$summary"
failed=""
total=0
for t in $targets; do
    mkdir -p "$out/corpus/$t" "$out/crashes/$t"
    log="$out/$t.log"
    echo "fuzz: $t for ${seconds}s (log: $log)"
    status=0
    # -rss_limit_mb: the harness builds models; more than 2 GB is a bug (an allocation that a
    # small file should not be able to cause). -timeout: one input taking 30 s is a bug too.
    # Swift backtracer off: traps reach libFuzzer (see fuzz/run_harness.sh).
    AECV_FUZZ_TARGET=$t SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$binary" \
        -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
        -dict="fuzz/dict/$t.dict" -artifact_prefix="$out/crashes/$t/" \
        "$out/corpus/$t" "fuzz/corpus/$t" > "$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
    result=ok
    if [ "$status" -ne 0 ]; then
        result="CRASH (exit $status)"
        failed="$failed $t"
        grep -E '^==[0-9]+==ERROR|^SUMMARY|Fatal error|Test unit written' "$log" | head -5 || true
    fi
    total=$((total + ${runs:-0}))
    printf '%-12s %10s %12s %10s %8s  %s\n' "$t" "$seconds" "${runs:-?}" "${rate:-?}" "${cov:-?}" "$result" >> "$summary"
done
printf '%-12s %10s %12s\n' total "" "$total" >> "$summary"
cat "$summary"
if [ -n "$failed" ]; then
    echo "fuzz: FAILED:$failed (inputs in $out/crashes/)"
    exit 1
fi
echo "fuzz: no crashes ($total executions)"
