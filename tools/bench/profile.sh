#!/bin/sh
# profile.sh -- where libaecv's training step spends its time, by perf sampling (not a benchmark).
#
#   tools/bench/profile.sh [preset ...]        default: conv dense
#   env: THREADS=1 BATCH=64 SECONDS_PER_RUN=5 FREQ=499 TOP=30 PERF=perf
#
# For each preset, runs build/bench/bench_train (training at BATCH on THREADS threads through the
# C API, against the snapshot of build/lib in build/bench/lib that run_bench.py makes) under
#   perf record --call-graph dwarf
# and prints two views, with Swift names demangled (swift demangle, when found):
#   self:      the top symbols by the samples spent in them (dso, symbol): the hot kernels;
#   inclusive: the top symbols by samples spent in them or their callees: per layer, forward vs
#              backward (Conv2d.backward, ConvTranspose2d.forward, ...), Adam, the loss.
# DWARF unwinding is used because OpenBLAS's kernels have no frame pointers: with plain -g their
# samples are not attributed to the libaecv layer that called cblas_sgemm.
# The full reports are kept in build/bench/profile-<preset>.txt; perf.data files are deleted.
set -eu
cd "$(dirname "$0")/../.."
PERF=${PERF:-perf}
THREADS=${THREADS:-1}
BATCH=${BATCH:-64}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
FREQ=${FREQ:-499}
TOP=${TOP:-30}
[ $# -gt 0 ] || set -- conv dense

if ! command -v "$PERF" >/dev/null 2>&1; then
    echo "profile.sh: perf is not installed (Debian: apt-get install linux-perf)" >&2
    exit 1
fi
python3 tools/bench/run_bench.py --build-only >/dev/null
if command -v swift >/dev/null 2>&1; then DEMANGLE="swift demangle --simplified"; else DEMANGLE=cat; fi
export LD_LIBRARY_PATH="$PWD/build/bench/lib"

for preset in "$@"; do
    data="build/bench/perf-$preset.data"
    out="build/bench/profile-$preset.txt"
    echo "==== $preset: batch $BATCH, $THREADS thread(s), ${SECONDS_PER_RUN} s under perf record --call-graph dwarf -F $FREQ"
    "$PERF" record -q -F "$FREQ" --call-graph dwarf,16384 -o "$data" \
        build/bench/bench_train --preset "$preset" --batch "$BATCH" --threads "$THREADS" \
        --seconds "$SECONDS_PER_RUN" --warmup 20 --limit 5000 2>&1 | grep -v '^\[ perf record' || true
    {
        echo "# self: samples in the symbol itself"
        "$PERF" report -i "$data" --stdio --no-children --sort dso,sym -g none --percent-limit 0.3 2>/dev/null \
            | grep -v '^#' | grep -v '^$'
        echo
        echo "# inclusive: samples in the symbol or its callees (children)"
        "$PERF" report -i "$data" --stdio --children --sort sym -g none --percent-limit 0.5 2>/dev/null \
            | grep -v '^#' | grep -v '^$'
    } | $DEMANGLE > "$out"
    rm -f "$data" "$data.old"
    echo "---- top $TOP by self time ($preset)"
    sed -n '2,/^$/p' "$out" | grep -v '^$' | head -n "$TOP"
    echo "---- top $TOP by inclusive time, libaecv's functions and BLAS entry points ($preset)"
    # Skip the process/API wrappers above the model and the inlined trivia.
    sed -n '/^# inclusive/,$p' "$out" | tail -n +2 \
        | grep -v -e ' main$' -e '__libc_start' -e ' _start$' -e 'closure #' -e 'withStatus' \
                  -e 'withLockedModel' -e 'IndexingIterator' -e 'UnsafeMutablePointer' \
                  -e '0000000000000000' -e '\[k\] 0x' \
        | head -n "$TOP"
    echo "(full report: $out)"
    echo
done
