#!/usr/bin/env python3
"""Does libaecv's DnCNN-style denoiser work on real photographs? (Gaussian denoising, grey)

    make lib && flock /tmp/aecv-heavy.lock env AECV_LIBRARY=build/lib/libaecv.so.0 \\
        /usr/bin/python3 tools/denoise_bench.py [--train-seconds 720] [--ae-seconds 60] \\
        [--depth 10] [--width 32] [--patch 40] [--batch 32] [--lr 2e-3] [--threads 2] \\
        [--tile 256] [--steps N] [--ae-steps M] [--seed 0] [--workdir /tmp/denoise] [--quick] \\
        [--json FILE]

The defaults are sized for a 2-core machine: the full run (all σ, all methods) takes about 16
minutes, 12 of them training the DnCNN. Depth 10 × width 32 (not DnCNN's 17 × 64) because at
this budget the step count matters most: in 2-minute trials depth 17 ran at half the patches/s
and trained unstably (stuck at the identity with lr 2e-3), width 64 costs 4× per patch.
First full run (AMD EPYC, 2 threads, 3619 steps): mean PSNR at σ = 25, DnCNN 29.73 dB,
NL-means 29.60, BM3D 30.67 — the goal (≥ NL-means + 1 dB, ≥ BM3D) is not met at this budget.
With the direct convolutions and --train-seconds 1500 (16,444 steps): DnCNN 30.24 dB at σ = 25,
still short of both.

Run it with Debian's /usr/bin/python3: it needs numpy and scikit-image (python3-skimage, whose
photographs are the data) and, as a reference column only, PyPI's `bm3d`
(`/usr/bin/python3 -m pip install --user --break-system-packages --no-deps bm3d bm4d`; its
other dependencies, scipy and PyWavelets, are Debian's). Without bm3d the BM3D column is "n/a"
and a banner says why. No torch.

Data: scikit-image's photographs (/usr/lib/python3/dist-packages/skimage/data), converted to
grey (skimage.color.rgb2gray) and rounded to 8 bits, centre-cropped to multiples of 8 (the conv
preset halves three times).
  train (patches; NL-means' h is also tuned here): camera, astronaut, coffee, chelsea, rocket
  test (whole images, never seen in training):     motorcycle_left, hubble_deep_field, moon,
                                                   coins, page
Noise: additive white Gaussian, σ = 15, 25, 50 in 0–255 units, added to the 0–255 image and then
scaled to [0, 1] (not clipped: the denoisers see the raw noisy values). Test noise is drawn once
per (σ, photo) from numpy seeds derived from --seed, so every method denoises the same images.
PSNR = 10·log10(1 / MSE) on the output clipped to [0, 1] (peak 1), per image; the table shows the
mean over the test photos.

Methods (columns):
  noisy      the noisy input itself (clipped).
  NL-means   skimage.restoration.denoise_nl_means(fast_mode=True, sigma=σ), with h and the patch
             size/distance chosen per σ from a small grid by mean PSNR on 256×256 centre crops of
             the TRAIN photos (other noise draws than the test's).
  BM3D       bm3d.bm3d(noisy, sigma_psd=σ) (the true σ; reference only).
  conv AE    the seed's denoising autoencoder: the `conv` preset (the architecture of the
             `denoising` preset) trained with Adam on the same (noisy, clean) patch pairs as the
             DnCNN, for --ae-seconds.
  DnCNN      ours: one custom-spec `residual` block, x + f(x), f = conv(width)+ReLU, (depth−2) ×
             [conv(width, no bias) + BatchNorm2d + ReLU], conv(1), with "decoder": [] (the
             identity), trained on (noisy, clean) pairs. Its output conv starts at INIT_SCALE
             times its default init (x + f(x) ≈ x at step 0; see shrink_last_conv).
Both learned models are BLIND: one model for all three σ, each training patch with its own σ
drawn uniformly from [10, 55] (DnCNN-B style), so one training budget serves the whole table.
Training: random --patch² crops of the train photos (photo drawn by area, one of the 8
flips/rotations), batch --batch, Adam --lr with a cosine decay to 1/100 of it. The run is sized
by time: the step rate measured so far sets the step count that ends it after --train-seconds
(the cosine schedule needs a count); the counts are printed, and --steps N --ae-steps M replay a
run exactly (the patches, noise and initial weights all come from --seed; checked bit-identical
at the same --threads).
Inference: the learned weights are moved (safetensors export/import) into a model built for
the test size. DnCNN runs on --tile² windows whose borders overlap by `depth` pixels (its
receptive radius), so the tiled output is the whole-image output (a self-check on a small
crop prints the largest difference); the conv AE runs on each whole image.

Prints the markdown table (mean PSNR over the test photos per σ, and the DnCNN's margins over
NL-means and BM3D), a per-photo table, the goal check at σ = 25, training time, steps,
patches/s, threads, method timings and the load average before and after. --quick is a smoke
run (< 1 minute: a few seconds of training, 128×128 centre crops of the test photos and of the
train photos for NL-means' tuning); its numbers mean nothing.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
from skimage import io
from skimage.color import rgb2gray
from skimage.restoration import denoise_nl_means

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
os.environ.setdefault("AECV_LIBRARY", os.path.join(ROOT, "build", "lib", "libaecv.so.0"))
import aecv  # noqa: E402  (needs the path and AECV_LIBRARY above)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
import machine  # noqa: E402  (tools/bench/machine.py: CPU and OpenBLAS kernels)

DATA = "/usr/lib/python3/dist-packages/skimage/data"
TRAIN_PHOTOS = ["camera.png", "astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg"]
TEST_PHOTOS = ["motorcycle_left.png", "hubble_deep_field.jpg", "moon.png", "coins.png", "page.png"]
SIGMAS = (15, 25, 50)
TRAIN_SIGMA_RANGE = (10.0, 55.0)  # blind training: each patch's σ, uniform in this range
NLM_PATCHES = ((5, 6), (7, 11))  # (patch_size, patch_distance): skimage's example and default
NLM_H_FACTORS = (0.4, 0.55, 0.7, 0.85, 1.0)  # h = factor · σ
NLM_TUNE_CROP = 256
QUICK_TEST_CROP = 128
INIT_SCALE = 0.05  # the DnCNN's output conv starts at this fraction of its default init
METHODS = ("noisy", "NL-means", "BM3D", "conv AE", "DnCNN")


# ----------------------------------------------------------------------------- data

def load_grey(name):
    """A photo as float64 grey in [0, 1], rounded to 8 bits, centre-cropped to multiples of 8."""
    image = io.imread(os.path.join(DATA, name))
    grey = rgb2gray(image) if image.ndim == 3 else image / 255.0
    grey = np.round(grey * 255.0) / 255.0
    return centre_crop(grey, grey.shape[0] // 8 * 8, grey.shape[1] // 8 * 8)


def centre_crop(image, height, width):
    top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    return image[top:top + height, left:left + width]


def add_noise(clean, sigma, seed):
    """clean (in [0, 1]) + white Gaussian noise of σ in 0–255 units, as float64 in [0, 1] units."""
    rng = np.random.default_rng(seed)
    return (clean * 255.0 + rng.normal(0.0, sigma, clean.shape)) / 255.0


def psnr(clean, output):
    mse = np.mean((np.clip(output, 0.0, 1.0) - clean) ** 2)
    return float(10.0 * math.log10(1.0 / mse))


class PatchSampler:
    """Seeded (noisy, clean) training batches: random crops of the train photos, the photo drawn
    with probability proportional to its area, one of the 8 flips/rotations, and per patch a σ
    uniform in TRAIN_SIGMA_RANGE."""

    def __init__(self, photos, patch, batch, seed):
        self.photos = [p.astype(np.float32) for p in photos]
        areas = np.array([p.size for p in photos], dtype=np.float64)
        self.weights = areas / areas.sum()
        self.patch, self.batch = patch, batch
        self.rng = np.random.default_rng(seed)

    def next(self):
        p, rng = self.patch, self.rng
        clean = np.empty((self.batch, 1, p, p), dtype=np.float32)
        for i, k in enumerate(rng.choice(len(self.photos), size=self.batch, p=self.weights)):
            photo = self.photos[k]
            top = rng.integers(0, photo.shape[0] - p + 1)
            left = rng.integers(0, photo.shape[1] - p + 1)
            crop = photo[top:top + p, left:left + p]
            flip = rng.integers(0, 8)  # rotation by 90°·(flip % 4), mirrored when flip >= 4
            crop = np.rot90(crop, flip % 4)
            clean[i, 0] = crop[:, ::-1] if flip >= 4 else crop
        sigmas = rng.uniform(*TRAIN_SIGMA_RANGE, size=(self.batch, 1, 1, 1)) / 255.0
        noisy = clean + (rng.standard_normal(clean.shape) * sigmas).astype(np.float32)
        return noisy, clean


# ----------------------------------------------------------------------------- models

def dncnn_spec(shape, depth, width, lr, seed):
    """The DnCNN as a custom spec: one residual block x + f(x) and the identity decoder."""
    def conv(out, bias=True):
        return {"type": "conv2d", "out": out, "kernel": 3, "padding": 1, "bias": bias}
    body = [conv(width), {"type": "relu"}]
    for _ in range(depth - 2):
        body += [conv(width, bias=False), {"type": "batch_norm2d"}, {"type": "relu"}]
    body.append(conv(1))
    return {"preset": "custom", "input": [1, *shape], "seed": seed,
            "optimizer": {"name": "adam", "learning_rate": lr},
            "encoder": [{"type": "residual", "layers": body}], "decoder": []}


def conv_ae_spec(shape, lr, seed):
    """The seed's conv (denoising) autoencoder: the `conv` preset, pinned to the seed's layers.
    ("batch_norm" must be explicit: the preset's default turns BatchNorm on from 64 px, so the
    40² training model and a whole-photo model would otherwise differ.)"""
    return {"preset": "conv", "input": [1, *shape], "seed": seed, "batch_norm": False,
            "optimizer": {"name": "adam", "learning_rate": lr}}


def shrink_last_conv(model, depth, factor, workdir):
    """Multiplies the initial weights of the DnCNN's output conv by `factor`, so that training
    starts near the identity x + f(x) ≈ x. (PyTorch's default init, which the library uses and
    offers no option for, makes f's output about 0.4 in std: a loss of ~0.16 at step 0, far above
    the noise's; on 2 cores this start costs about 1 dB after 2 minutes of training.) Goes
    through a safetensors export/import: the binding sets parameters as one flat vector
    (set_parameters) or by name from a safetensors file, and the name is what is known here."""
    path = os.path.join(workdir, "dncnn_init.safetensors")
    model.export_safetensors(path)
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    header_size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_size])
    entry = header[f"encoder.0.body.{3 * (depth - 2) + 2}.weight"]  # the last conv of the body
    assert entry["dtype"] == "F32"
    begin, end = (8 + header_size + offset for offset in entry["data_offsets"])
    raw[begin:end] = (np.frombuffer(bytes(raw[begin:end]), dtype="<f4") * factor).tobytes()
    with open(path, "wb") as f:
        f.write(raw)
    model.import_safetensors(path)


def train(model, sampler, seconds, steps, lr):
    """Trains with Adam, cosine-decaying lr to lr/100 over the run, for `steps` steps or, without,
    for about `seconds`: from the rate measured so far (re-estimated every 10 steps, the first
    step excluded: it pays for the model's first buffer allocations) the step count that ends the
    run on time. Returns the training stats."""
    losses, start = [], time.perf_counter()
    step, total = 0, steps
    while total is None or step < total:
        if step == 1:
            t1 = time.perf_counter()
        if steps is None and step > 1 and step % 10 == 1:
            now = time.perf_counter()
            remaining = seconds - (now - start)
            total = step + max(0, int((step - 1) / (now - t1) * remaining))
            if total == step:
                break
        fraction = step / total if total else 0.0
        model.set_learning_rate(lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * fraction))))
        losses.append(model.train_step(*sampler.next()))
        step += 1
    elapsed = time.perf_counter() - start
    curve = [float(np.mean(part)) for part in np.array_split(losses, min(10, step))]
    return {"steps": step, "seconds": elapsed, "patches": step * sampler.batch,
            "patches_per_s": step * sampler.batch / elapsed, "loss_curve": curve}


def windows(length, tile, margin):
    """Covers 0..length with windows of `tile`: (window start, first output, end output), each
    output at least `margin` from any window edge that is not an image edge."""
    if tile >= length:
        return [(0, 0, length)]
    assert tile > 2 * margin, "tile must exceed twice the margin"
    out, done = [], 0
    while done < length:
        start = min(max(done - margin, 0), length - tile)
        end = length if start + tile >= length else start + tile - margin
        out.append((start, done, end))
        done = end
    return out


class Denoiser:
    """A trained model's weights, run on images of any size: each input shape gets its own
    inference model (built from the spec, weights imported from a safetensors file). With a
    `tile`, images are cut into overlapping tile² windows (margin = receptive radius), which
    bounds the memory of a call; without, each image runs whole."""

    def __init__(self, name, spec_for_shape, trained, workdir, tile=None, margin=0):
        self.spec_for_shape, self.tile, self.margin = spec_for_shape, tile, margin
        self.weights = os.path.join(workdir, f"{name}.safetensors")
        trained.export_safetensors(self.weights)
        self.models = {}

    def model(self, shape):
        if shape not in self.models:
            model = aecv.Autoencoder(spec=self.spec_for_shape(shape))
            model.import_safetensors(self.weights)
            self.models[shape] = model
        return self.models[shape]

    def __call__(self, image):
        return self.run(image, self.tile)

    def run(self, image, tile):
        """image (H, W) -> the denoised image, in tile² windows (None: whole)."""
        H, W = image.shape
        th, tw = (H, W) if tile is None else (min(tile, H), min(tile, W))
        rows, cols = windows(H, th, self.margin), windows(W, tw, self.margin)
        boxes = [(r, c) for r in rows for c in cols]
        batch = np.stack([image[r[0]:r[0] + th, c[0]:c[0] + tw] for r, c in boxes])
        outputs = self.model((th, tw)).reconstruct(batch[:, None].astype(np.float32), batch_size=1)
        result = np.empty_like(image)
        for (r, c), out in zip(boxes, outputs.reshape(-1, th, tw)):
            result[r[1]:r[2], c[1]:c[2]] = out[r[1] - r[0]:r[2] - r[0], c[1] - c[0]:c[2] - c[0]]
        return result

    def close(self):
        for model in self.models.values():
            model.close()
        self.models.clear()


def tiling_check(denoiser, image):
    """Largest |tiled − whole| DnCNN output on a crop of `image` cut into 4 × 4 small windows:
    0 up to float rounding when the margin covers the receptive field."""
    tile = 2 * denoiser.margin + 16
    crop = image[:2 * tile, :2 * tile]
    return float(np.abs(denoiser.run(crop, tile) - denoiser.run(crop, None)).max())


# ----------------------------------------------------------------------------- classical methods

def load_bm3d():
    """bm3d.bm3d, or None and the reason it cannot run."""
    try:
        import bm3d
        bm3d.bm3d(np.zeros((16, 16)), sigma_psd=0.1)
        return bm3d.bm3d, None
    except Exception as exc:  # ImportError, or a broken binary: the column becomes n/a
        return None, f"{type(exc).__name__}: {exc}"


def bm3d_banner(reason):
    print("!" * 78 + f"\n!! BM3D IS NOT AVAILABLE: {reason}\n!! the BM3D column is n/a. Install: "
          "/usr/bin/python3 -m pip install --user --break-system-packages --no-deps bm3d bm4d\n"
          + "!" * 78, flush=True)


def nl_means(noisy, sigma, params):
    patch_size, patch_distance, h_factor = params
    return denoise_nl_means(noisy, patch_size=patch_size, patch_distance=patch_distance,
                            h=h_factor * sigma / 255.0, sigma=sigma / 255.0, fast_mode=True)


def tune_nl_means(train_photos, sigma, seed, crop):
    """The (patch_size, patch_distance, h/σ) of the grid with the best mean PSNR on the train
    photos' centre crops; returns it and that PSNR."""
    crops = [centre_crop(p, min(crop, p.shape[0]), min(crop, p.shape[1]))
             for p in train_photos]
    noisy = [add_noise(c, sigma, [seed, 2, sigma, i]) for i, c in enumerate(crops)]
    scores = {}
    for ps, pd in NLM_PATCHES:
        for factor in NLM_H_FACTORS:
            params = (ps, pd, factor)
            scores[params] = np.mean([psnr(c, nl_means(n, sigma, params))
                                      for c, n in zip(crops, noisy)])
    best = max(scores, key=scores.get)
    return best, float(scores[best])


# ----------------------------------------------------------------------------- report

def fmt(value):
    return "n/a" if value is None else f"{value:.2f}"


def print_tables(results, test_names, bm3d_missing):
    print("\n### Mean PSNR (dB) over the held-out photos: " + ", ".join(test_names) + "\n")
    print("| σ | " + " | ".join(METHODS) + " | DnCNN − NL-means | DnCNN − BM3D |")
    print("|---" * (len(METHODS) + 3) + "|")
    for sigma in SIGMAS:
        mean = results["mean"][str(sigma)]
        gap = {m: None if mean[m] is None else mean["DnCNN"] - mean[m] for m in ("NL-means", "BM3D")}
        gaps = " | ".join("n/a" if g is None else f"{g:+.2f}" for g in gap.values())
        print(f"| {sigma} | " + " | ".join(fmt(mean[m]) for m in METHODS) + f" | {gaps} |")
    if bm3d_missing:
        print(f"\nBM3D: n/a ({bm3d_missing})")
    print("\n### PSNR (dB) per photo\n")
    print("| photo | size | σ | " + " | ".join(METHODS) + " |")
    print("|---" * (len(METHODS) + 3) + "|")
    for name in test_names:
        for sigma in SIGMAS:
            row = results["images"][name][str(sigma)]
            size = "×".join(map(str, results["sizes"][name]))
            print(f"| {name} | {size} | {sigma} | " + " | ".join(fmt(row[m]) for m in METHODS) + " |")


def goal_check(results):
    mean = results["mean"]["25"]
    over_nlm = mean["DnCNN"] - mean["NL-means"]
    print(f"\nGoal at σ = 25: DnCNN − NL-means = {over_nlm:+.2f} dB (goal ≥ +1.00): "
          f"{'MET' if over_nlm >= 1.0 else 'NOT MET'}")
    if mean["BM3D"] is None:
        print("Goal at σ = 25: DnCNN vs BM3D: cannot be checked (BM3D n/a)")
        return
    over_bm3d = mean["DnCNN"] - mean["BM3D"]
    print(f"Goal at σ = 25: DnCNN − BM3D = {over_bm3d:+.2f} dB (goal ≥ 0; DnCNN-S on BSD68: "
          f"+0.66): {'MET' if over_bm3d >= 0.0 else 'NOT MET'}")


# ----------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-seconds", type=float, default=720.0,
                        help="DnCNN training budget in seconds (sets the step count)")
    parser.add_argument("--steps", type=int, help="exact DnCNN step count (overrides the budget)")
    parser.add_argument("--ae-seconds", type=float, default=60.0, help="conv AE training budget")
    parser.add_argument("--ae-steps", type=int, help="exact conv AE step count (overrides it)")
    parser.add_argument("--depth", type=int, default=10, help="DnCNN conv layers")
    parser.add_argument("--width", type=int, default=32, help="DnCNN channels")
    parser.add_argument("--patch", type=int, default=40, help="training patch side (multiple of 8)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam's initial learning rate")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tile", type=int, default=256, help="DnCNN inference window side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default="/tmp/denoise", help="where the weights files go")
    parser.add_argument("--quick", action="store_true", help="smoke run, under a minute")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    if args.quick:
        args.train_seconds, args.ae_seconds = min(args.train_seconds, 12.0), min(args.ae_seconds, 3.0)
    if args.depth < 3 or args.patch % 8:
        parser.error("--depth must be >= 3 and --patch a multiple of 8")
    wall = time.perf_counter()
    load_before = os.getloadavg()
    aecv.set_num_threads(args.threads)
    os.makedirs(args.workdir, exist_ok=True)
    bm3d_fn, bm3d_missing = load_bm3d()
    if bm3d_missing:
        bm3d_banner(bm3d_missing)

    train_photos = [load_grey(n) for n in TRAIN_PHOTOS]
    test = {os.path.splitext(n)[0]: load_grey(n) for n in TEST_PHOTOS}
    if args.quick:
        test = {k: centre_crop(v, QUICK_TEST_CROP, QUICK_TEST_CROP) for k, v in test.items()}
    print(f"libaecv {aecv.library_version()} "
          f"({os.environ['AECV_LIBRARY']}), threads {args.threads}, load average before "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    print("train: " + ", ".join(f"{n} {p.shape[0]}×{p.shape[1]}" for n, p in zip(TRAIN_PHOTOS, train_photos)))
    print("test:  " + ", ".join(f"{n} {p.shape[0]}×{p.shape[1]}" for n, p in test.items()))

    # Training: the DnCNN, then the conv AE on the same kind of batches (own sampler, same seed).
    shape = (args.patch, args.patch)
    dncnn = aecv.Autoencoder(spec=dncnn_spec(shape, args.depth, args.width, args.lr, args.seed))
    print(f"\nDnCNN: depth {args.depth}, width {args.width}, {dncnn.parameter_count:,} parameters; "
          f"patches {args.patch}×{args.patch}, batch {args.batch}, Adam {args.lr:g} cosine → /100, "
          f"σ ~ U{TRAIN_SIGMA_RANGE} (blind)", flush=True)
    shrink_last_conv(dncnn, args.depth, INIT_SCALE, args.workdir)
    dncnn_stats = train(dncnn, PatchSampler(train_photos, args.patch, args.batch, args.seed),
                        args.train_seconds, args.steps, args.lr)
    print(f"DnCNN trained: {dncnn_stats['steps']} steps, {dncnn_stats['patches']:,} patches in "
          f"{dncnn_stats['seconds']:.1f} s ({dncnn_stats['patches_per_s']:.1f} patches/s, "
          f"{args.threads} threads); loss by tenths: "
          + " ".join(f"{v:.2e}" for v in dncnn_stats["loss_curve"]), flush=True)
    conv_ae = aecv.Autoencoder(spec=conv_ae_spec(shape, 1e-3, args.seed))
    ae_stats = train(conv_ae, PatchSampler(train_photos, args.patch, args.batch, args.seed),
                     args.ae_seconds, args.ae_steps, 1e-3)
    print(f"conv AE ({conv_ae.parameter_count:,} parameters) trained: {ae_stats['steps']} steps, "
          f"{ae_stats['patches']:,} patches in {ae_stats['seconds']:.1f} s "
          f"({ae_stats['patches_per_s']:.0f} patches/s)", flush=True)

    denoise_dncnn = Denoiser(
        "dncnn", lambda s: dncnn_spec(s, args.depth, args.width, args.lr, args.seed), dncnn,
        args.workdir, tile=args.tile, margin=args.depth)
    denoise_ae = Denoiser("conv_ae", lambda s: conv_ae_spec(s, 1e-3, args.seed), conv_ae,
                          args.workdir)
    dncnn.close()
    conv_ae.close()
    tiling_error = tiling_check(denoise_dncnn, add_noise(train_photos[0], 25, [args.seed, 3]))
    print(f"tiling self-check: max |tiled − whole-image| = {tiling_error:.2e}", flush=True)

    # NL-means: h (and patch size) tuned per σ on the train photos.
    nlm_params, tune_start = {}, time.perf_counter()
    for sigma in SIGMAS:
        nlm_params[sigma], score = tune_nl_means(
            train_photos, sigma, args.seed, QUICK_TEST_CROP if args.quick else NLM_TUNE_CROP)
        ps, pd, factor = nlm_params[sigma]
        print(f"NL-means σ={sigma}: patch_size {ps}, patch_distance {pd}, h = {factor}·σ "
              f"({score:.2f} dB on the train crops)")
    tune_seconds = time.perf_counter() - tune_start

    # Test: every method on the same noisy photos.
    methods = {"noisy": lambda noisy, sigma: noisy,
               "NL-means": lambda noisy, sigma: nl_means(noisy, sigma, nlm_params[sigma]),
               "BM3D": None if bm3d_fn is None else
               (lambda noisy, sigma: bm3d_fn(noisy, sigma_psd=sigma / 255.0)),
               "conv AE": lambda noisy, sigma: denoise_ae(noisy),
               "DnCNN": lambda noisy, sigma: denoise_dncnn(noisy)}
    seconds = {m: 0.0 for m in METHODS}
    results = {"images": {}, "sizes": {k: list(v.shape) for k, v in test.items()}, "mean": {}}
    for i, (name, clean) in enumerate(test.items()):
        results["images"][name] = {}
        for sigma in SIGMAS:
            noisy = add_noise(clean, sigma, [args.seed, 1, sigma, i])
            row = {}
            for method, fn in methods.items():
                row[method] = None
                if fn is None:
                    continue
                start = time.perf_counter()
                try:
                    row[method] = psnr(clean, fn(noisy, sigma))
                except Exception as exc:  # BM3D is a reference only: n/a, loudly; others fail
                    if method != "BM3D":
                        raise
                    bm3d_missing = f"{name}, σ={sigma}: {type(exc).__name__}: {exc}"
                    bm3d_banner(bm3d_missing)
                    methods["BM3D"] = None
                seconds[method] += time.perf_counter() - start
            results["images"][name][str(sigma)] = row
        print(f"tested {name}", flush=True)
    for sigma in SIGMAS:
        rows = [results["images"][n][str(sigma)] for n in test]
        results["mean"][str(sigma)] = {
            m: None if any(r[m] is None for r in rows) else float(np.mean([r[m] for r in rows]))
            for m in METHODS}
    denoise_ae.close()
    denoise_dncnn.close()

    print_tables(results, list(test), bm3d_missing)
    goal_check(results)
    load_after = os.getloadavg()
    total = time.perf_counter() - wall
    print(f"\nDnCNN training: {dncnn_stats['steps']} steps × batch {args.batch} = "
          f"{dncnn_stats['patches']:,} patches in {dncnn_stats['seconds']:.1f} s, "
          f"{dncnn_stats['patches_per_s']:.1f} patches/s, {args.threads} threads "
          f"(replay: --steps {dncnn_stats['steps']})")
    print(f"conv AE training: {ae_stats['steps']} steps in {ae_stats['seconds']:.1f} s "
          f"(replay: --ae-steps {ae_stats['steps']})")
    print(f"NL-means tuning {tune_seconds:.1f} s; test time per method (all photos and σ): "
          + ", ".join(f"{m} {seconds[m]:.1f} s" for m in METHODS if m != "noisy"))
    print(f"machine: {machine.describe()}")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; wall {total:.0f} s")
    if args.json:
        results.update(config=vars(args), train_photos=TRAIN_PHOTOS, test_photos=TEST_PHOTOS,
                       dncnn_training=dncnn_stats, conv_ae_training=ae_stats,
                       nl_means_params={str(s): list(p) for s, p in nlm_params.items()},
                       bm3d=bm3d_missing or "bm3d.bm3d", test_seconds=seconds,
                       nl_means_tuning_seconds=tune_seconds,
                       tiling_error=tiling_error, load_before=load_before,
                       load_after=load_after, wall_seconds=total)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
