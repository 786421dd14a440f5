#!/usr/bin/env python3
"""Inspection benchmark (issue 16): real textures, synthetic defects with pixel masks, and three
rows per texture -- today's conv + MSE, the recommended recipe, and a PyTorch twin of that recipe.

Data: Debian's scikit-image photographs brick, grass and gravel (512x512 grey). Training patches
(P x P, P = --patch) are random crops of the LEFT half of each image (columns 0..255), test
patches random crops of the RIGHT half, so no test pixel was seen in training. Half of the test
patches are defect-free; the others get one synthetic defect with its pixel mask, in turn:

    scratch   a thin quadratic Bezier curve (width 1-2.5 px, length 20-45 px at P = 64), blended
              toward black or white with opacity 0.35-0.75: about 1-2 % of the patch;
    spot      an irregular blob (radius 3-7 px), blended toward black or white, opacity
              0.3-0.6 at its rim to 0.5-1 x that at its centre: about 1-4 %;
    cutpaste  an irregular blob (radius 6-10 px) of ANOTHER texture or of skimage's camera,
              its mean and standard deviation matched to the covered region (so it is not a
              brightness step): about 3-8 %.

A draw that changes its mask's pixels by less than 0.05 on average is redrawn.

Sizes scale with P / 64. Every defect is drawn from numpy's generator seeded with
(seed, texture, patch index): the test set is a function of the seed. Pixels outside the mask
are bit-identical to the clean patch.

Metrics (computed by libaecv's core, aecv.metrics): image AUROC of the reduced map, pixel
AUROC and PRO (FPR <= 0.3) over all test pixels. The torch row's maps are computed here in numpy
with the same definitions (1 - SSIM with the 11x11 sigma 1.5 window renormalized at the border;
the blurred squared error with sigma 1, 9 taps); the run checks them against the core's maps of
our own model (max difference printed as `map check`).

The torch twin trains the same architecture (Presets.swift: Conv k3 s2 p1 [BN] ReLU stages,
mirrored Upsample + Conv k3 s1 p1 [BN] ReLU or ConvTranspose, Sigmoid), on the same patches, for
the same epochs and batch size, with Adam (lr 1e-3, PyTorch's defaults as ours), the same
synthetic-anomaly corruption reimplemented in numpy (same algorithm, its own random stream) and
the same SSIM (window renormalized at the border). It runs in a subprocess per interpreter
(--torch-python; default /opt/torch2/bin/python, torch 2.x), with the data passed as .npy files.

Run (from the repository root, after `make lib`):
    AECV_LIBRARY=$PWD/build/lib/libaecv.so.0 PYTHONPATH=bindings/python \\
        flock /tmp/aecv-heavy.lock /usr/bin/python3 tools/inspection_bench.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
import machine  # noqa: E402  (tools/bench/machine.py: CPU and OpenBLAS kernels)

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
TEXTURES = ("brick", "grass", "gravel")
KINDS = ("scratch", "spot", "cutpaste")
MIN_CHANGE = 0.05  # the least mean |change| inside a defect's mask

# Today's default a new user gets: the conv preset, MSE loss, the mse map, mean reduction.
# (batch_norm false: the README's table was measured with the seed's stages, before 64 px inputs
# got BatchNorm by default.)
BASELINE = {"spec": {"preset": "conv", "batch_norm": False}, "metric": "mse", "reduction": "mean"}

# The recommended recipe: `aecv anomaly bench`'s default (Sources/aecv-cli/AnomalyRecipe.swift),
# the rows measured in the README's "Inspection benchmark". --recipe replaces it.
RECIPE = {
    "spec": {"preset": "denoising", "base": "conv", "batch_norm": False, "loss": "mse_ssim",
             "noise": {"synthetic_anomaly": {"probability": 0.5, "source": "shifted"}}},
    "metric": "ssim", "reduction": "top_mean:0.02",
}


# ------------------------------------------------------------------------------------ data

def load_grey(name: str) -> np.ndarray:
    """skimage's photograph `name` as (H, W) float32 in [0, 1]."""
    from PIL import Image
    with Image.open(os.path.join(SKIMAGE_DATA, f"{name}.png")) as im:
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


