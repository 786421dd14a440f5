#!/bin/sh
# Builds the libFuzzer binary of the image decoders (fuzz/ImageHarness.swift) and runs it for
# FUZZ_SECONDS (default 60). Used by `make fuzz-images`; same conventions as fuzz/run.sh:
# seeds in fuzz/corpus/images are only read, new inputs go to $FUZZ_BUILD/corpus/images,
# crashes to $FUZZ_BUILD/crashes/images/, and the exit status is nonzero on any crash.
#
# Environment: FUZZ_SECONDS, SWIFTC (default swiftc), CC (default clang), FUZZ_BUILD (default
# build/fuzz).
set -eu
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
swiftc=${SWIFTC:-swiftc}
cc=${FUZZ_CC:-clang}
out=${FUZZ_BUILD:-build/fuzz}
binary=$out/fuzz_images
mkdir -p "$out/images-module" "$out/corpus/images" "$out/crashes/images"

# The C shim, instrumented, and a module map so that the Swift sources can import it by name.
# CKernels (the core's C loops) the same way.
printf 'module CImageCodecs [system] {\n    header "%s/Sources/CImageCodecs/include/aecv_image_codecs.h"\n    export *\n}\nmodule CKernels [system] {\n    header "%s/Sources/CKernels/include/ckernels.h"\n    export *\n}\n' \
    "$(pwd)" "$(pwd)" > "$out/images-module/module.modulemap"
if [ ! -x "$binary" ] || [ -n "$(find Sources/AECV* Sources/CImageCodecs Sources/CKernels fuzz/ImageHarness.swift -newer "$binary" | head -1)" ]; then
    echo "fuzz: building $binary (swiftc -sanitize=fuzzer,address; a minute or two)"
    # The core's five targets and the data layer as one module (fuzz/core_sources.sh).
    sources=$(fuzz/core_sources.sh "$out/images" Sources/AECVData)
    objects=""
    for c in Sources/CImageCodecs/*.c Sources/CKernels/*.c; do
        o="$out/images-$(basename "$c" .c).o"
        "$cc" -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fsanitize-trap=undefined -I Sources/CImageCodecs/include \
            -I Sources/CKernels/include -c "$c" -o "$o"
        objects="$objects $o"
    done
    # shellcheck disable=SC2086
    "$swiftc" -O -parse-as-library -sanitize=fuzzer,address -module-name AECV -package-name aecv \
        -I Sources/CBLAS -I Sources/CZlib -I "$out/images-module" $sources fuzz/ImageHarness.swift \
        $objects -o "$binary.tmp" -lopenblas -lz -ljpeg -lpng16 -lm
    mv -f "$binary.tmp" "$binary"
fi
log="$out/images.log"
echo "fuzz: images for ${seconds}s (log: $log)"
status=0
# Swift backtracer off: traps reach libFuzzer (see fuzz/run_harness.sh).
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$binary" -max_total_time="$seconds" -timeout=30 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/crashes/images/" \
    "$out/corpus/images" fuzz/corpus/images > "$log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
echo "fuzz: images: ${runs:-?} executions, ${rate:-?} exec/s, coverage ${cov:-?}"
if [ "$status" -ne 0 ]; then
    grep -E '^==[0-9]+==ERROR|^SUMMARY|Fatal error|Test unit written' "$log" | head -5 || true
    echo "fuzz: images: FAILED (exit $status; inputs in $out/crashes/images/)"
    exit 1
fi
echo "fuzz: images: no crashes"
