#!/usr/bin/env python3
"""Real-image sizes, side by side in one run (issue 15): libaecv against PyTorch 1.13
(/usr/bin/python3) and PyTorch 2 (/opt/torch2/bin/python), and the decoders against Pillow.

    make lib cli && flock /tmp/aecv-heavy.lock /usr/bin/python3 tools/image_bench.py
        [--sizes 64,128,256] [--seconds 4] [--decode-images 200] [--stream-images 3000]
        [--sections 1,2,3]

Needs numpy and Pillow (python3-numpy, python3-pil) in this interpreter.

 1. Training throughput, conv preset at 3xSxS, batch 32, Adam: each side at 1 and 2 threads in
    its own subprocess (libaecv through the Python binding on build/lib, PyTorch eager), warm-up
    steps then a timed window; the best thread count of each side is compared. Ratio =
    libaecv img/s / PyTorch img/s. Peak RSS (ru_maxrss) of each worker process is shown too.
 2. Decoding + preparation of JPEGs to 3xSxS float32 (decode, convert, shorter-side resize,
    centre crop, scale), 1 thread: `aecv images DIR --size S --rgb` against the same pipeline in
    Pillow + numpy (what torchvision's Resize + CenterCrop + ToTensor do).
 3. Memory of `aecv train --size 128 --rgb` on --stream-images generated JPEGs (a comma list
    gives several set sizes), streamed and held in memory: peak RSS of each process (os.wait4),
    next to the size of the set as uint8 (how it is held in memory) and as float32.
Prints the CPU model and flags, the load average before and after. Never asserts on time.

--avx2 measures, on an AVX-512 machine, what an AVX2-only CPU runs: libaecv from build/lib-avx2
(`make lib-avx2`: im2col + OpenBLAS sgemm instead of the AVX-512 direct convolutions) and
PyTorch limited to AVX2 (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA=AVX2),
with OpenBLAS on its Haswell (AVX2) kernels unless OPENBLAS_CORETYPE is already set.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
import machine  # noqa: E402  (tools/bench/machine.py: CPU and OpenBLAS kernels)
LIB = os.path.join(ROOT, "build", "lib", "libaecv.so.0.1.0")
CLI = os.path.join(ROOT, "build", "bin", "aecv")
TORCH1 = "/usr/bin/python3"
TORCH2 = "/opt/torch2/bin/python"

WORKER = r"""
import json, os, resource, sys, time
side, size, threads, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
import numpy as np
rng = np.random.default_rng(0)
x = rng.random((32, 3, size, size), dtype=np.float32)
if side == "aecv":
    import aecv
    aecv.set_num_threads(threads)
    # The seed's stages (the PyTorch twin's), not the 64 px default with BatchNorm.
    m = aecv.Autoencoder("conv", input_shape=(3, size, size), seed=0, batch_norm=False)
    step = lambda: m.train_step(x)
else:
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(16, 3, 3, 2, 1, output_padding=1), nn.Sigmoid())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt = torch.from_numpy(x)
    def step():
        opt.zero_grad()
        loss = nn.functional.mse_loss(net(xt), xt)
        loss.backward()
        opt.step()
for _ in range(3):
    step()
n, start = 0, time.perf_counter()
while time.perf_counter() - start < seconds:
    step(); n += 1
