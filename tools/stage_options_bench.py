#!/usr/bin/python3
"""Which conv stage options reconstruct colour photographs best at 64x64: the measurement behind
the conv presets' defaults for inputs of 64 px and more (README, "Stage options").

Data: random 64x64 RGB crops (with horizontal flips) of real photographs shipped by Debian's
python3-skimage. Training crops come from astronaut, coffee, rocket, motorcycle_left and immunohistochemistry;
test crops from other photographs, chelsea, hubble_deep_field and motorcycle_right, so the score
is reconstruction of unseen images, not memorization.

Each variant is the conv preset with {"channels": [32, 64, 128]} (one stage per halving:
64 -> 32 -> 16 -> 8) and one combination of batch_norm / downsample / upsample, trained with the
same seed, Adam 1e-3, batch 32, for the same number of steps. Reported: test MSE and PSNR
(peak 1), and the training time per step (2 threads). Run it under the shared lock:

    make lib && flock /tmp/aecv-heavy.lock /usr/bin/python3 tools/stage_options_bench.py \
        [--preset conv|conv_vae] [--steps 600] [--threads 2] [--json out.json]

--preset conv_vae measures the same question for the variational preset (its default latent;
reconstruction from mu), with the variants that preset's default could take: the seed stages
and BatchNorm; the negative ELBO per image on the test crops is reported too.

(/usr/bin/python3: skimage is Debian's; the binding and build/lib/libaecv.so.0 are used.)
"""

import argparse
import json
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
os.environ.setdefault("AECV_LIBRARY", os.path.join(REPO, "build", "lib", "libaecv.so.0"))

import aecv  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
import machine  # noqa: E402  (tools/bench/machine.py: CPU and OpenBLAS kernels)
from skimage import data as skdata  # noqa: E402

TRAIN = ["astronaut", "coffee", "rocket", "motorcycle_left", "immunohistochemistry"]
TEST = ["chelsea", "hubble_deep_field", "motorcycle_right"]
SIZE = 64
VARIANTS = [
    ("seed architecture (stride, transposed)", {}),
    ("batch_norm", {"batch_norm": True}),
    ("upsample bilinear", {"upsample": "bilinear"}),
    ("batch_norm + bilinear", {"batch_norm": True, "upsample": "bilinear"}),
    ("batch_norm + nearest", {"batch_norm": True, "upsample": "nearest"}),
    ("batch_norm + max_pool + bilinear", {"batch_norm": True, "downsample": "max_pool", "upsample": "bilinear"}),
]


def photo(name):
    """An RGB photograph as float32 (H, W, 3) in [0, 1]."""
    if name == "motorcycle_left":
        image = skdata.stereo_motorcycle()[0]
    elif name == "motorcycle_right":
        image = skdata.stereo_motorcycle()[1]
    else:
        image = getattr(skdata, name)()
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3].astype(np.float32) / 255.0


def crops(names, count, rng):
    """count random SIZE x SIZE crops (N, 3, SIZE, SIZE), drawn evenly from the photographs,
    half of them mirrored left-right."""
    images = [photo(n) for n in names]
    out = np.empty((count, 3, SIZE, SIZE), np.float32)
    for i in range(count):
        image = images[i % len(images)]
        y = rng.integers(0, image.shape[0] - SIZE + 1)
        x = rng.integers(0, image.shape[1] - SIZE + 1)
        patch = image[y:y + SIZE, x:x + SIZE]
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        out[i] = patch.transpose(2, 0, 1)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=600, help="training steps per variant")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-crops", type=int, default=4096)
    ap.add_argument("--test-crops", type=int, default=512)
    ap.add_argument("--preset", choices=["conv", "conv_vae"], default="conv")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    aecv.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    train = crops(TRAIN, args.train_crops, rng)
    test = crops(TEST, args.test_crops, rng)
    load_before = os.getloadavg()
    rows = []
    variants = VARIANTS if args.preset == "conv" else VARIANTS[:2]
    for label, options in variants:
        spec = {"preset": args.preset, "input": [3, SIZE, SIZE], "channels": [32, 64, 128], "seed": 0,
                "batch_norm": False, **options}
        with aecv.Autoencoder(spec=spec) as m:
            order = np.random.default_rng(1)   # the same batches for every variant
            start = time.perf_counter()
            for step in range(args.steps):
                if step % (len(train) // args.batch) == 0:
                    permutation = order.permutation(len(train))
                k = step % (len(train) // args.batch)
                m.train_step(train[permutation[k * args.batch:(k + 1) * args.batch]])
            seconds = time.perf_counter() - start
            mse = float(np.mean((m.reconstruct(test) - test) ** 2))
            rows.append({"variant": label, "options": options, "parameters": m.parameter_count,
                         "test_mse": mse, "psnr_db": float(10 * np.log10(1 / mse)),
                         "test_objective": float(m.evaluate(test)),
                         "ms_per_step": 1000 * seconds / args.steps})
        r = rows[-1]
        print(f"  {label:40s} test MSE {r['test_mse']:.5f}  PSNR {r['psnr_db']:.2f} dB  "
              f"objective {r['test_objective']:.4g}  {r['ms_per_step']:.1f} ms/step", flush=True)
    load_after = os.getloadavg()
    print(f"machine: {machine.describe()}")
    print(f"\n{args.preset} preset, channels [32, 64, 128], 3x{SIZE}x{SIZE} crops; {args.steps} steps of batch "
          f"{args.batch}, Adam 1e-3, {args.threads} threads; train {', '.join(TRAIN)}; test "
          f"{', '.join(TEST)} ({args.test_crops} crops)")
    print("| variant | test MSE | PSNR (dB) | test objective | ms/step | parameters |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['test_mse']:.5f} | {r['psnr_db']:.2f} | {r['test_objective']:.4g} | "
              f"{r['ms_per_step']:.1f} | {r['parameters']} |")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "args": vars(args), "load": [load_before[0], load_after[0]]}, f, indent=1)


if __name__ == "__main__":
    main()
