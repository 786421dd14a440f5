#!/usr/bin/env python3
"""Training throughput of a conv autoencoder with BatchNorm, max pooling and nearest upsampling
at 3x64x64 or 1x28x28 (batch 32): libaecv (Python binding) side by side with PyTorch 1.13 (/usr/bin/python3)
and PyTorch 2.x (/opt/torch2/bin/python), runs alternated, median of the repeats, ratios and the
load average printed. Run it under the shared lock (it uses both cores):

    make lib && flock /tmp/aecv-heavy.lock python3 tools/bench_vision.py [--input 3,64,64] \
        [--seconds 4] [--repeats 3] [--threads 1,2] [--json]

The model is the conv preset with {"channels": [16, 32, 64], "batch_norm": true,
"downsample": "max_pool", "upsample": "nearest"}: encoder 3 x [Conv(k3, s1, p1, no bias), BN,
ReLU, MaxPool(2)], decoder 3 x [Upsample(x2), Conv(k3, s1, p1), BN, ReLU] (the last without BN,
with Sigmoid), MSE loss, Adam 1e-3. At 1x28x28 it has two stages, [16, 32] (28 -> 14 -> 7: a third
2x2 pool would need an even 7). Inputs are uniform random (throughput does not depend on them).
`make bench` runs it at both sizes (its "vision" section); --json prints only the JSON line.

--model seed benchmarks the seed's conv AE instead, on any image size: the conv preset with
{"batch_norm": false} (Conv k3 s2 p1 + ReLU x 3, 16 -> 32 -> 64 channels, mirrored
ConvTranspose k3 s2 p1 decoder, Sigmoid), as PyTorch's twin in tools/image_bench.py. `make
bench`'s "sizes" section runs it from 28^2 to 256^2 and sets the achieved GFLOP/s against the
sgemm ceiling. Both models report their analytic training FLOPs per image: 2 x 3 x the forward
multiply-adds of the convolutions (forward, input gradient, weight gradient; pooling, BN and
activations are not counted).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
import machine  # noqa: E402  (tools/bench/machine.py: CPU and OpenBLAS kernels)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = 32


MODEL = "vision"


def make_spec(shape):
    """The benchmarked spec for input [C, H, W]: vision: three stages when H and W divide by 8,
    else two; seed: the seed's three stride-2 stages without BatchNorm."""
    if MODEL == "seed":
        return {"preset": "conv", "input": list(shape), "channels": [16, 32, 64], "batch_norm": False, "seed": 0}
    channels = [16, 32, 64] if shape[1] % 8 == 0 and shape[2] % 8 == 0 else [16, 32]
    return {"preset": "conv", "input": list(shape), "channels": channels, "batch_norm": True,
            "downsample": "max_pool", "upsample": "nearest", "seed": 0}


def forward_macs(shape):
    """Multiply-adds of one image's forward pass through the convolutions of make_spec(shape)."""
    chans = [shape[0]] + make_spec(shape)["channels"]
    h, w = shape[1], shape[2]
    sizes = [(h, w)]
    macs = 0
    for a, b in zip(chans, chans[1:]):
        if MODEL == "seed":   # k3 s2 p1: out = (in - 1) // 2 + 1
            h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
            macs += b * h * w * a * 9
        else:                 # stride-1 conv at the input size, then a 2x2 pool
            macs += b * h * w * a * 9
            h, w = h // 2, w // 2
        sizes.append((h, w))
    for i in range(len(chans) - 1, 0, -1):
        hi, wi = sizes[i]
        ho, wo = sizes[i - 1]
        if MODEL == "seed":   # ConvTranspose: every input pixel meets c_out x 9 weights
            macs += chans[i] * hi * wi * chans[i - 1] * 9
        else:                 # upsample x2, then a stride-1 conv at the output size
            macs += chans[i - 1] * ho * wo * chans[i] * 9
    return macs


def train_flops(shape):
    return 2 * 3 * forward_macs(shape)
TORCH = {"torch 1.13": "/usr/bin/python3", "torch 2.x": "/opt/torch2/bin/python"}


def worker_aecv(seconds, threads, shape):
    sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
    import numpy as np
    import aecv
    aecv.set_num_threads(threads)
    m = aecv.Autoencoder(spec=make_spec(shape))
    x = np.random.default_rng(0).random((BATCH, *shape), dtype=np.float32)
    for _ in range(3):
        m.train_step(x)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        m.train_step(x)
        steps += 1
    return steps * BATCH / (time.perf_counter() - start)


