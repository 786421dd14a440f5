#!/usr/bin/python3
"""The PyTorch side of tools/anomaly_bench.py: one-class Fashion-MNIST AUROC (Ruff et al. 2018)
of the conv autoencoder with the MSE score, as issue 8 measured it (mean 0.817).

For each class c: train the conv AE (the architecture of libaecv's "conv" preset: Conv2d
1->16->32->64, kernel 3, stride 2, padding 1, ReLU, mirrored by ConvTranspose2d with output
padding 0, 1, 1 and a Sigmoid) on the 6,000 training images of class c, 10 epochs, Adam 1e-3,
batch 64, MSE loss (mean over pixels), shuffled each epoch; score the 10,000 test images by
their per-image MSE; AUROC with c normal and the rest anomalous (midrank formula, ties = 1/2).

Needs Debian's python3-torch and numpy: run with /usr/bin/python3 (the pyenv python3 has no
torch). One thread by default (on 2 cores, torch's OpenMP pool plus OpenBLAS's threads at 2
oversubscribe them):

    /usr/bin/python3 tools/anomaly_bench_torch.py [--classes 0,1,...] [--epochs 10]
        [--threads 1] [--seed 0] [--json torch.json]

then `tools/anomaly_bench.py --torch-json torch.json` prints these numbers in its table.
"""

import argparse
import os
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write {'auroc': {class: auc}, ...} to this file")
    return p.parse_args()


args = parse_args()
# Before torch is imported: its pools are sized at load time.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import gzip  # noqa: E402
import json  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.nn as nn  # noqa: E402,F401
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_models import ConvAE  # noqa: E402  (the conv preset's module)
except ImportError as e:
    print(f"anomaly_bench_torch: SKIPPED: torch cannot be imported by {sys.executable} ({e}); "
          f"run it with /usr/bin/python3 (Debian's python3-torch)")
    sys.exit(0)

DATA = "/usr/share/datasets/fashion-mnist"


def load_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def roc_auc(is_positive, scores):
    """Mann-Whitney U / (n_pos n_neg) with midranks for ties."""
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    lengths = np.diff(np.r_[starts, s.size])
    ranks = np.empty(s.size)
    ranks[order] = np.repeat(starts + (lengths + 1) / 2.0, lengths)
    n_pos = int(is_positive.sum())
    n_neg = s.size - n_pos
    return float((ranks[is_positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def main():
    torch.set_num_threads(args.threads)
    classes = [int(c) for c in args.classes.split(",")]
    Xtr = torch.from_numpy(load_idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255)
    ytr = load_idx("train-labels-idx1-ubyte.gz")
    Xte = torch.from_numpy(load_idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255)
    yte = load_idx("t10k-labels-idx1-ubyte.gz")
    Xtr, Xte = Xtr[:, None], Xte[:, None]
    aucs = {}
    total = time.perf_counter()
    for c in classes:
        start = time.perf_counter()
        torch.manual_seed(args.seed + c)
        model = ConvAE()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        normal = Xtr[torch.from_numpy(ytr == c)]
        n = normal.shape[0]
        for _ in range(args.epochs):
            order = torch.randperm(n)
            for i in range(0, n, 64):
                x = normal[order[i:i + 64]]
                loss = ((model.reconstruct(x) - x) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            scores = torch.cat([((model.reconstruct(Xte[i:i + 1000]) - Xte[i:i + 1000]) ** 2)
                                .mean(dim=(1, 2, 3)) for i in range(0, len(Xte), 1000)])
        aucs[c] = roc_auc(yte != c, scores.numpy().astype(np.float64))
        print(f"  torch conv_mse class {c}: AUROC {aucs[c]:.4f} ({time.perf_counter() - start:.1f} s)",
              file=sys.stderr, flush=True)
    print("class " + " ".join(f"{c:>5d}" for c in classes) + "   mean")
    print("AUROC " + " ".join(f"{aucs[c]:5.3f}" for c in classes) + f"  {np.mean(list(aucs.values())):.3f}")
    print(f"({time.perf_counter() - total:.0f} s, torch {torch.__version__}, {args.threads} thread(s))",
          file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"recipe": "conv_mse", "epochs": args.epochs, "seed": args.seed,
                       "torch": torch.__version__, "auroc": aucs}, f, indent=1)


if __name__ == "__main__":
    main()
