#!/usr/bin/python3
"""PyTorch side of the benchmark (the reference libaecv is compared with; see tools/bench/).

    /usr/bin/python3 tools/bench_torch.py --model MODEL --batch 64 --threads 1 --seconds 5 [--json]
    /usr/bin/python3 tools/bench_torch.py --model conv --threads 1 --latency [--json]
    /usr/bin/python3 tools/bench_torch.py --model conv --threads 1 --encode-latency [--json]
    /usr/bin/python3 tools/bench_torch.py --model conv --threads 1 --full-epoch-rss [--json]

MODEL: conv | dense | vae | conv_vae | sparse | denoising -- libaecv's presets with their defaults
(tools/make_golden.py checks that the conv, dense and vae modules match them):
  conv      Conv2d 1->16->32->64 (k3 s2 p1) + ReLU, mirrored ConvTranspose2d (output padding 0, 1,
            1) + ReLU, Sigmoid output; MSE (mean). 46,529 parameters.
  dense     784-256-64 (ReLU) | 64-256 (ReLU) -784 (Sigmoid); MSE (mean).
  vae       784-400-(mu, logvar: 20) | 20-400-784, Bernoulli decoder: BCE-with-logits summed over
            pixels + KL, divided by the batch (the negative ELBO per example).
  conv_vae  the conv encoder + flatten + Linear(1024, 20) x 2 heads (mu, logvar); decoder
            Linear(20, 1024) + ReLU + unflatten(64, 4, 4) + the mirrored ConvTranspose2d stages
            (output padding 0, 1, 1; ReLU between, logits out); the vae's loss.
  sparse    dense + an L1 activity penalty on the code: 1e-3 * mean(|code|) (libaecv's default
            "sparsity": {"l1": 1e-3, "reduction": "mean"}).
  denoising conv trained on x + N(0, 0.3^2) clipped to [0, 1], target the clean x (libaecv's
            default "noise": {"gaussian": 0.3}).

Training mode (default): loads the Fashion-MNIST training images into memory as float32 in [0, 1]
(gzip + IDX parse in chunks, no torchvision, no numpy), trains with Adam lr 1e-3 (PyTorch
defaults; --foreach for the multi-tensor variant), runs --warmup steps (20, or
--warmup-seconds at most), then --repeats
windows (1) of about --seconds each over shuffled full batches (partial batches dropped) and
prints images/s (the median window). The time includes the batch gather (index_select).

--latency: the mean time of encoding ONE image and of reconstructing ONE image (batch 1, eval
mode, torch.no_grad(); vae/conv_vae: through mu, reconstruct = sigmoid(decoder(mu))), in
microseconds, each the median of --repeats windows of --seconds (default 1 s) after 200 calls.
--encode-latency: the same, encode only (the first version's flag).

--full-epoch-rss: trains the model once over all 60,000 training images at --batch and reports
the peak RSS (resource.getrusage ru_maxrss), with the RSS before and after loading the data.
The data is held as one float32 tensor of 60000x1x28x28 (188 MB), filled chunk by chunk from the
gzip stream so the raw file is never held in memory next to it (bench_train does the same). --loader whole reads the whole file first instead, as the first
version of this script did (issue 9's 530-630 MB reference).

Threads: OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS are set to --threads BEFORE
torch is imported (the pools are sized at load time, and Debian's torch calls OpenBLAS, whose own
pool would otherwise start one thread per core and compete with torch's OpenMP pool), and then
torch.set_num_threads(threads) and torch.set_num_interop_threads(1).

Use /usr/bin/python3 (Debian's python3-torch); the pyenv python3 on PATH has no torch. When torch
cannot be imported this script prints a line starting with "bench_torch: SKIPPED" (or, with
--json, {"skipped": "..."}) and exits with status 3.
"""

import argparse
import os
import sys

MODEL_NAMES = ("conv", "dense", "vae", "conv_vae", "sparse", "denoising")


