"""aecv.Detector: object detection with a grid detector on the conv autoencoder's encoder, and
the VOC AP metrics. C API: aecv_detector_* (include/aecv.h, "Object detection").

    ae = aecv.Autoencoder("conv", input_shape=(1, 28, 28)); ae.fit(X_fashion, epochs=5)
    X, boxes = aecv.datasets.detection_canvases(X_fashion, y_fashion, n=20000, seed=0)
    det = aecv.Detector(ae, n_classes=10, input_shape=(1, 96, 96)).fit(X, boxes)
    det.predict(X_test)              # list of (k, 6) arrays: class, score, x_min, y_min, x_max, y_max
    det.evaluate(X_test, boxes_test) # {"mAP50": ..., "AP50_agnostic": ...}
"""

from __future__ import annotations

import ctypes
import json
import os
from ctypes import POINTER, c_char_p, c_float, c_int32, c_size_t, c_void_p
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import _ffi
from ._arrays import as_float32, check_float_dtype
from ._model import NativeModel
from ._progress import progress_bar
from ._typing import ArrayLike, PathArg
from .autoencoder import Autoencoder, _check_count, _check_seed, _path_bytes, _spec_text
from .errors import InvalidArgumentError, UnsupportedError

__all__ = ["Detector", "average_precision", "mean_average_precision", "DEFAULT_EPOCHS"]

#: fit()'s default number of epochs (Adam 1e-3, batch 64). On 20,000 Fashion-MNIST canvases with
#: a pretrained backbone, 40 epochs gave mAP@0.5 0.728 where 30 gave 0.715 (tools/detect_bench.py,
#: README); the issue's target is 0.72.
DEFAULT_EPOCHS = 40
#: With lr_decay (the default), the last fifth of fit()'s epochs (at least one, when epochs >= 5)
#: run at a tenth of the learning rate.
DECAY_FRACTION = 0.2
#: fit()'s default random translation, in pixels (one cell of the stride-8 grid).
SHIFT = 8

# The aecv_detector_* functions, declared here (optional: an older library lacks them).
_FUNCTIONS = {
    "aecv_detector_create": (c_int32, [c_void_p, c_char_p, POINTER(c_void_p)]),
    "aecv_detector_free": (None, [c_void_p]),
    "aecv_detector_input_size": (c_size_t, [c_void_p]),
    "aecv_detector_classes": (c_size_t, [c_void_p]),
    "aecv_detector_spec": (c_size_t, [c_void_p, c_char_p, c_size_t]),
    "aecv_detector_train_step": (c_int32, [c_void_p, _ffi.F32, c_size_t, _ffi.F32, c_size_t,
                                           POINTER(c_float)]),
    "aecv_detector_detect": (c_int32, [c_void_p, _ffi.F32, c_size_t, c_float, c_float,
                                       _ffi.F32Out, c_size_t, POINTER(c_size_t)]),
    "aecv_detector_save": (c_int32, [c_void_p, c_char_p]),
    "aecv_detector_set_learning_rate": (c_int32, [c_void_p, c_float]),
    "aecv_detector_load": (c_int32, [c_char_p, POINTER(c_void_p)]),
    "aecv_detector_export_onnx": (c_int32, [c_void_p, c_char_p]),
}
for _name, (_restype, _argtypes) in _FUNCTIONS.items():
    if hasattr(_ffi.lib, _name):
        _fn = getattr(_ffi.lib, _name)
        _fn.restype, _fn.argtypes = _restype, _argtypes


def _require(name: str) -> Callable[..., int]:
    if not hasattr(_ffi.lib, name):
        raise UnsupportedError(f"{name}: the loaded libaecv ({_ffi.library_path}) has no "
                               f"aecv_detector_* API")
    fn: Callable[..., int] = getattr(_ffi.lib, name)
    return fn


class _NativeDetector(NativeModel):
    _free_function = "aecv_detector_free"

    def __init__(self, handle: int | None) -> None:
        self._adopt(handle)


