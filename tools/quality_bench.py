#!/usr/bin/env python3
"""Quality of the autoencoder family, libaecv next to PyTorch, in one run (issue 4's table).

    PYTHONPATH=bindings/python AECV_LIBRARY=build/lib/libaecv.so.0.1.0 \
        python3 tools/quality_bench.py [--epochs 5] [--presets dense,sparse,denoising,vae] [--json out.json]

Recipe (both sides): Fashion-MNIST (Debian's dataset-fashion-mnist), all 60,000 training images,
Adam 1e-3, batch 64, seed 0, shuffled each epoch, partial batches dropped. After every epoch,
on the 10,000 test images:
  dense, sparse, conv, ... : test MSE per pixel of the reconstructions;
  denoising (Gaussian 0.3) : MSE per pixel of denoise(noisy test) against the clean test images,
                             the noise drawn once with numpy seed 0 and shared by both sides;
  vae, conv_vae            : test ELBO (−loss, nats per image, one ε draw) and the MSE of the
                             decoded mean.
libaecv runs in this process through the Python binding (default python3); PyTorch runs in a
subprocess with Debian's torch (/usr/bin/python3 tools/quality_bench.py --torch-side ...), at 1
thread. Without torch the PyTorch column says "skipped".
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = "/usr/share/datasets/fashion-mnist/"
PRESETS = {
    # name: (libaecv spec fields, torch module name, metric kind)
    "conv": ({"preset": "conv"}, "conv", "mse"),
    "dense": ({"preset": "dense"}, "dense", "mse"),
    "sparse": ({"preset": "sparse", "sparsity": {"l1": 1e-3, "reduction": "mean"}}, "sparse", "mse"),
    "sparse_kl": ({"preset": "sparse", "sparsity": {"kl": {"rho": 0.05, "beta": 3}}}, "sparse_kl", "mse"),
    "denoising": ({"preset": "denoising", "noise": {"gaussian": 0.3}}, "denoising", "denoise"),
    "denoising_masking": ({"preset": "denoising", "noise": {"masking": 0.25}}, None, "denoise_masking"),
    "denoising_salt_pepper": ({"preset": "denoising", "noise": {"salt_pepper": 0.1}}, None, "denoise_salt_pepper"),
    "vae": ({"preset": "vae"}, "vae", "elbo"),
    "conv_vae": ({"preset": "conv_vae"}, "conv_vae", "elbo"),
}


def load_idx(path):
    with gzip.open(path) as f:
        data = f.read()
    ndim = data[3]
    dims = np.frombuffer(data, ">u4", count=ndim, offset=4)
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_data():
    train = load_idx(ROOT + "train-images-idx3-ubyte.gz").astype(np.float32)[:, None] / 255
    test = load_idx(ROOT + "t10k-images-idx3-ubyte.gz").astype(np.float32)[:, None] / 255
    return train, test


def corrupted(test, kind):
    """The test set corrupted once, identically for both sides."""
    rng = np.random.default_rng(0)
    if kind == "denoise":
        return np.clip(test + 0.3 * rng.standard_normal(test.shape, dtype=np.float32), 0, 1)
    if kind == "denoise_masking":
        return np.where(rng.random(test.shape) < 0.25, 0, test).astype(np.float32)
    u = rng.random(test.shape)
    return np.where(u < 0.1, np.where(u < 0.05, 0, 1), test).astype(np.float32)


def mse(a, b):
    return float(np.mean((a.astype(np.float64) - b) ** 2))


# ------------------------------------------------------------------------------------------------
# libaecv side

def run_libaecv(name, epochs, train, test, threads):
    import aecv
    aecv.set_num_threads(threads)
    fields, _, kind = PRESETS[name]
    spec = dict(fields, input=[1, 28, 28], seed=0)
    results = []
    noisy = corrupted(test, kind) if kind.startswith("denoise") else None
    with aecv.Autoencoder(spec=spec) as m:
        start = time.time()
        for epoch in range(epochs):
            m.fit(train, epochs=1, batch_size=64, shuffle=True, progress=False)
            row = {"epoch": epoch + 1, "seconds": round(time.time() - start, 1)}
            if kind == "elbo":
                row["elbo"] = -m.evaluate(test)
                row["mse"] = mse(m.reconstruct(test), test)
            elif noisy is not None:
                row["mse"] = mse(m.reconstruct(noisy), test)
            else:
                row["mse"] = mse(m.reconstruct(test), test)
            results.append(row)
    return results


# ------------------------------------------------------------------------------------------------
# PyTorch side (run by /usr/bin/python3 with --torch-side)

def run_torch(name, epochs, train, test):
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch
    from torch_models import MODELS, vae_loss  # noqa: F401
    torch.set_num_threads(1)
    torch.manual_seed(0)
    _, module_name, kind = PRESETS[name]
    model = MODELS[module_name]()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_train, x_test = torch.from_numpy(train), torch.from_numpy(test)
    noisy = torch.from_numpy(corrupted(test, kind)) if kind.startswith("denoise") else None
    generator = torch.Generator().manual_seed(0)
    results = []
    start = time.time()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for i in range(0, len(order) - 63, 64):
            loss = model.loss(x_train[order[i:i + 64]])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        row = {"epoch": epoch + 1, "seconds": round(time.time() - start, 1)}
        with torch.no_grad():
            if kind == "elbo":
                row["elbo"] = -float(sum(model.loss(x_test[i:i + 1000]) * len(x_test[i:i + 1000])
                                         for i in range(0, len(x_test), 1000)) / len(x_test))
                row["mse"] = mse(model.reconstruct(x_test).numpy(), test)
            elif noisy is not None:
                row["mse"] = mse(model.reconstruct(noisy).numpy(), test)
            else:
                row["mse"] = mse(model.reconstruct(x_test).numpy(), test)
        results.append(row)
    return results


def torch_results(name, epochs):
    if PRESETS[name][1] is None:
        return None
    cmd = ["/usr/bin/python3", os.path.abspath(__file__), "--torch-side", name, "--epochs", str(epochs)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"PyTorch side skipped: {e}", file=sys.stderr)
        return None
    if out.returncode != 0:
        print(f"PyTorch side skipped ({name}): {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--presets", default="dense,sparse,denoising,vae")
    ap.add_argument("--threads", type=int, default=2, help="libaecv threads")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--torch-side", help=argparse.SUPPRESS)
    a = ap.parse_args()
    train, test = load_data()
    if a.torch_side:
        print(json.dumps(run_torch(a.torch_side, a.epochs, train, test)))
        return
    report = {}
    for name in a.presets.split(","):
        ours = run_libaecv(name, a.epochs, train, test, a.threads)
        theirs = None if a.no_torch else torch_results(name, a.epochs)
        report[name] = {"libaecv": ours, "pytorch": theirs}
        last, ref = ours[-1], (theirs[-1] if theirs else None)
        measure = "elbo" if "elbo" in last else "mse"
        ratio = f"{last[measure] / ref[measure]:.3f}" if ref else "-"
        extra = f"  (decoded-mean MSE {last['mse']:.4f} vs {ref['mse']:.4f})" if ref and measure == "elbo" else ""
        print(f"{name:22s} epoch {last['epoch']}: {measure} libaecv {last[measure]:.4f} ({last['seconds']} s)  "
              f"PyTorch {ref[measure] if ref else float('nan'):.4f} ({ref['seconds'] if ref else '-'} s)  "
              f"ratio {ratio}{extra}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
