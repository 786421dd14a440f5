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
from typing import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from ._typing import ArrayLike, F32Array

__all__ = ["fashion_mnist", "detection_canvases", "FASHION_MNIST_DIR", "FASHION_MNIST_CLASSES",
           "ImageFolder", "image_folder"]

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


# ------------------------------------------------------------------------------ image folders
# Folders of JPEG/PNG images, decoded with Pillow (python3-pil; an optional dependency: the
# decoders of the `aecv` CLI live in its data layer, not in libaecv.so). The order, the class
# labels and the preparation are torchvision's: ImageFolder's sorted walk, Resize(size) (shorter
# side, bilinear with antialias) + CenterCrop(size), convert("RGB"/"L"); the CLI's
# `--data DIR --size N` gives the same pixels (compared against Pillow in its tests).

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def _image_files(root: str) -> list[str]:
    """Image files below root in torchvision's make_dataset order: sorted(os.walk(root)), then
    sorted names (hidden entries skipped, as the CLI does)."""
    found: list[str] = []
    for directory, subdirectories, names in sorted(os.walk(root, followlinks=True)):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        if any(part.startswith(".") for part in os.path.relpath(directory, root).split(os.sep) if part != "."):
            continue
        for name in sorted(names):
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(os.path.join(directory, name))
    return found


def _require_pillow() -> None:
    """Raises a clear ImportError naming the package when Pillow is not installed."""
    try:
        import PIL  # type: ignore[import-untyped, unused-ignore]  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise ImportError("aecv.datasets image folders need Pillow (apt-get install python3-pil, "
                          "or pip install pillow)") from e


class ImageFolder:
    """A folder of .jpg/.jpeg/.png images (recursive), prepared to (channels, size, size) uint8.

        data = aecv.datasets.ImageFolder("photos/", size=64, channels=3, batch_size=32)
        model = aecv.Autoencoder("conv", input_shape=(3, 64, 64))
        model.fit(data, epochs=5)      # decodes one batch at a time: memory does not grow with the set
        x = data[0]                    # (3, 64, 64) uint8

    classes=True: one subfolder per class (torchvision's ImageFolder); `labels[i]` is the index
    of image i's class in the sorted `classes`. Iterating yields float32 batches in [0, 1] of
    shape (b, C, H, W), reshuffled on every pass when shuffle is true (seeded: seed + pass).
    """

    def __init__(self, root: str, size: int, channels: int = 3, classes: bool = False,
                 batch_size: int = 64, shuffle: bool = True, seed: int = 0) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels: 1 (grey) or 3 (RGB), got {channels}")
        if int(size) < 1:
            raise ValueError(f"size: at least 1, got {size}")
        if not os.path.isdir(root):
            raise FileNotFoundError(f"{root}: not a directory")
        self.root, self.size, self.channels = root, int(size), channels
        self.batch_size, self.shuffle, self.seed = int(batch_size), shuffle, seed
        self._passes = 0
        self.classes: list[str]
        self.files: list[str]
        #: The class index of each image (int64, empty without classes=True).
        self.labels: npt.NDArray[np.int64]
        if classes:
            self.classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
            if not self.classes:
                raise FileNotFoundError(f"{root}: no class subfolders")
            self.files = []
            labels: list[int] = []
            for k, name in enumerate(self.classes):
                found = _image_files(os.path.join(root, name))
                self.files += found
                labels += [k] * len(found)
            self.labels = np.asarray(labels, dtype=np.int64)
        else:
            self.classes = []
            self.files = _image_files(root)
            self.labels = np.zeros(0, dtype=np.int64)
        if not self.files:
            raise FileNotFoundError(f"{root}: no .jpg, .jpeg or .png images in the folder or below")

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)

    def __getitem__(self, i: int) -> npt.NDArray[np.uint8]:
        """Image i as (C, size, size) uint8: convert, Resize(size), CenterCrop(size)."""
        _require_pillow()
        # Debian's python3-pil (9.x) has no type information; Pillow >= 10 from PyPI has.
        from PIL import Image, ImageOps  # type: ignore[import-untyped, unused-ignore]
        path = self.files[i]
        try:
            with Image.open(path) as opened:
                im = ImageOps.exif_transpose(opened).convert("RGB" if self.channels == 3 else "L")
                w, h = im.size
                short, long = (w, h) if w <= h else (h, w)
                new_long = int(self.size * long / short)
                im = im.resize((self.size, new_long) if w <= h else (new_long, self.size),
                               Image.Resampling.BILINEAR)
                nw, nh = im.size
                top, left = int(round((nh - self.size) / 2.0)), int(round((nw - self.size) / 2.0))
                a = np.asarray(im.crop((left, top, left + self.size, top + self.size)), dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as e:
            raise OSError(f"{path}: {e}") from None
        return a[None] if a.ndim == 2 else a.transpose(2, 0, 1).copy()

    def __iter__(self) -> Iterator[F32Array]:
        n = len(self.files)
        order = (np.random.default_rng(self.seed + self._passes).permutation(n) if self.shuffle
                 else np.arange(n))
        self._passes += 1
        for start in range(0, n, self.batch_size):
            rows = order[start:start + self.batch_size]
            batch = np.stack([self[int(i)] for i in rows]).astype(np.float32)
            batch *= np.float32(1 / 255)
            yield batch


def image_folder(path: str, size: int, channels: int = 3, classes: bool = False
                 ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], list[str]]:
    """Every image of a folder in memory: (uint8 (N, C, size, size), int64 labels (N,) -- empty
    without classes -- and the sorted class names). See ImageFolder for the order and the
    preparation; for sets larger than memory iterate an ImageFolder instead."""
    folder = ImageFolder(path, size, channels, classes=classes, shuffle=False)
    X = np.empty((len(folder),) + folder.shape, dtype=np.uint8)
    for i in range(len(folder)):
        X[i] = folder[i]
    return X, folder.labels, list(folder.classes)