class Detector:
    """A single-stage grid object detector whose backbone is a conv autoencoder's encoder.

    backbone: an aecv.Autoencoder of preset "conv" (or "denoising" with the conv base) whose
        encoder weights are copied (its input may be 28x28 for a 96x96 detector), or None for a
        random backbone.
    n_classes: classes are integers 0 .. n_classes-1.
    input_shape: (C, H, W) of the images; H and W divisible by 8 (the backbone's stride).
    seed: initialization and fit()'s shuffling.
    **spec: other fields of the detector spec (include/aecv.h): freeze_backbone (False),
        head_channels (128), anchor (32), box_weight (5), negative_weight (1), class_weight (3),
        classes_per_cell (1), optimizer
        ({"name": "adam", "learning_rate": 1e-3}), backbone (channels, random backbone only).

    Images: (n, C, H, W), (n, H, W) when C == 1 or (n, C*H*W); float in [0, 1] or uint8
    (scaled by 1/255). Boxes: a list of n arrays of shape (k, 5), rows (class, x_min, y_min,
    x_max, y_max) in pixels (k may be 0).
    """

    def __init__(self, backbone: Autoencoder | None = None, n_classes: int = 10,
                 input_shape: Iterable[int] = (1, 96, 96), seed: int = 0, **spec: Any) -> None:
        shape = [int(v) for v in input_shape]
        if len(shape) == 2:
            shape = [1] + shape
        self.seed = _check_seed(seed)
        text = _spec_text({"classes": n_classes, "input": shape, "seed": self.seed, **spec})
        handle = ctypes.c_void_p()
        create = _require("aecv_detector_create")
        if backbone is None:
            status = create(None, text.encode("utf-8"), ctypes.byref(handle))
        else:
            if not isinstance(backbone, Autoencoder):
                raise TypeError(f"backbone: expected an aecv.Autoencoder or None, got "
                                f"{type(backbone).__name__}")
            with backbone._lock:
                status = create(backbone._live(), text.encode("utf-8"), ctypes.byref(handle))
        _ffi.check(status)
        self._native = _NativeDetector(handle.value)
        self._describe()
        self.loss_curve_: list[float] = []

    @classmethod
    def load(cls, path: PathArg) -> "Detector":
        name, raw = _path_bytes(path)
        handle = ctypes.c_void_p()
        _ffi.check(_require("aecv_detector_load")(raw, ctypes.byref(handle)), name)
        self = cls.__new__(cls)
        self._native = _NativeDetector(handle.value)
        self._describe()
        self.seed = int(self.spec.get("seed", 0))
        self.loss_curve_ = []
        return self

    def _describe(self) -> None:
        spec = self.spec
        self.n_classes = int(spec["classes"])
        self.input_shape = tuple(int(v) for v in spec["input"])
        self.input_size = int(np.prod(self.input_shape))
        stride = 2 ** len(spec["backbone"])
        self._cells = (self.input_shape[1] // stride) * (self.input_shape[2] // stride)
        # At most classes_per_cell detections per cell (files from before the key: 1).
        self._per_cell = int(spec.get("classes_per_cell", 1))

    @property
    def spec(self) -> dict[str, Any]:
        fn = _ffi.lib.aecv_detector_spec
        n = self._native
        with n._lock:
            handle = n._live()
            size = fn(handle, None, 0)
            buffer = ctypes.create_string_buffer(size + 1)
            fn(handle, buffer, size + 1)
        spec: dict[str, Any] = json.loads(buffer.value.decode("utf-8"))
        return spec

    def close(self) -> None:
        self._native.close()

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"aecv.Detector(n_classes={self.n_classes}, input_shape={self.input_shape})"

    # ------------------------------------------------------------------------------ data

    def _images(self, X: ArrayLike, name: str = "images") -> np.ndarray:
        X = np.asarray(X)
        check_float_dtype(X, name, allow_uint8=True)
        n = X.shape[0] if X.ndim >= 1 else 0
        if X.ndim < 2 or n == 0 or X[0].size != self.input_size:
            raise InvalidArgumentError(f"{name}: expected a non-empty batch of images of shape "
                                       f"{self.input_shape}, got an array of shape {X.shape}")
        X = as_float32(X).reshape(n, self.input_size)
        return np.ascontiguousarray(X)

    def _boxes(self, boxes: Sequence[ArrayLike], n: int) -> list[np.ndarray]:
        if len(boxes) != n:
            raise InvalidArgumentError(f"boxes: expected {n} arrays (one per image), got {len(boxes)}")
        out = []
        for i, b in enumerate(boxes):
            b = np.asarray(b, np.float32).reshape(-1, 5) if np.size(b) else np.zeros((0, 5), np.float32)
            out.append(b)
        return out

    @staticmethod
    def _pack(boxes: list[np.ndarray], max_boxes: int) -> np.ndarray:
        packed = np.full((len(boxes), max_boxes, 5), -1, np.float32)
        for i, b in enumerate(boxes):
            packed[i, :len(b)] = b
        return packed

    # ------------------------------------------------------------------------------ training

    def train_step(self, images: ArrayLike, boxes: Sequence[ArrayLike]) -> float:
        """One optimizer step on a batch; returns the loss before the step."""
        X = self._images(images)
        B = self._boxes(boxes, len(X))
        max_boxes = max(1, max(len(b) for b in B))
        packed = self._pack(B, max_boxes)
        loss = c_float()
        self._native._call(_ffi.lib.aecv_detector_train_step, X, len(X), packed, max_boxes,
                           ctypes.byref(loss))
        return float(loss.value)

    def fit(self, images: ArrayLike, boxes: Sequence[ArrayLike], epochs: int | None = None, batch_size: int = 64,
            progress: bool = True, shuffle: bool = True, lr_decay: bool = True,
            flip: bool = True, shift: int = SHIFT) -> "Detector":
        """Trains for `epochs` (default DEFAULT_EPOCHS) passes over the data in minibatches of
        batch_size, shuffled each epoch (seeded by seed and the epoch).
        lr_decay: the last fifth of the epochs (when epochs >= 5) use a tenth of the spec's
            learning rate; the learning rate is restored afterwards.
        flip: each image of a batch is mirrored left-right with probability 1/2 (its boxes with
            it), drawn from seed and the epoch: a mirrored garment is still the same class, and
            the detector otherwise overfits the classification of the training canvases.
        shift: each image is also moved by up to this many pixels along x and y (zero-filled),
            never so far that a box would leave the image; 0 turns it off.
        Appends each epoch's mean loss to loss_curve_. Returns self."""
        epochs = DEFAULT_EPOCHS if epochs is None else _check_count(epochs, "epochs")
        base_lr = float(self.spec["optimizer"]["learning_rate"])
        decay_from = epochs - max(1, int(epochs * DECAY_FRACTION)) if lr_decay and epochs >= 5 else epochs
        set_lr = _ffi.lib.aecv_detector_set_learning_rate if hasattr(_ffi.lib, "aecv_detector_set_learning_rate") else None
        batch_size = _check_count(batch_size, "batch_size")
        X = self._images(images)
        B = self._boxes(boxes, len(X))
        max_boxes = max(1, max(len(b) for b in B))
        packed = self._pack(B, max_boxes)
        n = len(X)
        C, H, W = self.input_shape
        step = _ffi.lib.aecv_detector_train_step
        loss = c_float()
        for k, epoch in enumerate(range(len(self.loss_curve_), len(self.loss_curve_) + epochs)):
            if set_lr is not None and (k == 0 or k == decay_from):
                self._native._call(set_lr, base_lr * (0.1 if k >= decay_from else 1.0))
            order = (np.random.default_rng([self.seed, epoch]).permutation(n) if shuffle
                     else np.arange(n))
            mirror = np.random.default_rng([self.seed, epoch, 1]).random(n) < 0.5 if flip else None
            moves = np.random.default_rng([self.seed, epoch, 2]).random((n, 2)) if shift > 0 else None
            bar = progress_bar(progress, n, f"epoch {epoch + 1}")
            total, seen = 0.0, 0
            try:
                for start in range(0, n, batch_size):
                    idx = order[start:start + batch_size]
                    xb = X[idx]
                    bb = packed[idx]
                    if mirror is not None:
                        xb, bb = _mirror(xb, bb, mirror[idx], (C, H, W))
                    if moves is not None:
                        xb, bb = _translate(xb, bb, moves[idx], shift, (C, H, W))
                    self._native._call(step, np.ascontiguousarray(xb), len(idx),
                                       np.ascontiguousarray(bb), max_boxes, ctypes.byref(loss))
                    total += loss.value * len(idx)
                    seen += len(idx)
                    bar.update(len(idx), total / seen)
            finally:
                bar.close()
            self.loss_curve_.append(total / max(seen, 1))
        if set_lr is not None:
            self._native._call(set_lr, base_lr)
        return self

    # ------------------------------------------------------------------------------ inference

    def predict(self, images: ArrayLike, score_threshold: float = 0.05, iou_threshold: float = 0.5,
                batch_size: int = 256) -> list[np.ndarray]:
        """Detections per image after per-class NMS: a list of (k, 6) float32 arrays, rows
        (class, score, x_min, y_min, x_max, y_max), by descending score. With the spec's
        test_time_flip (the default) each image's outputs are averaged with its mirror's."""
        X = self._images(images)
        batch_size = _check_count(batch_size, "batch_size")
        detect = _ffi.lib.aecv_detector_detect
        result = []
        for start in range(0, len(X), batch_size):
            xb = X[start:start + batch_size]
            m = len(xb)
            capacity = m * self._cells * self._per_cell
            out = np.empty((capacity, 6), np.float32)
            counts = (c_size_t * m)()
            self._native._call(detect, np.ascontiguousarray(xb), m, float(score_threshold),
                               float(iou_threshold), out, capacity, counts)
            offset = 0
            for c in counts:
                result.append(out[offset:offset + c].copy())
                offset += c
        return result

    def evaluate(self, images: ArrayLike, boxes: Sequence[ArrayLike], iou_threshold: float = 0.5,
                 score_threshold: float = 0.05) -> dict[str, Any]:
        """{"mAP50": VOC all-point mAP over the classes present in `boxes`,
        "AP50_agnostic": class-agnostic AP}, detections from predict()."""
        predictions = self.predict(images, score_threshold=score_threshold)
        truths = self._boxes(boxes, len(predictions))
        return {"mAP50": mean_average_precision(predictions, truths, self.n_classes, iou_threshold),
                "AP50_agnostic": average_precision(predictions, truths, None, iou_threshold)}

    def save(self, path: PathArg) -> None:
        name, raw = _path_bytes(path)
        self._native._call(_ffi.lib.aecv_detector_save, raw, filename=name)

    def export_onnx(self, path: PathArg) -> None:
        """Writes the raw grid network as ONNX: "input" (N, C, H, W) -> "grid"
        (N, 5 + classes, H/stride, W/stride); README "ONNX" documents the decoding. Atomic."""
        name, raw = _path_bytes(path)
        self._native._call(_require("aecv_detector_export_onnx"), raw, filename=name)


def _mirror(images: np.ndarray, boxes: np.ndarray, which: np.ndarray,
            shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Copies of a batch with the images where `which` is true mirrored left-right: pixels
    (C, H, W) reversed along W, boxes (class, x0, y0, x1, y1) -> (class, W - x1, y0, W - x0, y1);
    padding rows (class -1) unchanged."""
    C, H, W = shape
    images = images.reshape(len(images), C, H, W).copy()
    images[which] = images[which][..., ::-1]
    boxes = boxes.copy()
    flip = which[:, None] & (boxes[:, :, 0] >= 0)
    x0, x1 = boxes[:, :, 1].copy(), boxes[:, :, 3].copy()
    boxes[:, :, 1] = np.where(flip, W - x1, x0)
    boxes[:, :, 3] = np.where(flip, W - x0, x1)
    return images.reshape(len(images), C * H * W), boxes


def _translate(images: np.ndarray, boxes: np.ndarray, draws: np.ndarray, limit: int,
               shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Copies of a batch with each image moved by whole pixels (dx, dy) in [-limit, limit],
    zero-filled, boxes moved with it. draws: (n, 2) uniforms in [0, 1) choosing dx and dy in the
    range that keeps every box of the image inside it."""
    C, H, W = shape
    src = images.reshape(len(images), C, H, W)
    out = np.zeros_like(src)
    boxes = boxes.copy()
    for i in range(len(src)):
        real = boxes[i, :, 0] >= 0
        b = boxes[i, real]
        ranges = []
        for lo_edge, hi_edge, size in ((b[:, 1], b[:, 3], W), (b[:, 2], b[:, 4], H)):
            lo = -min(limit, int(np.floor(lo_edge.min()))) if len(b) else -limit
            hi = min(limit, int(np.floor(size - hi_edge.max()))) if len(b) else limit
            ranges.append((lo, max(lo, hi)))
        (x_lo, x_hi), (y_lo, y_hi) = ranges
        dx = x_lo + int(draws[i, 0] * (x_hi - x_lo + 1))
        dy = y_lo + int(draws[i, 1] * (y_hi - y_lo + 1))
        out[i, :, max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
            src[i, :, max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
        boxes[i, real, 1] += dx
        boxes[i, real, 3] += dx
        boxes[i, real, 2] += dy
        boxes[i, real, 4] += dy
    return out.reshape(len(images), C * H * W), boxes


# ---------------------------------------------------------------------------------- metrics

def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0)


def average_precision(predictions: Sequence[ArrayLike], truths: Sequence[ArrayLike], class_index: int | None = None,
                      iou_threshold: float = 0.5) -> float:
    """VOC all-point AP of one class (class_index None: class-agnostic) over all images.
    predictions[i]: (k, 6) rows (class, score, box); truths[i]: (m, 5) rows (class, box).
    Detections ranked by score; each is a TP when its best-IoU ground truth of the class in its
    image has IoU >= threshold and is not yet matched. NaN when there is no ground truth."""
    ranked, gts = [], []
    positives = 0
    for i, (p, t) in enumerate(zip(predictions, truths)):
        p = np.asarray(p, np.float32).reshape(-1, 6)
        t = np.asarray(t, np.float32).reshape(-1, 5)
        if class_index is not None:
            p = p[p[:, 0] == class_index]
            t = t[t[:, 0] == class_index]
        gts.append(t[:, 1:])
        positives += len(t)
        for row in p:
            ranked.append((-float(row[1]), i, row[2:]))
    if positives == 0:
        return float("nan")
    ranked.sort(key=lambda r: r[0])
    matched = [np.zeros(len(g), bool) for g in gts]
    tp = np.zeros(len(ranked))
    for k, (_, i, box) in enumerate(ranked):
        if len(gts[i]):
            ious = _iou_matrix(box[None, :], gts[i])[0]
            j = int(np.argmax(ious))
            if ious[j] >= iou_threshold and not matched[i][j]:
                matched[i][j] = True
                tp[k] = 1
    ctp = np.cumsum(tp)
    recall = ctp / positives
    precision = ctp / np.arange(1, len(ranked) + 1)
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    changes = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[changes + 1] - r[changes]) * p[changes + 1]))


def mean_average_precision(predictions: Sequence[ArrayLike], truths: Sequence[ArrayLike],
                           n_classes: int, iou_threshold: float = 0.5) -> float:
    """Mean of average_precision over the classes that have ground truth."""
    aps = [average_precision(predictions, truths, c, iou_threshold) for c in range(n_classes)]
    aps = [a for a in aps if not np.isnan(a)]
    return float(np.mean(aps)) if aps else 0.0