def parse_args():
    ap = argparse.ArgumentParser(description="PyTorch autoencoder training/latency/RSS benchmark")
    ap.add_argument("--model", choices=MODEL_NAMES, required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=None,
                    help="length of one measured window (training 5 s, latency 1 s)")
    ap.add_argument("--repeats", type=int, default=1, help="measured windows; the median is reported")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up steps (20) or calls (200)")
    ap.add_argument("--warmup-seconds", type=float, default=2.0,
                    help="stop the warm-up early after this long (2 threads can be pathologically "
                         "slow here, e.g. 16 images/s)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--latency", action="store_true",
                      help="time encoding and reconstructing a single image instead of training")
    mode.add_argument("--encode-latency", action="store_true",
                      help="time encoding a single image instead of training")
    mode.add_argument("--full-epoch-rss", action="store_true",
                      help="train one epoch over all training images and report the peak RSS")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--foreach", action="store_true",
                    help="Adam(foreach=True): multi-tensor Adam (PyTorch 1.13's CPU default is the "
                         "per-parameter loop); 20-35%% faster for dense here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="load only the first N training images")
    ap.add_argument("--loader", choices=("chunked", "whole"), default="chunked",
                    help="chunked: fill the float32 tensor from the gzip stream a chunk at a time "
                         "(default); whole: read the whole file, copy it to a bytearray, convert "
                         "(the first version's loader: a higher peak RSS)")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    a = ap.parse_args()
    if a.seconds is None:
        a.seconds = 1.0 if (a.latency or a.encode_latency) else 5.0
    if a.warmup is None:
        a.warmup = 200 if (a.latency or a.encode_latency) else 20
    if a.batch < 1 or a.threads < 1 or a.repeats < 1 or a.seconds <= 0:
        ap.error("--batch, --threads, --repeats and --seconds must be positive")
    if a.full_epoch_rss and a.limit:
        ap.error("--full-epoch-rss uses the whole training set; drop --limit")
    return a


args = parse_args()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import gzip  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402


def current_rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


RSS_BEFORE_TORCH_KB = current_rss_kb()

try:
    import torch  # noqa: E402
    import torch.nn as nn  # noqa: E402
    import torch.nn.functional as F  # noqa: E402
    from torch_models import MODELS  # noqa: E402  (after the thread variables are set)
except ImportError as e:  # pragma: no cover - depends on the machine
    msg = f"torch cannot be imported by {sys.executable} ({e}); install Debian's python3-torch " \
          "and run this script with /usr/bin/python3"
    print(json.dumps({"skipped": msg}) if args.json else f"bench_torch: SKIPPED: {msg}")
    sys.exit(3)


def load_idx_images_whole(path, limit=0):
    """The first version's loader: the decompressed file, a bytearray copy of it and the float32
    tensor are all alive at once (the peak RSS issue 9's reference was measured with)."""
    with gzip.open(path, "rb") as f:
        blob = f.read()
    magic, n, h, w = struct.unpack(">IIII", blob[:16])
    assert magic == 2051, f"{path}: not an IDX3 image file"
    if limit:
        n = min(n, limit)
    pixels = torch.frombuffer(bytearray(blob[16:16 + n * h * w]), dtype=torch.uint8)
    return pixels.reshape(n, 1, h, w).to(torch.float32).div_(255.0)


def load_idx_images(path, limit=0, chunk=1 << 20):
    """IDX3 (magic 2051, big-endian N, H, W, then uint8 pixels) -> float32 (N, 1, H, W) in [0, 1].

    Streams the gzip file into one preallocated float32 tensor, a chunk at a time, so the peak
    memory is the float32 data plus one chunk (not the raw file and its copies as well)."""
    with gzip.open(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        assert magic == 2051, f"{path}: not an IDX3 image file"
        if limit:
            n = min(n, limit)
        out = torch.empty((n, 1, h, w), dtype=torch.float32)
        flat = out.view(-1)
        total, done = n * h * w, 0
        while done < total:
            blob = f.read(min(chunk, total - done))
            if not blob:
                raise EOFError(f"{path}: truncated")
            pixels = torch.frombuffer(bytearray(blob), dtype=torch.uint8)
            flat[done:done + len(blob)].copy_(pixels).div_(255.0)
            done += len(blob)
    return out



def batch_stream(images, batch):
    """Shuffled full batches forever (a new permutation per pass)."""
    n = images.shape[0] // batch * batch
    while True:
        order = torch.randperm(images.shape[0])[:n]
        for i in range(0, n, batch):
            yield images.index_select(0, order[i:i + batch])


def make_step(model, foreach):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=foreach)
    model.train()

    def step(x):
        opt.zero_grad(set_to_none=True)
        loss = model.loss(x)
        loss.backward()
        opt.step()
        return loss
    return step


