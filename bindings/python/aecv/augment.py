"""Data augmentation by generation: labeled synthetic images from a conditional VAE."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .errors import UnsupportedError

if TYPE_CHECKING:
    from .autoencoder import Autoencoder


def augment(model: "Autoencoder", n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n_per_class` generated images of each class of a trained cvae model.

    Returns (images, labels): images (K * n_per_class, C, H, W) float32 in [0, 1], class by
    class (all of class 0 first), and labels (K * n_per_class,) int64. Class c is drawn with
    seed `seed + c` (as ``model.sample(n, seed, y=c)``). Append them to a real training set::

        Xs, ys = aecv.augment(cvae, 1000)
        X_train, y_train = np.concatenate([X, Xs]), np.concatenate([y, ys])
    """
    k = model.n_classes
    if k is None:
        raise UnsupportedError(f"augment: a {model.preset} model is not conditional; train a cvae "
                               "(preset 'cvae', classes=K) with fit(X, y)")
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, (int, np.integer)) \
            or n_per_class < 1:
        raise ValueError(f"n_per_class: must be an integer >= 1, got {n_per_class!r}")
    labels = np.repeat(np.arange(k, dtype=np.int64), int(n_per_class))
    return model.sample(labels.size, seed=seed, y=labels), labels
