"""Data augmentation by generation: labeled synthetic images from a conditional VAE, or latent
mixup of same-class examples through any unconditional autoencoder."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._typing import ArrayLike
from .errors import ShapeError, UnsupportedError

if TYPE_CHECKING:
    from .autoencoder import Autoencoder


def _check_per_class(n_per_class: int) -> int:
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, (int, np.integer)) \
            or n_per_class < 1:
        raise ValueError(f"n_per_class: must be an integer >= 1, got {n_per_class!r}")
    return int(n_per_class)


def augment(model: "Autoencoder", n_per_class: int, seed: int = 0, X: ArrayLike | None = None,
            y: ArrayLike | None = None,
            t_range: tuple[float, float] = (0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """`n_per_class` generated images of each class.

    A conditional model (cvae, or conv_vae with classes) samples them (X and y are not needed): class c is drawn with seed `seed + c`
    (as ``model.sample(n, seed, y=c)``). Any other model needs labeled examples X, y and makes
    them by latent mixup (`latent_mixup`). Returns (images, labels): images
    (K * n_per_class, C, H, W) float32, class by class (all of class 0 first), and labels
    (K * n_per_class,) int64. Append them to a real training set::

        Xs, ys = aecv.augment(cvae, 1000)
        X_train, y_train = np.concatenate([X, Xs]), np.concatenate([y, ys])
    """
    k = model.n_classes
    if k is None:
        if X is None or y is None:
            raise UnsupportedError(f"augment: a {model.preset} model is not conditional; train a "
                                   "conditional model (preset 'cvae', or 'conv_vae', with classes=K) "
                                   "with fit(X, y), or pass labeled "
                                   "examples X, y for latent mixup")
        return latent_mixup(model, X, y, n_per_class, seed=seed, t_range=t_range)
    n = _check_per_class(n_per_class)
    labels = np.repeat(np.arange(k, dtype=np.int64), n)
    return model.sample(labels.size, seed=seed, y=labels), labels


def latent_mixup(model: "Autoencoder", X: ArrayLike, y: ArrayLike, n_per_class: int, seed: int = 0,
                 t_range: tuple[float, float] = (0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Latent mixup: new images of each class decoded from codes between two of its examples.

    For each class c of y (sorted) and each of `n_per_class` images: two different examples a,
    b of class c drawn at random, t ~ U(t_range), and

        image = decode((1 - t) * encode(x_a) + t * encode(x_b))

    (a VAE's codes are its means), labelled c. With t_range (0, 0) an image is the
    reconstruction of an example of its class; the default mixes anywhere between the two.
    Class c draws from numpy's default_rng(seed + c), so its images do not depend on the other
    classes. Every class needs at least two examples. Returns (images, labels) as `augment`.
    Works with any unconditional model (a cvae samples per class instead: `augment`).
    """
    if model.n_classes is not None:
        raise UnsupportedError("latent_mixup: a conditional model encodes with its class; use "
                               "aecv.augment(model, n_per_class), which samples each class")
    n = _check_per_class(n_per_class)
    lo, hi = (float(v) for v in t_range)
    if not (0.0 <= lo <= hi <= 1.0):
        raise ValueError(f"t_range: must satisfy 0 <= low <= high <= 1, got {t_range!r}")
    labels_in = np.asarray(y)
    if labels_in.ndim != 1 or not np.issubdtype(labels_in.dtype, np.integer):
        raise ShapeError(f"y: expected a 1-D array of integer labels, got shape {labels_in.shape} "
                         f"of {labels_in.dtype}")
    if labels_in.size and labels_in.min() < 0:
        raise ValueError(f"y: labels must be >= 0, got {int(labels_in.min())}")
    codes = model.transform(X)
    if codes.shape[0] != labels_in.shape[0]:
        raise ShapeError(f"y: expected {codes.shape[0]} labels, one per example of X, got "
                         f"{labels_in.shape[0]}")
    images, labels = [], []
    for c in np.unique(labels_in):
        members = np.flatnonzero(labels_in == c)
        if members.size < 2:
            raise ValueError(f"latent_mixup: class {int(c)} has {members.size} example; mixup "
                             "needs at least two per class")
        rng = np.random.default_rng(seed + int(c))
        first = rng.integers(0, members.size, n)
        # a different second example: an offset of 1 .. size-1 places along the class
        second = (first + rng.integers(1, members.size, n)) % members.size
        t = rng.uniform(lo, hi, (n, 1)).astype(np.float32)
        mixed = (1 - t) * codes[members[first]] + t * codes[members[second]]
        images.append(model.decode(mixed.astype(np.float32)))
        labels.append(np.full(n, int(c), dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)