def worker_torch(seconds, threads, shape):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    chans = [shape[0]] + make_spec(shape)["channels"]
    enc, dec = [], []
    if MODEL == "seed":
        sizes = [shape[1]]
        for _ in chans[1:]:
            sizes.append((sizes[-1] - 1) // 2 + 1)
        for a, b in zip(chans, chans[1:]):
            enc += [nn.Conv2d(a, b, 3, 2, 1), nn.ReLU()]
        for i in range(len(chans) - 1, 0, -1):
            pad = sizes[i - 1] - ((sizes[i] - 1) * 2 - 2 + 3)   # output_padding reaching the mirror size
            dec += [nn.ConvTranspose2d(chans[i], chans[i - 1], 3, 2, 1, output_padding=pad)]
            dec += [nn.Sigmoid()] if i == 1 else [nn.ReLU()]
    for a, b in ([] if MODEL == "seed" else zip(chans, chans[1:])):
        enc += [nn.Conv2d(a, b, 3, 1, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(), nn.MaxPool2d(2)]
    for i in ([] if MODEL == "seed" else range(len(chans) - 1, 0, -1)):
        last = i == 1
        dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(chans[i], chans[i - 1], 3, 1, 1, bias=last)]
        dec += [nn.Sigmoid()] if last else [nn.BatchNorm2d(chans[i - 1]), nn.ReLU()]
    model = nn.Sequential(*enc, *dec)
    assert model(torch.rand(1, *shape)).shape[1:] == tuple(shape), "the twin must reconstruct the input's shape"
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(BATCH, *shape)

    def step():
        opt.zero_grad()
        loss = F.mse_loss(model(x), x)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    return steps * BATCH / (time.perf_counter() - start)


def run(side, interpreter, seconds, threads, shape):
    env = dict(os.environ)
    env.setdefault("AECV_LIBRARY", os.path.join(REPO, "build", "lib", "libaecv.so"))
    out = subprocess.run([interpreter, os.path.abspath(__file__), "--worker", side,
                          "--seconds", str(seconds), "--threads", str(threads),
                          "--input", ",".join(map(str, shape)), "--model", MODEL],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
    return float(out.stdout.strip().splitlines()[-1]), None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--input", default="3,64,64", help="C,H,W of the images")
    ap.add_argument("--json", action="store_true", help="print only the JSON line")
    ap.add_argument("--model", choices=["vision", "seed"], default="vision")
    ap.add_argument("--worker", choices=["aecv", "torch"])
    args = ap.parse_args()
    global MODEL
    MODEL = args.model
    shape = [int(v) for v in args.input.split(",")]
    if args.worker:
        fn = worker_aecv if args.worker == "aecv" else worker_torch
        print(fn(args.seconds, int(args.threads), shape))
        return
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    sides = [("libaecv", "aecv", sys.executable)] + [(name, "torch", py) for name, py in TORCH.items()]
    results = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        samples = {name: [] for name, _, _ in sides}
        for _ in range(args.repeats):
            for name, kind, py in sides:   # alternated: every side sees the same machine state
                value, error = run(kind, py, args.seconds, threads, shape)
                if value is None:
                    print(f"{name} ({threads} thread(s)): {error}", file=sys.stderr)
                else:
                    samples[name].append(value)
        results[threads] = {k: statistics.median(v) for k, v in samples.items() if v}
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    summary = {"input": shape, "model": MODEL, "channels": make_spec(shape)["channels"], "batch": BATCH,
               "train_gflop_per_image": train_flops(shape) / 1e9,
               "results": results, "load_before": load_before, "load_after": load_after,
               "machine": machine.describe()}
    if args.json:
        print(json.dumps(summary))
        return
    title = "seed conv AE (stride 2, ConvTranspose)" if MODEL == "seed" else "conv AE + BatchNorm + max_pool + nearest upsample"
    print(f"machine: {summary['machine']}")
    print(f"{title}, {'x'.join(map(str, shape))}, {train_flops(shape) / 1e6:.1f} MFLOP per training image, "
          f"channels {make_spec(shape)['channels']}, batch {BATCH}, Adam; "
          f"images/s (median of {args.repeats} x {args.seconds:g} s)")
    names = [name for name, _, _ in sides]
    print("| threads | " + " | ".join(names) + " | " + " | ".join(f"libaecv / {n}" for n in names[1:]) + " |")
    print("|---" * (1 + 2 * len(names) - 1) + "|")
    for threads, r in results.items():
        cells = [f"{r[n]:.0f}" if n in r else "-" for n in names]
        ratios = [f"{r['libaecv'] / r[n]:.2f}x" if n in r and "libaecv" in r else "-" for n in names[1:]]
        print(f"| {threads} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    best = {n: max(r[n] for r in results.values() if n in r) for n in names if any(n in r for r in results.values())}
    if "libaecv" in best:
        print("best thread setting of each side: " + ", ".join(
            f"libaecv / {n} = {best['libaecv'] / best[n]:.2f}x" for n in names[1:] if n in best))
    print(f"load average before {' '.join(load_before)}, after {' '.join(load_after)}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