def bench_training(model, images, batch, seconds, repeats, warmup, foreach=False):
    step = make_step(model, foreach)
    stream = batch_stream(images, batch)
    start = time.perf_counter()
    for _ in range(warmup):
        step(next(stream))
        if time.perf_counter() - start >= args.warmup_seconds:
            break
    windows, steps_total, seconds_total = [], 0, 0.0
    for _ in range(repeats):
        steps, start = 0, time.perf_counter()
        while True:
            loss = step(next(stream))
            steps += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        windows.append(steps * batch / elapsed)
        steps_total += steps
        seconds_total += elapsed
    return {"images_per_second": statistics.median(windows), "windows": windows,
            "steps": steps_total, "seconds": seconds_total, "final_loss": loss.item()}


def time_calls(fn, x, seconds, repeats, warmup):
    """Median over windows of the mean time of one call, in microseconds."""
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(warmup):
            fn(x)
            if time.perf_counter() - start >= args.warmup_seconds:
                break
        windows, calls_total = [], 0
        for _ in range(repeats):
            calls, start = 0, time.perf_counter()
            while True:
                for _ in range(100):
                    fn(x)
                calls += 100
                elapsed = time.perf_counter() - start
                if elapsed >= seconds:
                    break
            windows.append(elapsed / calls * 1e6)
            calls_total += calls
    return statistics.median(windows), calls_total


def bench_latency(model, images, seconds, repeats, warmup, reconstruct=True):
    model.eval()
    x = images[:1].clone()
    enc, enc_calls = time_calls(model.encode, x, seconds, repeats, warmup)
    result = {"encode_latency_us": enc, "calls": enc_calls}
    if reconstruct:
        rec, rec_calls = time_calls(model.reconstruct, x, seconds, repeats, warmup)
        result.update({"reconstruct_latency_us": rec, "reconstruct_calls": rec_calls})
    return result


def bench_full_epoch(model, images, batch, foreach=False):
    step = make_step(model, foreach)
    n = images.shape[0] // batch * batch
    order = torch.randperm(images.shape[0])[:n]
    start = time.perf_counter()
    for i in range(0, n, batch):
        loss = step(images.index_select(0, order[i:i + batch]))
    elapsed = time.perf_counter() - start
    return {"images": n, "epochs": 1, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "images_per_second": n / elapsed, "seconds": elapsed, "final_loss": loss.item()}


def main():
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    rss_before = current_rss_kb()
    loader = load_idx_images if args.loader == "chunked" else load_idx_images_whole
    images = loader(args.data, args.limit)
    rss_data = current_rss_kb()
    model = MODELS[args.model]()
    result = {"side": "pytorch", "model": args.model, "threads": args.threads,
              "torch": torch.__version__,
              "parameters": sum(p.numel() for p in model.parameters())}
    if args.latency or args.encode_latency:
        result["mode"] = "latency"
        result["batch"] = 1
        result.update(bench_latency(model, images, args.seconds, args.repeats, args.warmup,
                                    reconstruct=args.latency))
        line = f"{args.model}: encode 1 image {result['encode_latency_us']:.1f} us"
        if args.latency:
            line += f", reconstruct 1 image {result['reconstruct_latency_us']:.1f} us"
        line += f" ({args.threads} thread(s), {result['calls']} calls)"
    elif args.full_epoch_rss:
        result["mode"] = "rss"
        result["batch"] = args.batch
        result.update(bench_full_epoch(model, images, args.batch, args.foreach))
        result.update({"loader": args.loader, "rss_before_torch_kb": RSS_BEFORE_TORCH_KB, "rss_before_data_kb": rss_before,
                       "rss_after_data_kb": rss_data, "data_bytes": images.numel() * 4})
        line = f"{args.model}: full epoch over {result['images']} images: peak RSS " \
               f"{result['peak_rss_kb'] / 1024:.1f} MB (python alone {RSS_BEFORE_TORCH_KB / 1024:.1f} MB, " \
               f"after import torch {rss_before / 1024:.1f} MB, with data {rss_data / 1024:.1f} MB), " \
               f"{result['images_per_second']:.0f} images/s, loss {result['final_loss']:.4f}"
    else:
        result["mode"] = "train"
        result["batch"] = args.batch
        result["foreach"] = args.foreach
        result.update(bench_training(model, images, args.batch, args.seconds, args.repeats,
                                     args.warmup, args.foreach))
        line = f"{args.model}: {result['images_per_second']:.0f} images/s " \
               f"(batch {args.batch}, {args.threads} thread(s), {result['steps']} steps in " \
               f"{result['seconds']:.2f} s, loss {result['final_loss']:.4f})"
    print(json.dumps(result) if args.json else line)


if __name__ == "__main__":
    sys.exit(main())