elapsed = time.perf_counter() - start
print(json.dumps({"img_s": 32 * n / elapsed, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def train_worker(python, side, size, threads, seconds, env):
    out = subprocess.run([python, "-c", WORKER, side, str(size), str(threads), str(seconds)],
                         capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
    return json.loads(out.stdout.strip().splitlines()[-1]), None


def photo(rng, h, w):
    import numpy as np
    y, x = np.mgrid[0:h, 0:w]
    planes = [128 + 70 * np.sin(x / (9.0 + 4 * c)) * np.cos(y / (11.0 + c)) + rng.normal(0, 10, (h, w))
              for c in range(3)]
    return np.clip(np.stack(planes, axis=2), 0, 255).astype("uint8")


def make_jpegs(directory, count, size, rng):
    from PIL import Image
    os.makedirs(directory, exist_ok=True)
    base = [photo(rng, int(size * 1.25), int(size * 1.5)) for _ in range(8)]
    for i in range(count):
        img = base[i % 8]
        Image.fromarray(img).save(os.path.join(directory, f"{i:06d}.jpg"), quality=90)


def pillow_pipeline(files, size):
    import numpy as np
    from PIL import Image
    start = time.perf_counter()
    for path in files:
        im = Image.open(path).convert("RGB")
        w, h = im.size
        s, l = (w, h) if w <= h else (h, w)
        nl = int(size * l / s)
        im = im.resize((size, nl) if w <= h else (nl, size), Image.BILINEAR)
        nw, nh = im.size
        top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
        im = im.crop((left, top, left + size, top + size))
        _ = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return len(files) / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,128,256")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--decode-images", type=int, default=200)
    ap.add_argument("--stream-images", default="3000", help="set sizes for section 3, e.g. 2000,20000")
    ap.add_argument("--sections", default="1,2,3", help="which sections to run")
    ap.add_argument("--avx2", action="store_true",
                    help="both sides on AVX2 kernels only (libaecv from build/lib-avx2: make lib-avx2)")
    args = ap.parse_args()
    global LIB
    if args.avx2:
        LIB = os.path.join(ROOT, "build", "lib-avx2", "libaecv.so.0.1.0")
        os.environ.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2", DNNL_MAX_CPU_ISA="AVX2")
        # OpenBLAS's AVX2 kernels, as on an AVX2 CPU it knows: without this an OpenBLAS that does
        # not know this CPU (Debian's 0.3.21 on an Intel family 6 model 207) runs SSE3 ones.
        os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")
    sections = {int(s) for s in args.sections.split(",")}
    sizes = [int(s) for s in args.sizes.split(",")]
    for path in (LIB, CLI):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run make lib cli first")
    work = tempfile.mkdtemp(prefix="aecv-image-bench-")
    # A snapshot of the library: others may rebuild build/lib while this runs.
    lib = os.path.join(work, "libaecv.so.0.1.0")
    shutil.copy(LIB, lib)
    env = dict(os.environ, AECV_LIBRARY=lib, PYTHONPATH=os.path.join(ROOT, "bindings", "python"))
    print(f"CPU: {machine.describe()}" + ("; AVX2 kernels only on both sides (--avx2)" if args.avx2 else ""))
    print(f"load average before: {loadavg()}")
    import numpy as np
    rng = np.random.default_rng(15)
    have2 = os.path.exists(TORCH2)

    if 1 in sections:
        training(args, sizes, env, have2)
    if 2 in sections:
        decoding(args, sizes, work, rng)
    if 3 in sections:
        for n in [int(s) for s in args.stream_images.split(",")]:
            memory(n, work, rng)
    shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average after: {loadavg()}")


def training(args, sizes, env, have2):
    print(f"\n1. training, conv preset, batch 32, Adam; img/s (best of 1 and 2 threads), {args.seconds:.0f} s windows")
    print(f"{'input':>10} {'libaecv':>9} {'torch 1.13':>11} {'ratio':>6} {'torch 2':>9} {'ratio':>6}   peak RSS MB aecv / 1.13 / 2")
    for size in sizes:
        best = {}
        for side, python in (("aecv", TORCH1), ("torch1", TORCH1), ("torch2", TORCH2)):
            if side == "torch2" and not have2:
                continue
            results = []
            for threads in (1, 2):
                r, err = train_worker(python, "aecv" if side == "aecv" else "torch", size, threads, args.seconds, env)
                if r is None:
                    print(f"   {side} at {size}: {err}")
                    continue
                results.append(r)
            if results:
                best[side] = max(results, key=lambda r: r["img_s"])
        a = best.get("aecv", {}).get("img_s", float("nan"))
        t1 = best.get("torch1", {}).get("img_s", float("nan"))
        t2 = best.get("torch2", {}).get("img_s", float("nan"))
        rss = " / ".join(f"{best[s]['rss_mb']:.0f}" if s in best else "-" for s in ("aecv", "torch1", "torch2"))
        print(f"{'3x%dx%d' % (size, size):>10} {a:9.1f} {t1:11.1f} {a / t1:6.2f} {t2:9.1f} {a / t2:6.2f}   {rss}")



def decoding(args, sizes, work, rng):
    print(f"\n2. decode + resize + crop to float32, {args.decode_images} JPEGs of 1.5S x 1.25S, 1 thread; img/s")
    print(f"{'size':>6} {'libaecv':>9} {'Pillow':>9} {'ratio':>6}")
    for size in sizes:
        d = os.path.join(work, f"decode{size}")
        make_jpegs(d, args.decode_images, size, rng)
        out = subprocess.run([CLI, "images", d, "--size", str(size), "--rgb"], capture_output=True, text=True)
        ours = float(out.stdout.split(" img/s")[0].split()[-1]) if out.returncode == 0 else float("nan")
        files = sorted(os.path.join(d, f) for f in os.listdir(d))
        pil = pillow_pipeline(files, size)
        print(f"{size:>6} {ours:9.0f} {pil:9.0f} {ours / pil:6.2f}")
        shutil.rmtree(d)



def memory(n, work, rng):
    print(f"\n3. memory: aecv train --size 128 --rgb --epochs 1 --batch-size 32 on {n} JPEGs "
          f"(as uint8: {n * 3 * 128 * 128 / 2**20:.0f} MB, as float32: {n * 3 * 128 * 128 * 4 / 2**20:.0f} MB)")
    d = os.path.join(work, f"stream{n}")
    make_jpegs(d, n, 128, rng)
    for mode in (["--stream", "--decode-threads", "2"], []):
        cmd = [CLI, "train", "--data", d, "--size", "128", "--rgb", "--epochs", "1", "--batch-size", "32",
               "--threads", "2", "--out", os.path.join(work, "m.aecv")] + mode
        start = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out = p.stdout.read().decode()
        _, status, usage = os.wait4(p.pid, 0)
        line = next((l for l in out.splitlines() if l.startswith("epoch 1/1: train")), out.strip()[-200:])
        print(f"   {'streamed ' if mode else 'in memory'}: peak RSS {usage.ru_maxrss / 1024:.0f} MB, "
              f"{time.perf_counter() - start:.0f} s; {line}")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
