"""aecv.metrics: evaluation measures for the library's tasks, computed by libaecv's core (the
same code the C API and the CLI use, so every host reports the same numbers).

roc_auc(y_true, scores)       area under the ROC curve (image AUROC);
pixel_roc_auc(masks, maps)    the same over every pixel of the maps (pixel AUROC);
pro(masks, maps)              MVTec AD's per-region overlap up to a false-positive rate of 0.3;
f1_max(y_true, scores)        the best F1 over all thresholds, and that threshold.

Labels and masks: bool, or two distinct numbers of which the larger is the positive
(anomalous) class. Scores and maps: finite reals, higher = more likely anomalous.
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import _ffi
from ._typing import ArrayLike

__all__ = ["roc_auc", "pixel_roc_auc", "pro", "f1_max"]


def _binary(y: np.ndarray, fn: str, what: str) -> np.ndarray:
    """Binary labels of any accepted kind -> C-contiguous uint8 (1 = positive)."""
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: {what} must be bool or numeric labels, got dtype {y.dtype}")
    classes = np.unique(y)
    if classes.size > 2:
        raise ValueError(f"{fn}: {what} must be binary, got {classes.size} distinct labels "
                         f"({', '.join(str(c) for c in classes[:5])}{', ...' if classes.size > 5 else ''})")
    if classes.size < 2:
        raise ValueError(f"{fn}: only one class is present in {what}; the metric is undefined")
    return np.ascontiguousarray(y == classes[1], dtype=np.uint8)


def _scores(s: np.ndarray, fn: str, what: str) -> np.ndarray:
    if s.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: {what} must be real numbers, got dtype {s.dtype}")
    s = np.ascontiguousarray(s, dtype=np.float32)
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{fn}: {what} contain NaN or infinite values (or values beyond float32)")
    return s


def _pair(y_true: ArrayLike, scores: ArrayLike, fn: str, labels: str, values: str,
          ndim: int | None) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(scores)
    if ndim is not None and (y.ndim != ndim or s.ndim != ndim):
        raise ValueError(f"{fn}: {labels} and {values} must be {ndim}-D, got shapes {y.shape} "
                         f"and {s.shape}")
    if y.shape != s.shape:
        if y.ndim == 1 and s.ndim == 1:
            raise ValueError(f"{fn}: {labels} has {y.shape[0]} labels but {values} has "
                             f"{s.shape[0]} values")
        raise ValueError(f"{fn}: {labels} has shape {y.shape} but {values} has shape {s.shape}")
    return _binary(y.reshape(-1), fn, labels), _scores(s.reshape(-1), fn, values)


def _core(name: str, *args: object) -> None:
    _ffi.check(getattr(_ffi.lib, name)(*args))


def roc_auc(y_true: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve: the probability that a random positive example scores higher
    than a random negative one, ties counting one half.

    Equals the Mann-Whitney U / (n_pos n_neg) and scikit-learn's roc_auc_score; computed by
    the core (aecv_roc_auc) in O(n log n), scores rounded to float32.

    y_true: (n,) binary labels: bool, or two distinct numbers of which the larger is the positive
        class (0/1, -1/+1). With anomaly scores, positive = anomalous.
    scores: (n,) finite real scores, higher = more likely positive.

    Raises ValueError when the shapes differ, the labels are not binary, only one class is
    present (the AUC is undefined), or a score is NaN or infinite.
    """
    y, s = _pair(y_true, scores, "roc_auc", "y_true", "scores", 1)
    out = ctypes.c_double()
    _core("aecv_roc_auc", s, y.ctypes.data, y.size, ctypes.byref(out))
    return float(out.value)


def pixel_roc_auc(masks: ArrayLike, maps: ArrayLike) -> float:
    """Pixel AUROC: roc_auc over every pixel of every image, pooled.

    masks: ground truth, (n, H, W) (any shape equal to maps'), nonzero/True = defect pixel.
    maps: anomaly maps of the same shape, e.g. AnomalyDetector.pixel_maps(X).
    """
    y, s = _pair(masks, maps, "pixel_roc_auc", "masks", "maps", None)
    out = ctypes.c_double()
    _core("aecv_roc_auc", s, y.ctypes.data, y.size, ctypes.byref(out))
    return float(out.value)


def pro(masks: ArrayLike, maps: ArrayLike, fpr_limit: float = 0.3) -> float:
    """PRO, the per-region overlap of the MVTec AD evaluation, in [0, 1].

    For each threshold t: PRO(t) = the mean over the 8-connected defect regions of all masks of
    the fraction of the region with map > t, and FPR(t) = the fraction of normal pixels with
    map > t. The result is the area under PRO(FPR) from 0 to fpr_limit (trapezoids, the curve
    interpolated at the limit), divided by fpr_limit. Unlike pixel AUROC, a small defect counts
    as much as a large one.

    masks, maps: (n, H, W) (or (H, W) for one image). Raises ValueError when the masks hold no
    defect or no normal pixel.
    """
    m = np.asarray(masks)
    a = np.asarray(maps)
    if m.ndim == 2:
        m, a = m[None], a[None] if a.ndim == 2 else a
    if m.ndim != 3 or a.shape != m.shape:
        raise ValueError(f"pro: masks and maps must have the same shape (n, H, W), got {m.shape} "
                         f"and {a.shape}")
    if not isinstance(fpr_limit, (int, float, np.floating)) or not 0 < float(fpr_limit) <= 1:
        raise ValueError(f"pro: fpr_limit must be a number in (0, 1], got {fpr_limit!r}")
    if m.dtype.kind not in "biuf":
        raise TypeError(f"pro: masks must be bool or numeric, got dtype {m.dtype}")
    y = np.ascontiguousarray(m != 0, dtype=np.uint8)
    s = _scores(a, "pro", "maps")
    if not y.any():
        raise ValueError("pro: masks contain no defect pixel")
    if y.all():
        raise ValueError("pro: masks contain no normal pixel")
    out = ctypes.c_double()
    n, h, w = y.shape
    _core("aecv_per_region_overlap", s, y.ctypes.data, n, h, w, float(fpr_limit), ctypes.byref(out))
    return float(out.value)


def f1_max(y_true: ArrayLike, scores: ArrayLike) -> tuple[float, float]:
    """(best F1, threshold): the best F1 = 2TP / (2TP + FP + FN) over all thresholds of the
    decision "anomalous when score > threshold", and a threshold that reaches it (halfway
    between the lowest score flagged and the next lower one). Any shape, e.g. masks and maps
    for the pixel-level F1."""
    y, s = _pair(y_true, scores, "f1_max", "y_true", "scores", None)
    f1 = ctypes.c_double()
    threshold = ctypes.c_float()
    _core("aecv_best_f1", s, y.ctypes.data, y.size, ctypes.byref(f1), ctypes.byref(threshold))
    return float(f1.value), float(threshold.value)
