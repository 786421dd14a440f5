#!/usr/bin/env bash
# Exactness of data-parallel training under mpirun (make test-mpi). On one machine (loopback):
#  - CLI: `aecv train --distributed` with 2 ranks at batch 32 (conv, vae) and 4 ranks at batch
#    16 (conv) give the parameters of 1 process at batch 64 over the same 50 steps, within
#    max|a - b| <= 1e-5 max|b|. The single process runs with as many threads as there are ranks,
#    so that it splits each batch the same way (into 2 or 4 parts whose gradients are summed):
#    float addition is not associative, and over 50 Adam steps the rounding difference between
#    an unsplit and a split batch grows from 1e-7 to ~5e-4 (the same between the library's own
#    1- and 2-thread runs). Against the unsplit 1-thread process, 20 steps are compared. --resume continues both the same way; the loss decreases; the ranks' parameter
#    checksums agree (checked by the tool, which fails otherwise).
#  - --stream: 2 ranks that each decode only their shards of an image folder (PNG and JPEG)
#    train exactly as 2 ranks on the same folder loaded into memory (bit for bit).
#  - A rank that fails ends the whole job with a message naming the rank (no hang); so does a
#    rank killed outright (SIGKILL) in the middle of an epoch, and the last checkpoint loads.
#  - Python: aecv.distributed.fit on 2 ranks equals Autoencoder.fit on 1, ranks agree bitwise.
# Usage: Tests/mpi/run.sh AECV_BINARY PYTHON MPI_PYTHON LIBAECV
#   PYTHON: with numpy (compares model files); MPI_PYTHON: with numpy and mpi4py, or "" (then
#   the Python part is skipped, loudly).
set -euo pipefail
aecv=$(realpath "$1"); python=$2; mpi_python=$3; export AECV_LIBRARY=$(realpath "$4")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PYTHONPATH="$here/../../bindings/python${PYTHONPATH:+:$PYTHONPATH}"
work=$(mktemp -d /tmp/aecv-test-mpi.XXXXXX)
trap 'rm -rf "$work"' EXIT
# --timeout: mpirun kills the job after 600 s, whatever happens inside it.
mpirun=(mpirun --oversubscribe --allow-run-as-root --timeout 600 -x AECV_LIBRARY -x PYTHONPATH)
# 3200 images at a global batch of 64: 50 steps per epoch.
common=(--data fashion-mnist --limit 3200 --test-limit 64 --seed 0)
passed=0
ok() { echo "test-mpi: ok: $*"; passed=$((passed + 1)); }
epoch_loss() { sed -n "s/^epoch $1\/[0-9]*: train loss \([0-9.e+-]*\),.*/\1/p" "$2"; }

for preset in conv vae; do
    "$aecv" train --preset "$preset" "${common[@]}" --threads 2 --epochs 1 --batch-size 64 \
        --out "$work/$preset-1.aecv" > "$work/$preset-1.log"
    "${mpirun[@]}" -np 2 "$aecv" train --preset "$preset" "${common[@]}" --epochs 1 --batch-size 32 \
        --threads 1 --distributed --out "$work/$preset-2.aecv" > "$work/$preset-2.log"
    grep -q "ranks agree on the parameters" "$work/$preset-2.log"
    grep -q "batch 32 per rank × 2 ranks = 64" "$work/$preset-2.log"
    "$python" "$here/compare_models.py" "$work/$preset-2.aecv" "$work/$preset-1.aecv" 1e-5 \
        "cli $preset: 2 ranks x 32 vs 1 x 64 (2 threads), 50 steps"
    ok "cli $preset 2 ranks"
    cp "$work/$preset-1.aecv" "$work/$preset-1-epoch1.aecv"
    # --resume: one more epoch each way, still equal; the loss went down.
    "$aecv" train --resume "$work/$preset-1.aecv" "${common[@]}" --threads 2 --epochs 2 --batch-size 64 \
        > "$work/$preset-1r.log"
    "${mpirun[@]}" -np 2 "$aecv" train --resume "$work/$preset-2.aecv" "${common[@]}" --epochs 2 --batch-size 32 \
        --threads 1 --distributed > "$work/$preset-2r.log"
    "$python" "$here/compare_models.py" "$work/$preset-2.aecv" "$work/$preset-1.aecv" 1e-5 \
        "cli $preset: resumed for a 2nd epoch"
    first=$(epoch_loss 1 "$work/$preset-2.log"); second=$(epoch_loss 2 "$work/$preset-2r.log")
    awk -v a="$first" -v b="$second" 'BEGIN { exit !(b < a) }' \
        || { echo "test-mpi: FAILED: cli $preset: loss $first -> $second did not decrease"; exit 1; }
    ok "cli $preset --resume, loss $first -> $second"
done

"$aecv" train --preset conv "${common[@]}" --threads 4 --epochs 1 --batch-size 64 --out "$work/conv-1t4.aecv" \
    > "$work/conv-1t4.log"
"${mpirun[@]}" -np 4 "$aecv" train --preset conv "${common[@]}" --threads 1 --epochs 1 --batch-size 16 \
    --distributed --out "$work/conv-4.aecv" > "$work/conv-4.log"
"$python" "$here/compare_models.py" "$work/conv-4.aecv" "$work/conv-1t4.aecv" 1e-5 \
    "cli conv: 4 ranks x 16 vs 1 x 64 (4 threads), 50 steps"
ok "cli conv 4 ranks"

# Against the unsplit batch (1 thread), over 20 steps.
short=(--data fashion-mnist --limit 1280 --test-limit 16 --seed 0)
"$aecv" train --preset conv "${short[@]}" --threads 1 --epochs 1 --batch-size 64 --out "$work/short-1.aecv" > /dev/null
"${mpirun[@]}" -np 2 "$aecv" train --preset conv "${short[@]}" --threads 1 --epochs 1 --batch-size 32 \
    --distributed --out "$work/short-2.aecv" > /dev/null