def random_crops(image: np.ndarray, n: int, patch: int, rng: np.random.Generator) -> np.ndarray:
    """n random (patch, patch) crops of image: (n, patch, patch) float32."""
    H, W = image.shape
    if H < patch or W < patch:
        raise ValueError(f"patch {patch} does not fit in a {H}x{W} image half")
    rows = rng.integers(0, H - patch + 1, n)
    cols = rng.integers(0, W - patch + 1, n)
    return np.stack([image[r:r + patch, c:c + patch] for r, c in zip(rows, cols)])


def _blob(P: int, radius: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An irregular blob inside a P x P patch: (mask bool, normalized radius d/R(theta))."""
    margin = radius * 1.4 + 1
    cy, cx = rng.uniform(margin, P - margin, 2)
    yy, xx = np.mgrid[0:P, 0:P].astype(np.float64)
    theta = np.arctan2(yy - cy, xx - cx)
    R = np.full_like(theta, radius)
    for k in (2, 3, 5):  # a few low harmonics make it irregular, never self-crossing
        R *= 1 + rng.uniform(-0.12, 0.12) * np.sin(k * theta + rng.uniform(0, 2 * np.pi))
    d = np.hypot(yy - cy, xx - cx) / R
    return d < 1, d


def scratch(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    P = x.shape[0]
    s = P / 64
    length = rng.uniform(20, 45) * s
    half_width = rng.uniform(1.0, 2.5) * s / 2
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.sin(angle), np.cos(angle)])
    normal = np.array([direction[1], -direction[0]])
    bend = rng.uniform(-0.3, 0.3) * length
    margin = half_width + 1
    # start such that the chord and its bend stay inside the patch
    lo = np.maximum(margin, margin - direction * length) + np.abs(normal) * abs(bend) / 2
    hi = np.minimum(P - margin, P - margin - direction * length) - np.abs(normal) * abs(bend) / 2
    start = rng.uniform(np.minimum(lo, hi), np.maximum(lo, hi))
    end = start + direction * length
    control = (start + end) / 2 + normal * bend
    t = np.linspace(0, 1, int(4 * length) + 2)[:, None]
    curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t ** 2 * end  # (k, 2)
    yy, xx = np.mgrid[0:P, 0:P].astype(np.float64)
    dist = np.min(np.hypot(yy[..., None] - curve[:, 0], xx[..., None] - curve[:, 1]), axis=-1)
    mask = dist <= half_width
    target = float(rng.integers(0, 2))  # dark or bright
    alpha = rng.uniform(0.35, 0.75)
    out = x.copy()
    out[mask] = (1 - alpha) * x[mask] + alpha * target
    return out, mask


def spot(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    P = x.shape[0]
    mask, d = _blob(P, rng.uniform(3, 7) * P / 64, rng)
    target = float(rng.integers(0, 2))
    rim = rng.uniform(0.3, 0.6)
    alpha = rim * (1 + rng.uniform(0.5, 1.0) * (1 - d[mask] ** 2))
    alpha = np.minimum(alpha, 1.0)
    out = x.copy()
    out[mask] = (1 - alpha) * x[mask] + alpha * target
    return out, mask


def cutpaste(x: np.ndarray, rng: np.random.Generator, sources: list[np.ndarray]) \
        -> tuple[np.ndarray, np.ndarray]:
    P = x.shape[0]
    mask, _ = _blob(P, rng.uniform(6, 10) * P / 64, rng)
    source = sources[int(rng.integers(0, len(sources)))]
    crop = random_crops(source, 1, P, rng)[0]
    host, pasted = x[mask], crop[mask]
    pasted = (pasted - pasted.mean()) / max(float(pasted.std()), 1e-3) * float(host.std()) \
        + float(host.mean())
    out = x.copy()
    out[mask] = np.clip(pasted, 0, 1)
    return out, mask


def add_defect(x: np.ndarray, kind: str, rng: np.random.Generator, sources: list[np.ndarray]) \
        -> tuple[np.ndarray, np.ndarray]:
    """(defective patch float32, mask bool) of one clean (P, P) patch. A draw whose mean
    absolute change inside the mask is below MIN_CHANGE (e.g. a flat cut-paste matched to a
    flat region: an invisible defect) is redrawn."""
    if kind not in KINDS:
        raise ValueError(f"unknown defect kind {kind!r}; expected one of {KINDS}")
    for _ in range(50):
        if kind == "scratch":
            out, mask = scratch(x, rng)
        elif kind == "spot":
            out, mask = spot(x, rng)
        else:
            out, mask = cutpaste(x, rng, sources)
        out = out.astype(np.float32)
        if mask.any() and np.abs(out - x)[mask].mean() >= MIN_CHANGE:
            break
    return out, mask


def make_dataset(texture: str, patch: int = 64, n_train: int = 3000, n_test: int = 300,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """Train patches from the left half, test patches from the right half with defects on the
    second half of them. Returns train (n, 1, P, P), test (m, 1, P, P), clean (m, 1, P, P: the
    test patches before defects), y (m,) uint8, masks (m, P, P) uint8, kinds (m,) int8 (-1 good,
    else the index in KINDS), all float32 images in [0, 1]."""
    image = load_grey(texture)
    half = image.shape[1] // 2
    t = TEXTURES.index(texture) if texture in TEXTURES else 99
    train = random_crops(image[:, :half], n_train, patch, np.random.default_rng([seed, t, 0]))
    clean = random_crops(image[:, half:], n_test, patch, np.random.default_rng([seed, t, 1]))
    sources = [load_grey(n)[:, half:] for n in TEXTURES + ("camera",) if n != texture]
    test = clean.copy()
    masks = np.zeros((n_test, patch, patch), dtype=np.uint8)
    kinds = np.full(n_test, -1, dtype=np.int8)
    y = np.zeros(n_test, dtype=np.uint8)
    for i in range(n_test // 2, n_test):
        k = (i - n_test // 2) % len(KINDS)
        rng = np.random.default_rng([seed, t, 2, i])
        test[i], m = add_defect(clean[i], KINDS[k], rng, sources)
        masks[i], kinds[i], y[i] = m, k, 1
    return {"train": train[:, None], "test": test[:, None], "clean": clean[:, None], "y": y,
            "masks": masks, "kinds": kinds}


# ------------------------------------------------------------------------ maps (numpy twin)

def _gauss(radius: int, sigma: float) -> np.ndarray:
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    return np.exp(-k * k / (2 * sigma * sigma))


def _filter_np(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Separable filter of (n, H, W) with the window truncated and renormalized at the border."""
    r = len(w) // 2
    H, W = x.shape[-2:]
    out = x.astype(np.float64)
    for axis, size in ((-1, W), (-2, H)):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (r, r)
        p = np.pad(out, pad)
        acc = np.zeros_like(out)
        for j, wj in enumerate(w):
            acc += wj * np.take(p, range(j, j + size), axis=axis)
        inside = np.pad(np.ones(size), r)
        norm = sum(wj * inside[j:j + size] for j, wj in enumerate(w))  # the taps inside
        shape = [1] * out.ndim
        shape[axis] = size
        out = acc / norm.reshape(shape)
    return out


def ssim_map_np(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    w = _gauss(5, 1.5)
    mx, my = _filter_np(x, w), _filter_np(y, w)
    sxx = _filter_np(x * x, w) - mx * mx
    syy = _filter_np(y * y, w) - my * my
    sxy = _filter_np(x * y, w) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def pixel_maps_np(x: np.ndarray, recon: np.ndarray, metric: str) -> np.ndarray:
    """(n, H, W) maps of one-channel images (n, 1, H, W), as the core's AnomalyMapper."""
    x, recon = x[:, 0].astype(np.float64), recon[:, 0].astype(np.float64)
    if metric == "mse":
        return ((x - recon) ** 2).astype(np.float32)
    if metric == "ssim":
        return (1 - ssim_map_np(x, recon)).astype(np.float32)
    if metric == "blurred_mse":
        return (_filter_np(x - recon, _gauss(4, 1.0)) ** 2).astype(np.float32)
    raise ValueError(f"unknown metric {metric!r}")


def reduce_maps(maps: np.ndarray, reduction: str) -> np.ndarray:
    flat = maps.reshape(maps.shape[0], -1)
    if reduction == "mean":
        return flat.mean(1)
    if reduction == "max":
        return flat.max(1)
    fraction = float(reduction.split(":", 1)[1]) if ":" in reduction else 0.01
    k = max(1, int(round(fraction * flat.shape[1])))
    return np.sort(flat, axis=1)[:, -k:].mean(1)


def figures(aecv: Any, data: dict[str, np.ndarray], maps: np.ndarray, reduction: str) \
        -> dict[str, float]:
    scores = reduce_maps(maps, reduction)
    return {"image_auroc": aecv.metrics.roc_auc(data["y"], scores),
            "pixel_auroc": aecv.metrics.pixel_roc_auc(data["masks"], maps),
            "pro": aecv.metrics.pro(data["masks"], maps)}


# ---------------------------------------------------------------------------------- libaecv

def full_spec(recipe_spec: dict[str, Any], patch: int, seed: int, lr: float | None) -> dict[str, Any]:
    spec = dict(recipe_spec, input=[1, patch, patch], seed=seed)
    if lr is not None:
        spec["optimizer"] = {"name": "adam", "learning_rate": lr}
    return spec


def run_ours(aecv: Any, spec: dict[str, Any], data: dict[str, np.ndarray], epochs: int, batch: int,
             metric: str, reduction: str, sweep: bool) -> dict[str, Any]:
    ae = aecv.Autoencoder(spec=spec)
    t0 = time.perf_counter()
    losses = ae.fit(data["train"], epochs=epochs, batch_size=batch, progress=False)
    seconds = time.perf_counter() - t0
    det = aecv.AnomalyDetector(ae, metric=metric, reduction=reduction)
    ev = det.evaluate(data["test"], data["y"], data["masks"])
    row = {"image_auroc": ev["image_auroc"], "pixel_auroc": ev["pixel_auroc"], "pro": ev["pro"],
           "train_s": seconds, "final_loss": losses[-1]}
    recon = ae.reconstruct(data["test"]).reshape(data["test"].shape)
    # the numpy maps used for the torch row, checked against the core's on our own model
    core_maps = det.pixel_maps(data["test"])
    row["map_check"] = float(np.max(np.abs(pixel_maps_np(data["test"], recon, metric) - core_maps)))
    if sweep:
        row["sweep"] = sweep_scores(aecv, data, recon)
    ae.close()
    return row


def sweep_scores(aecv: Any, data: dict[str, np.ndarray], recon: np.ndarray) -> dict[str, Any]:
    """Every metric x reduction of one trained model (the recipe search)."""
    out: dict[str, Any] = {}
    for metric in ("mse", "ssim", "blurred_mse"):
        maps = pixel_maps_np(data["test"], recon, metric)
        out[metric] = {"pixel_auroc": aecv.metrics.pixel_roc_auc(data["masks"], maps),
                       "pro": aecv.metrics.pro(data["masks"], maps)}
        for red in ("mean", "max", "top_mean:0.01", "top_mean:0.02", "top_mean:0.05"):
            out[metric][red] = aecv.metrics.roc_auc(data["y"], reduce_maps(maps, red))
    return out


# ------------------------------------------------------------------------------ torch twin

def torch_worker(args: argparse.Namespace) -> None:
    """Runs in the torch interpreter: trains the twin, writes reconstructions of the test set."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    cfg = json.load(open(os.path.join(args.worker, "config.json")))
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    spec = cfg["spec"]
    train = np.load(os.path.join(args.worker, "train.npy"))
    test = np.load(os.path.join(args.worker, "test.npy"))
    model = build_torch(spec, nn)
    lr = spec.get("optimizer", {}).get("learning_rate", 1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    window = torch.tensor(_gauss(5, 1.5), dtype=torch.float32)
    loss_name = spec.get("loss", "mse")
    noise = spec.get("noise", {}).get("synthetic_anomaly") if spec.get("preset") == "denoising" else None
    rng = np.random.default_rng(cfg["seed"])
    n = train.shape[0]
    t0 = time.perf_counter()
    model.train()
    for _ in range(cfg["epochs"]):
        order = rng.permutation(n)
        for start in range(0, n, cfg["batch"]):
            xb = train[order[start:start + cfg["batch"]]]
            inp = synthetic_anomaly_np(xb, noise, rng) if noise is not None else xb
            target = torch.from_numpy(xb)
            out = model(torch.from_numpy(inp))
            loss = out.new_zeros(())
            if loss_name in ("mse", "mse_ssim"):
                loss = loss + F.mse_loss(out, target)
            if loss_name in ("ssim", "mse_ssim"):
                loss = loss + 1 - ssim_torch(out, target, window, F).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        recon = torch.cat([model(torch.from_numpy(test[i:i + 256])) for i in range(0, len(test), 256)])
    np.save(os.path.join(args.worker, "recon.npy"), recon.numpy())
    json.dump({"train_s": seconds, "final_loss": float(loss), "torch": torch.__version__,
               "threads": torch.get_num_threads()},
              open(os.path.join(args.worker, "result.json"), "w"))


def build_torch(spec: dict[str, Any], nn: Any) -> Any:
    """The conv preset's layers (Presets.swift encoderStages / mirroredDecoder)."""
    C, H, W = spec["input"]
    hidden = spec.get("hidden", [16, 32, 64])
    bn = spec.get("batch_norm", False)
    pool = spec.get("downsample", "stride") == "max_pool"
    upsample = spec.get("upsample", "transposed")
    enc, shapes = [], [(C, H, W)]
    for c in hidden:
        cin, h, w = shapes[-1]
        enc.append(nn.Conv2d(cin, c, 3, stride=1 if pool else 2, padding=1, bias=not bn))
        if bn:
            enc.append(nn.BatchNorm2d(c))
        enc.append(nn.ReLU())
        if pool:
            enc.append(nn.MaxPool2d(2))
            shapes.append((c, h // 2, w // 2))
        else:
            shapes.append((c, (h + 1) // 2, (w + 1) // 2))
    dec = []
    for stage in range(len(shapes) - 1, 0, -1):
        target, source = shapes[stage - 1], shapes[stage]
        last = stage == 1
        if upsample == "transposed":
            op = (target[1] - (2 * source[1] - 1), target[2] - (2 * source[2] - 1))
            dec.append(nn.ConvTranspose2d(source[0], target[0], 3, stride=2, padding=1, output_padding=op))
        else:
            dec.append(nn.Upsample(scale_factor=2, mode=upsample,
                                   **({"align_corners": False} if upsample == "bilinear" else {})))
            dec.append(nn.Conv2d(source[0], target[0], 3, stride=1, padding=1, bias=last or not bn))
        if not last:
            if bn:
                dec.append(nn.BatchNorm2d(target[0]))
            dec.append(nn.ReLU())
        else:
            dec.append(nn.Sigmoid())
    return nn.Sequential(nn.Sequential(*enc), nn.Sequential(*dec))


def ssim_torch(x: Any, y: Any, window: Any, F: Any) -> Any:
    """SSIM maps (N, C, H, W) with the window truncated and renormalized at the border."""
    import torch
    N, C, H, W = x.shape
    r = window.numel() // 2
    wx = window.view(1, 1, 1, -1).repeat(C, 1, 1, 1)
    wy = window.view(1, 1, -1, 1).repeat(C, 1, 1, 1)
    ones = torch.ones(1, C, H, W)
    norm = F.conv2d(F.conv2d(ones, wx, padding=(0, r), groups=C), wy, padding=(r, 0), groups=C)

    def g(z: Any) -> Any:
        return F.conv2d(F.conv2d(z, wx, padding=(0, r), groups=C), wy, padding=(r, 0), groups=C) / norm

    mx, my = g(x), g(y)
    sxx, syy, sxy = g(x * x) - mx * mx, g(y * y) - my * my, g(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def synthetic_anomaly_np(batch: np.ndarray, options: Any, rng: np.random.Generator) -> np.ndarray:
    """The core's synthetic_anomaly noise (Models/SyntheticAnomaly.swift), same algorithm, numpy's
    random stream: per example with probability p, a smooth-noise mask of area a filled with
    (1 - beta) x + beta roll(source)."""
    o = {"probability": 0.5, "area": [0.02, 0.3], "opacity": [0.1, 1.0], "grid": [2, 8],
         "source": "shifted"}
    if isinstance(options, (int, float)):
        o["probability"] = float(options)
    else:
        o.update(options)
    N, C, H, W = batch.shape
    out = batch.copy()
    rows = (np.arange(H) + 0.5)
    cols = (np.arange(W) + 0.5)
    for i in range(N):
        if rng.uniform() >= o["probability"]:
            continue
        gh, gw = rng.integers(o["grid"][0], o["grid"][1] + 1, 2)
        grid = rng.uniform(size=(gh + 1, gw + 1))
        u, v = rows * gh / H, cols * gw / W
        i0 = np.minimum(u.astype(int), gh - 1); fr = (u - i0)[:, None]
        j0 = np.minimum(v.astype(int), gw - 1); fc = (v - j0)[None, :]
        g00 = grid[i0][:, j0]; g01 = grid[i0][:, j0 + 1]
        g10 = grid[i0 + 1][:, j0]; g11 = grid[i0 + 1][:, j0 + 1]
        top = g00 + fc * (g01 - g00)
        bottom = g10 + fc * (g11 - g10)
        field = top + fr * (bottom - top)
        area = rng.uniform(*o["area"])
        inside = min(H * W, max(1, int(round(area * H * W))))
        threshold = np.partition(field.ravel(), H * W - inside)[H * W - inside]
        mask = field >= threshold
        beta = rng.uniform(*o["opacity"])
        offset = 1 + int(rng.integers(0, H * W - 1))
        dy, dx = offset // W, offset % W
        j = i
        if o["source"] == "batch" and N > 1:
            j = (i + 1 + int(rng.integers(0, N - 1))) % N
        source = np.roll(batch[j], (-dy, -dx), axis=(1, 2))  # source[r, c] = x[(r+dy)%H, (c+dx)%W]
        out[i][:, mask] = (1 - beta) * batch[i][:, mask] + beta * source[:, mask]
    return out


def run_torch(python: str, spec: dict[str, Any], data: dict[str, np.ndarray], epochs: int,
              batch: int, threads: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="inspection-bench-") as tmp:
        np.save(os.path.join(tmp, "train.npy"), data["train"])
        np.save(os.path.join(tmp, "test.npy"), data["test"])
        json.dump({"spec": spec, "epochs": epochs, "batch": batch, "threads": threads,
                   "seed": seed}, open(os.path.join(tmp, "config.json"), "w"))
        subprocess.run([python, os.path.abspath(__file__), "--worker", tmp], check=True,
                       env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
        result = json.load(open(os.path.join(tmp, "result.json")))
        result["recon"] = np.load(os.path.join(tmp, "recon.npy"))
    return result


# ------------------------------------------------------------------------------------- main

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--textures", default=",".join(TEXTURES))
    p.add_argument("--patch", type=int, default=64, choices=(64, 128))
    p.add_argument("--train", type=int, default=3000, help="training patches per texture")
    p.add_argument("--test", type=int, default=300, help="test patches per texture (half with defects)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--baseline-epochs", type=int, default=None, help="default: --epochs")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-3)")
    p.add_argument("--threads", type=int, default=1, help="for libaecv and torch alike")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rows", default="baseline,recipe,torch")
    p.add_argument("--recipe", default=None, help="JSON {spec: {...}, metric, reduction} replacing the recommended recipe")
    p.add_argument("--torch-python", default="/opt/torch2/bin/python",
                   help="comma-separated interpreters for the torch rows (e.g. add /usr/bin/python3 for torch 1.13)")
    p.add_argument("--sweep", action="store_true", help="also score the recipe with every metric x reduction")
    p.add_argument("--json", default=None, help="write all figures to this file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        torch_worker(args)
        return

    import aecv
    aecv.set_num_threads(args.threads)
    recipe = json.loads(args.recipe) if args.recipe else RECIPE
    recipe = dict(RECIPE, **recipe)
    rows = args.rows.split(",")
    interpreters = [s for s in args.torch_python.split(",") if s]
    results: dict[str, Any] = {
        "command": " ".join(sys.argv), "cpu": machine.describe(), "threads": args.threads,
        "load_before": os.getloadavg(), "patch": args.patch, "train": args.train,
        "test": args.test, "epochs": args.epochs, "batch": args.batch, "seed": args.seed,
        "baseline": BASELINE, "recipe": recipe, "textures": {}}
    table = []
    for texture in args.textures.split(","):
        data = make_dataset(texture, args.patch, args.train, args.test, args.seed)
        res: dict[str, Any] = {}
        if "baseline" in rows:
            spec = full_spec(BASELINE["spec"], args.patch, args.seed, args.lr)
            res["baseline"] = run_ours(aecv, spec, data, args.baseline_epochs or args.epochs,
                                       args.batch, BASELINE["metric"], BASELINE["reduction"], args.sweep)
            table.append((texture, "libaecv conv + MSE (today's default)", res["baseline"], None))
        spec = full_spec(recipe["spec"], args.patch, args.seed, args.lr)
        if "recipe" in rows:
            res["recipe"] = run_ours(aecv, spec, data, args.epochs, args.batch, recipe["metric"],
                                     recipe["reduction"], args.sweep)
            table.append((texture, "libaecv recipe", res["recipe"], None))
        if "torch" in rows:
            for python in interpreters:
                t = run_torch(python, spec, data, args.epochs, args.batch, args.threads, args.seed)
                maps = pixel_maps_np(data["test"], t.pop("recon"), recipe["metric"])
                t.update(figures(aecv, data, maps, recipe["reduction"]))
                res[f"torch {t['torch']}"] = t
                ratio = t["train_s"] / res["recipe"]["train_s"] if "recipe" in res else None
                t["time_ratio_torch_over_ours"] = ratio
                table.append((texture, f"PyTorch {t['torch']} twin of the recipe", t, ratio))
        results["textures"][texture] = res
        print(f"# {texture} done, load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
    results["load_after"] = os.getloadavg()

    print(f"\nCPU: {results['cpu']}; threads: {args.threads} (aecv.set_num_threads / "
          f"torch.set_num_threads); load average before {tuple(round(x, 2) for x in results['load_before'])}, "
          f"after {tuple(round(x, 2) for x in results['load_after'])}")
    print(f"patch {args.patch}, {args.train} training / {args.test} test patches per texture, "
          f"{args.epochs} epochs, batch {args.batch}, seed {args.seed}")
    print(f"recipe: {json.dumps(recipe)}\n")
    print("| texture | row | image AUROC | pixel AUROC | PRO | train s | torch/ours time |")
    print("|---|---|---|---|---|---|---|")
    for texture, name, r, ratio in table:
        print(f"| {texture} | {name} | {r['image_auroc']:.3f} | {r['pixel_auroc']:.3f} | "
              f"{r['pro']:.3f} | {r['train_s']:.1f} | {'' if ratio is None else f'{ratio:.2f}'} |")
    checks = [r["map_check"] for t in results["textures"].values() for r in t.values() if "map_check" in r]
    if checks:
        print(f"\nmap check (numpy maps vs the core's, max abs difference): {max(checks):.2e}")
    if args.sweep:
        print("\nsweep (image AUROC per metric x reduction; pixel AUROC / PRO per metric):")
        for texture, res in results["textures"].items():
            for row, r in res.items():
                if "sweep" not in r:
                    continue
                for metric, s in r["sweep"].items():
                    reds = " ".join(f"{k}={v:.3f}" for k, v in s.items() if k not in ("pixel_auroc", "pro"))
                    print(f"  {texture} {row} {metric}: {reds} | pixel {s['pixel_auroc']:.3f} pro {s['pro']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
