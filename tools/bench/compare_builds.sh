#!/usr/bin/env bash
# Instructions per training step of two commits' libaecv.so, side by side (valgrind callgrind).
# Instruction counts do not depend on the machine's load, so this answers "did a refactor slow
# the engine?" even on a busy machine, where `make bench` timings would not.
#   tools/bench/compare_builds.sh BASE_COMMIT [HEAD_COMMIT]
# Builds both in scratch worktrees under build/compare/, runs 2 and 12 steps of batch 64 on one
# thread for each preset, and prints (12-step - 2-step)/10 per build and the ratio head/base.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
base=$1; head=${2:-HEAD}
root=$PWD/build/compare
mkdir -p "$root"
for rev in "$base" "$head"; do
    dir=$root/$(git rev-parse --short "$rev")
    [ -d "$dir" ] || git worktree add -q --detach "$dir" "$rev"
    make -C "$dir" -s lib >/dev/null
    mkdir -p "$dir/stripped"
    # valgrind cannot read the Swift toolchain's debug info: measure a stripped copy.
    strip --strip-debug -o "$dir/stripped/libaecv.so.0" "$dir/build/lib/libaecv.so.0.1.0"
    gcc -O2 -I"$dir/include" tools/bench/train_steps.c -L"$dir/build/lib" -laecv -o "$dir/stripped/train_steps"
done
count() {  # count DIR SPEC STEPS -> instructions
    OPENBLAS_NUM_THREADS=1 LD_LIBRARY_PATH=$1/stripped valgrind --tool=callgrind \
        --callgrind-out-file=/dev/null "$1/stripped/train_steps" "$2" 784 "$3" 2>&1 | awk '/Collected/{print $4}'
}
b=$root/$(git rev-parse --short "$base"); h=$root/$(git rev-parse --short "$head")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for spec in '{"preset":"conv","input":[1,28,28]}' '{"preset":"dense","input":[1,28,28],"latent":32}' \
            '{"preset":"sparse","input":[1,28,28],"latent":32}' '{"preset":"conv_vae","input":[1,28,28],"latent":16}'; do
    b2=$(count "$b" "$spec" 2); b12=$(count "$b" "$spec" 12)
    h2=$(count "$h" "$spec" 2); h12=$(count "$h" "$spec" 12)
    python3 -c "b=($b12-$b2)/10; h=($h12-$h2)/10; print('%-52s base %11.0f head %11.0f instr/step  head/base %.4f' % ('$spec', b, h, h/b))"
done
