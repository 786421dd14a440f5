"""Data sets for examples, tests and benchmarks: Fashion-MNIST (Debian's dataset-fashion-mnist,
IDX gz files) and object-detection canvases made from its items.

    X, y = aecv.datasets.fashion_mnist("train")            # (60000, 28, 28) uint8, (60000,) int64
    canvases, boxes = aecv.datasets.detection_canvases(X, y, n=1000, seed=0)
    # canvases: (1000, 1, 96, 96) float32 in [0, 1]; boxes[i]: (k, 5) float32 rows
    # (class, x_min, y_min, x_max, y_max) in pixels, 1 <= k <= 4
"""

from __future__ import annotations

import gzip
import os
import struct
from typing import Sequence

import numpy as np

from ._typing import ArrayLike

__all__ = ["fashion_mnist", "detection_canvases", "FASHION_MNIST_DIR", "FASHION_MNIST_CLASSES"]

FASHION_MNIST_DIR = os.environ.get("AECV_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file")
    magic, = struct.unpack(">I", data[:4])
    if magic >> 8 != 0x08:
        raise ValueError(f"{path}: not an IDX ubyte file (magic {magic:#x})")
    ndim = magic & 0xFF
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(split: str = "train", directory: str | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 28, 28) uint8, labels (n,) int64) of the "train" (60,000) or "test" (10,000)
    split, from `directory` (default $AECV_FASHION_MNIST or /usr/share/datasets/fashion-mnist)."""
    if split not in _FILES:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    directory = directory or FASHION_MNIST_DIR
    images_file, labels_file = (os.path.join(directory, f) for f in _FILES[split])
    images = _read_idx(images_file)
    labels = _read_idx(labels_file).astype(np.int64)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(f"{directory}: images {images.shape} and labels {labels.shape} do not match")
    return images, labels


def _resize_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """(h, w) float -> (size, size), bilinear with half-pixel centers (PIL / torch
    align_corners=False), edges clamped."""
    h, w = image.shape

    def axis(n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coord = (np.arange(size, dtype=np.float64) + 0.5) * (n_in / size) - 0.5
        coord = np.clip(coord, 0, n_in - 1)
        low = np.floor(coord).astype(np.int64)
        high = np.minimum(low + 1, n_in - 1)
        return low, high, (coord - low).astype(np.float32)

    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    top = image[y0][:, x0] * (1 - fx) + image[y0][:, x1] * fx
    bottom = image[y1][:, x0] * (1 - fx) + image[y1][:, x1] * fx
    resized: np.ndarray = top * (1 - fy[:, None]) + bottom * fy[:, None]
    return resized


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return float(inter) / float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def detection_canvases(images: ArrayLike, labels: ArrayLike, n: int, seed: int = 0, size: int = 96,
                       min_items: int = 1, max_items: int = 4, min_side: int = 20,
                       max_side: int = 40, max_iou: float = 0.3, threshold: float = 0.05,
                       attempts: int = 50) -> tuple[np.ndarray, list[np.ndarray]]:
    """Object-detection canvases: `size` x `size` black images, each with min_items..max_items
    (uniform) items drawn from `images` (uint8 scaled by 1/255, or floats in [0, 1]), each resized
    (bilinear) to a square of min_side..max_side pixels (uniform), placed uniformly fully inside
    the canvas and merged with a pixel-wise max. An item whose tight box (its pixels > threshold)
    overlaps an already placed box with IoU > max_iou is rejected and redrawn (up to `attempts`
    draws per canvas). Boxes are (class, x_min, y_min, x_max, y_max) with pixel-edge coordinates
    (x_max exclusive: a box of one pixel at column 3 is 3..4).

    Returns (canvases (n, 1, size, size) float32, boxes: list of n (k, 5) float32 arrays).
    Deterministic for a given seed (numpy's PCG64)."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or len(labels) != len(images) or len(images) == 0:
        raise ValueError(f"images: expected (n, H, W) with n labels, got {images.shape} and {labels.shape}")
    if not (1 <= min_side <= max_side <= size) or not (1 <= min_items <= max_items):
        raise ValueError("detection_canvases: inconsistent sizes or item counts")
    scale = 1 / 255 if images.dtype == np.uint8 else 1.0
    rng = np.random.default_rng(seed)
    canvases = np.zeros((n, 1, size, size), np.float32)
    all_boxes = []
    for i in range(n):
        want = int(rng.integers(min_items, max_items + 1))
        canvas = canvases[i, 0]
        placed: list[tuple[float, ...]] = []  # (class, x_min, y_min, x_max, y_max)
        tries = 0
        while len(placed) < want and tries < attempts:
            tries += 1
            j = int(rng.integers(len(images)))
            side = int(rng.integers(min_side, max_side + 1))
            x = int(rng.integers(0, size - side + 1))
            y = int(rng.integers(0, size - side + 1))
            patch = _resize_bilinear(images[j].astype(np.float32) * scale, side)
            rows = np.nonzero((patch > threshold).any(axis=1))[0]
            cols = np.nonzero((patch > threshold).any(axis=0))[0]
            if len(rows) == 0:
                continue
            box = (x + cols[0], y + rows[0], x + cols[-1] + 1, y + rows[-1] + 1)
            if any(_iou(box, p[1:]) > max_iou for p in placed):
                continue
            np.maximum(canvas[y:y + side, x:x + side], patch, out=canvas[y:y + side, x:x + side])
            placed.append((float(labels[j]),) + tuple(float(v) for v in box))
        all_boxes.append(np.array(placed, np.float32).reshape(-1, 5))
    return canvases, all_boxes