"$python" "$here/compare_models.py" "$work/short-2.aecv" "$work/short-1.aecv" 1e-5 \
    "cli conv: 2 ranks x 32 vs 1 x 64 (1 thread, unsplit), 20 steps"
ok "cli conv 2 ranks vs the unsplit batch"

# --stream --distributed: each rank decodes only its shards of the folder. The same folder in
# memory gives the same examples at the same batch positions, so the models must be identical.
# --test-data keeps both from holding out a tail (the two paths hold out different amounts).
"$python" - "$work/photos" "$work/photos-test" <<'PY'
import os, sys, numpy as np
from PIL import Image
rng = np.random.default_rng(0)
for folder, count in ((sys.argv[1], 150), (sys.argv[2], 8)):
    os.makedirs(folder)
    for i in range(count):
        # smooth colour gradients plus noise, 40x36 so that --size 32 resizes and crops
        y, x = np.mgrid[0:36, 0:40] / 40.0
        c = rng.uniform(0, 1, (3, 3))
        img = np.stack([c[k, 0] * x + c[k, 1] * y + c[k, 2] for k in range(3)], -1)
        img = np.clip(img / img.max() + rng.normal(0, 0.05, img.shape), 0, 1)
        im = Image.fromarray((img * 255).astype(np.uint8))
        im.save(os.path.join(folder, f"{i:03d}." + ("png" if i % 2 else "jpg")), quality=90)
PY
photos=(--preset conv --data "$work/photos" --size 32 --rgb --test-data "$work/photos-test" --seed 0
        --epochs 2 --batch-size 8 --threads 1 --distributed)
"${mpirun[@]}" -np 2 "$aecv" train "${photos[@]}" --out "$work/photos-memory.aecv" > "$work/photos-memory.log"
"${mpirun[@]}" -np 2 "$aecv" train "${photos[@]}" --stream --decode-threads 2 --out "$work/photos-stream.aecv" \
    > "$work/photos-stream.log"
grep -q "on 150 images of" "$work/photos-stream.log"
"$python" "$here/compare_models.py" "$work/photos-stream.aecv" "$work/photos-memory.aecv" 0 \
    "cli conv: 2 ranks streaming their shards vs 2 ranks in memory, 2 epochs of 10 steps"
ok "cli --stream --distributed, 2 ranks"

# A failing rank ends the job, naming itself: the output's parent is a regular file, so the
# model cannot be written (train creates a missing directory, so that would not fail).
: > "$work/not-a-dir"
set +e
timeout 300 "${mpirun[@]}" -np 2 "$aecv" train --preset dense --data fashion-mnist --limit 256 --epochs 1 \
    --threads 1 --distributed --out "$work/not-a-dir/model.aecv" > "$work/fail.log" 2>&1
status=$?
set -e
if [ "$status" = 0 ] || [ "$status" = 124 ] || ! grep -q "aecv: error: rank 0 of 2: " "$work/fail.log"; then
    echo "test-mpi: FAILED: a failing rank should end the job with its name (status $status):"
    cat "$work/fail.log"; exit 1
fi
ok "a failing rank ends the job (status $status): $(grep -m1 'aecv: error: rank' "$work/fail.log")"

# A rank killed outright (SIGKILL, no chance to report) in the middle of epoch 2: mpirun ends
# the job naming the rank, within the timeout, and epoch 1's checkpoint still loads.
set +e
timeout 300 "${mpirun[@]}" -np 2 "$aecv" train --preset dense --data fashion-mnist --limit 6400 --epochs 100 \
    --threads 1 --distributed --out "$work/killed.aecv" > "$work/killed.log" 2>&1 &
job=$!
for _ in $(seq 600); do [ -s "$work/killed.aecv" ] && break; sleep 0.1; done
sleep 0.3
victim=""
for pid in $(pgrep -f "train --preset dense --data fashion-mnist --limit 6400"); do
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$pid; fi
done
[ -n "$victim" ] && kill -KILL "$victim"
wait "$job"
status=$?
set -e
if [ -z "$victim" ] || [ "$status" = 0 ] || [ "$status" = 124 ] || ! grep -qi "rank 1" "$work/killed.log"; then
    echo "test-mpi: FAILED: a killed rank should end the job naming it (victim '${victim}', status $status):"
    cat "$work/killed.log"; exit 1
fi
"$python" -c "import aecv, sys; m = aecv.Autoencoder.load(sys.argv[1]); assert m.parameter_count > 0" "$work/killed.aecv" \
    || { echo "test-mpi: FAILED: the checkpoint left by the killed job does not load"; exit 1; }
ok "a killed rank ends the job (status $status): $(grep -i -m1 'rank 1' "$work/killed.log" | cut -c1-120)"

# Python: aecv.distributed.fit on 2 ranks x 32 against Autoencoder.fit at 64. `-m mpi4py`
# turns an uncaught exception on any rank into MPI_Abort (no hang).
if [ -z "$mpi_python" ]; then
    echo "################################################################"
    echo "#### test-mpi: Python part SKIPPED: no python3 with mpi4py and numpy (apt-get install python3-mpi4py)"
    echo "################################################################"
else
    "$mpi_python" "$here/fit_check.py" reference "$work" conv
    "${mpirun[@]}" -np 2 "$mpi_python" -m mpi4py "$here/fit_check.py" ranks "$work" conv 32
    "$mpi_python" "$here/fit_check.py" compare "$work" 2
    ok "python aecv.distributed.fit, 2 ranks"
fi
echo "test-mpi: all $passed checks passed"
