#!/usr/bin/python3
"""PyTorch side of the training benchmark (the reference libaecv is compared with).

    /usr/bin/python3 tools/bench_torch.py --model conv|dense|vae --batch 64 --threads 1 --seconds 5 [--json]
    /usr/bin/python3 tools/bench_torch.py --model conv --threads 1 --encode-latency [--json]

Training mode: loads the Fashion-MNIST training images into memory as float32 in [0, 1] (gunzip +
IDX parse, no torchvision), builds the preset (same modules as tools/make_golden.py, full widths),
trains with Adam lr 1e-3 (PyTorch defaults; --foreach for the multi-tensor variant) (conv/dense: MSELoss mean; vae: BCE-with-logits summed over pixels + KL,
divided by the batch), runs 20 warm-up steps, then trains for about --seconds over shuffled full
batches (partial batches dropped) and prints images/s. The time includes the batch gather.

--encode-latency: the time of encoding ONE image (batch 1, eval mode, torch.no_grad(); vae: mu)
averaged over many calls, in microseconds.

Threads: OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS are set to --threads BEFORE
torch is imported (the pools are sized at load time, and Debian's torch calls OpenBLAS, whose own
pool would otherwise start one thread per core and compete with torch's OpenMP pool), and then
torch.set_num_threads(threads) and torch.set_num_interop_threads(1).

Use /usr/bin/python3 (Debian's python3-torch); the pyenv python3 on PATH has no torch.
"""

import argparse
import os
import sys


def parse_args():
    ap = argparse.ArgumentParser(description="PyTorch autoencoder training/encode benchmark")
    ap.add_argument("--model", choices=("conv", "dense", "vae"), required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=5.0, help="training time to measure")
    ap.add_argument("--encode-latency", action="store_true",
                    help="time encoding a single image instead of training")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--foreach", action="store_true",
                    help="Adam(foreach=True): multi-tensor Adam (PyTorch 1.13's CPU default is the "
                         "per-parameter loop); 20-35%% faster for dense here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    return ap.parse_args()


args = parse_args()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import gzip  # noqa: E402
import json  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def load_idx_images(path):
    """IDX3 (magic 2051, big-endian N, H, W, then uint8 pixels) -> float32 (N, 1, H, W) in [0, 1]."""
    with gzip.open(path, "rb") as f:
        blob = f.read()
    magic, n, h, w = struct.unpack(">IIII", blob[:16])
    assert magic == 2051, f"{path}: not an IDX3 image file"
    pixels = torch.frombuffer(bytearray(blob[16:16 + n * h * w]), dtype=torch.uint8)
    return pixels.reshape(n, 1, h, w).to(torch.float32).div_(255.0)


class ConvAE(nn.Module):
    """The `conv` preset, 46529 parameters, 1x28x28 -> 64x4x4 -> 1x28x28."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=0), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1), nn.Sigmoid())

    def encode(self, x):
        return self.encoder(x)

    def loss(self, x):
        return F.mse_loss(self.decoder(self.encoder(x)), x)


class DenseAE(nn.Module):
    """The `dense` preset, 784-256-64-256-784."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 64), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())

    def encode(self, x):
        return self.encoder(x.flatten(1))

    def loss(self, x):
        x = x.flatten(1)
        return F.mse_loss(self.decoder(self.encoder(x)), x)


class VAE(nn.Module):
    """The `vae` preset, 784-400-(mu, logvar: 20)-400-784, Bernoulli decoder."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc_mu = nn.Linear(400, 20)
        self.fc_logvar = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        return self.fc_mu(F.relu(self.fc1(x.flatten(1))))

    def loss(self, x):
        x = x.flatten(1)
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.fc4(F.relu(self.fc3(z)))
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (recon + kl) / x.shape[0]


MODELS = {"conv": ConvAE, "dense": DenseAE, "vae": VAE}


def bench_training(model, images, batch, seconds, foreach=False, warmup=20):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=foreach)
    model.train()
    n = images.shape[0] // batch * batch

    def batches():
        while True:
            order = torch.randperm(images.shape[0])[:n]
            for i in range(0, n, batch):
                yield images.index_select(0, order[i:i + batch])

    def step(x):
        opt.zero_grad(set_to_none=True)
        loss = model.loss(x)
        loss.backward()
        opt.step()
        return loss

    stream = batches()
    for _ in range(warmup):
        step(next(stream))
    steps, start = 0, time.perf_counter()
    while True:
        loss = step(next(stream))
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    return {"images_per_second": steps * batch / elapsed, "steps": steps,
            "seconds": elapsed, "final_loss": loss.item()}


def bench_encode(model, images, min_seconds=2.0, warmup=200):
    model.eval()
    x = images[:1].clone()
    with torch.no_grad():
        for _ in range(warmup):
            model.encode(x)
        calls, start = 0, time.perf_counter()
        while True:
            for _ in range(100):
                model.encode(x)
            calls += 100
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
    return {"encode_latency_us": elapsed / calls * 1e6, "calls": calls}


def main():
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    images = load_idx_images(args.data)
    model = MODELS[args.model]()
    result = {"model": args.model, "threads": args.threads, "torch": torch.__version__}
    if args.encode_latency:
        result.update(bench_encode(model, images))
        line = f"{args.model}: encode 1 image {result['encode_latency_us']:.1f} us " \
               f"({args.threads} thread(s), {result['calls']} calls)"
    else:
        result["batch"] = args.batch
        result["foreach"] = args.foreach
        result.update(bench_training(model, images, args.batch, args.seconds, args.foreach))
        line = f"{args.model}: {result['images_per_second']:.0f} images/s " \
               f"(batch {args.batch}, {args.threads} thread(s), {result['steps']} steps in " \
               f"{result['seconds']:.2f} s, loss {result['final_loss']:.4f})"
    print(json.dumps(result) if args.json else line)


if __name__ == "__main__":
    sys.exit(main())
