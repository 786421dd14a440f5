"""aecv.metrics: evaluation measures for the library's tasks (numpy only).

roc_auc(y_true, scores): the area under the ROC curve of a score that should be higher for the
positive class (e.g. anomaly scores with y_true = "is anomalous").
"""

from __future__ import annotations

import numpy as np

from ._typing import ArrayLike

__all__ = ["roc_auc"]


def _midranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of values, ties sharing the mean of the ranks they span (float64)."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # Start of each run of equal values in sorted order, and the run's length.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    lengths = np.diff(np.r_[starts, values.size])
    run_ranks = starts + (lengths + 1) / 2.0  # mean of the ranks starts+1 .. starts+length
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(run_ranks, lengths)
    return ranks


def roc_auc(y_true: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve: the probability that a random positive example scores higher
    than a random negative one, ties counting one half.

    Computed from ranks (Mann-Whitney U): with midranks R for tied scores,

        AUC = (sum of R over positives - n_pos (n_pos + 1) / 2) / (n_pos n_neg),

    which equals U / (n_pos n_neg) and scikit-learn's roc_auc_score, in O(n log n).

    y_true: (n,) binary labels: bool, or two distinct numbers of which the larger is the positive
        class (0/1, -1/+1). With anomaly scores, positive = anomalous.
    scores: (n,) finite real scores, higher = more likely positive.

    Raises ValueError when the shapes differ, the labels are not binary, only one class is
    present (the AUC is undefined), or a score is NaN or infinite.
    """
    y = np.asarray(y_true)
    s = np.asarray(scores)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"roc_auc: y_true and scores must be 1-D, got shapes {y.shape} and "
                         f"{s.shape}")
    if y.shape != s.shape:
        raise ValueError(f"roc_auc: y_true has {y.shape[0]} labels but scores has "
                         f"{s.shape[0]} values")
    if s.dtype.kind not in "biuf":
        raise TypeError(f"roc_auc: scores must be real numbers, got dtype {s.dtype}")
    s = s.astype(np.float64)
    if not np.all(np.isfinite(s)):
        raise ValueError("roc_auc: scores contain NaN or infinite values")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"roc_auc: y_true must be bool or numeric labels, got dtype {y.dtype}")
    classes = np.unique(y)
    if classes.size > 2:
        raise ValueError(f"roc_auc: y_true must be binary, got {classes.size} distinct labels "
                         f"({', '.join(str(c) for c in classes[:5])}{', ...' if classes.size > 5 else ''})")
    if classes.size < 2:
        raise ValueError("roc_auc: only one class is present in y_true; the ROC AUC is "
                         "undefined")
    positive = y == classes[1]
    n_pos = int(positive.sum())
    n_neg = y.size - n_pos
    ranks = _midranks(s)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (float(n_pos) * n_neg))
