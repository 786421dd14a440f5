"""aecv.Classifier: image classification on an autoencoder's learned features (a linear probe,
an MLP on frozen codes, or fine-tuning the encoder), scikit-learn style.
C API: aecv_classifier_* (include/aecv.h, "Classification")."""

from __future__ import annotations

import ctypes
import json
import os
from typing import Any, Callable, Iterable, NoReturn, Union

import numpy as np

from . import _ffi
from ._arrays import as_float32, check_float_dtype
from ._model import NativeModel
from ._progress import progress_bar
from ._typing import ArrayLike, PathArg
from .autoencoder import Autoencoder, _check_count, _check_seed, _path_bytes, _spec_text
from .errors import InvalidArgumentError, NotFittedError, ShapeError, UnsupportedError

__all__ = ["Classifier"]

#: fit()'s default number of epochs: with the other defaults it reaches the issue's targets on
#: Fashion-MNIST with the conv preset pretrained 5 epochs (tools/classify_bench.py).
DEFAULT_EPOCHS = 10
#: Fine-tuning's default encoder learning rate, as a multiple of the head's. The pretrained
#: encoder learned to reconstruct, not to classify, and must move: on Fashion-MNIST (conv preset
#: pretrained 5 epochs, fine-tuned 10 epochs) the test accuracy is 0.882 with the C library's
#: default (a tenth of the head's; seed 0), 0.901 with 1x and 0.904 with 2x (seeds 0-2, min 0.897
#: and 0.9036);
#: with 600 labels too 2x does best (tools/classify_bench.py).
ENCODER_LEARNING_RATE_FACTOR = 2.0
#: Largest minibatch the annealing epochs grow to.
ANNEAL_MAX_BATCH = 4096


def batch_schedule(epochs: int, batch_size: int, anneal: bool) -> list[int]:
    """The minibatch size of each epoch of fit(): batch_size throughout, except with anneal the
    last third of the epochs (at least one when epochs >= 2), whose batches grow 4x per epoch:
    batch_size*4, *16, *64, ... up to ANNEAL_MAX_BATCH (never below batch_size).

    A larger batch averages the gradient over more images: with Adam's step size fixed, it
    lowers the gradient noise the way a learning-rate decay does (Smith et al., "Don't decay
    the learning rate, increase the batch size", ICLR 2018). The classifier's learning rates are
    fixed at creation (the C API has no setter), so this is how fit() anneals. On Fashion-MNIST
    (conv preset pretrained 5 epochs, 10 epochs, seed 0): linear probe 0.869 -> 0.875,
    fine-tuning 0.895 -> 0.901."""
    sizes = [batch_size] * epochs
    if anneal and epochs >= 2:
        k = max(1, epochs // 3)
        for j in range(1, k + 1):
            sizes[epochs - k + j - 1] = max(batch_size, min(batch_size * 4 ** j, ANNEAL_MAX_BATCH))
    return sizes

# Spec fields with their defaults as the library fills them in; get_params() of a loaded
# classifier reports the fields that differ from these.
_SPEC_DEFAULTS = {"standardize": True, "feature": "code"}
_DEFAULT_OPTIMIZER = {"name": "adam", "learning_rate": 1e-3}


def _head_learning_rate(optimizer: object) -> float:
    """The head's learning rate of a spec's "optimizer" (the library's defaults when absent)."""
    if isinstance(optimizer, dict):
        if "learning_rate" in optimizer:
            return float(optimizer["learning_rate"])
        if optimizer.get("name") == "sgd":
            return 1e-2
    return 1e-3


def _require(name: str) -> Callable[..., int]:
    if not _ffi.has(name):
        raise UnsupportedError(f"{name}: the loaded libaecv ({_ffi.library_path}) is too old for "
                               f"aecv.Classifier; use a libaecv with the aecv_classifier_* API")
    fn: Callable[..., int] = getattr(_ffi.lib, name)
    return fn


class _NativeClassifier(NativeModel):
    """One ``aecv_classifier *`` handle (lifetime, lock and close as for models)."""

    _free_function = "aecv_classifier_free"

    def __init__(self, handle: int | None) -> None:
        self._adopt(handle)

    @property
    def spec(self) -> dict[str, Any]:
        fn = _ffi.lib.aecv_classifier_spec
        with self._lock:
            handle = self._live()
            size = fn(handle, None, 0)
            buffer = ctypes.create_string_buffer(size + 1)
            fn(handle, buffer, size + 1)
        spec: dict[str, Any] = json.loads(buffer.value.decode("utf-8"))
        return spec


class Classifier:
    """An image classifier on top of an autoencoder's encoder::

        ae = aecv.Autoencoder("conv", input_shape=(1, 28, 28), seed=0)
        ae.fit(X_train, epochs=5)                                  # unsupervised pretraining
        clf = aecv.Classifier(ae, n_classes=10).fit(X_train, y_train, epochs=10)  # linear probe
        clf.score(X_test, y_test)          # accuracy
        clf.predict(X_test)                # (n,) int64 class labels
        clf.predict_proba(X_test)          # (n, n_classes) float32, rows sum to 1

    autoencoder: the aecv.Autoencoder whose encoder provides the features (any kind; for a VAE
        the mean mu). fit() copies its weights: the autoencoder is never changed by the
        classifier, may keep training or be closed afterwards, and is shared (not copied) by
        sklearn.base.clone.
    n_classes: the number of classes; labels are integers 0 .. n_classes-1.
    hidden: widths of the head's hidden layers (Dense + ReLU); () is a linear head.
    freeze_encoder: True trains only the head on frozen (standardized) features: a linear probe
        or an MLP on codes. False fine-tunes the encoder too, with encoder_learning_rate
        (default here: twice the head's learning rate, 2e-3 for Adam; the C library's default,
        a tenth of it, fine-tunes too slowly: 0.882 instead of 0.905 test accuracy after 10
        epochs on Fashion-MNIST; see ENCODER_LEARNING_RATE_FACTOR).
    seed: the head's initialization and the order of fit()'s minibatches.
    **spec_fields: the other fields of the classifier spec (include/aecv.h, "Classification"),
        with their JSON names: encoder_learning_rate, standardize (True), feature ("code" or a
        number of encoder layers), optimizer ({"name": "adam", "learning_rate": 1e-3, ...}).

    It follows scikit-learn's estimator conventions: __init__ only stores the parameters (they
    are checked by fit()); fit(X, y) builds a fresh native classifier and returns self;
    get_params/set_params, so sklearn.base.clone, Pipeline and GridSearchCV work; classes_ is
    np.arange(n_classes) after fit, and predict returns labels from it, so sklearn.metrics
    (accuracy_score, confusion_matrix, ...) apply to its outputs. Images are as for
    aecv.Autoencoder: (n, C, H, W), (n, H, W) when C == 1 or (n, C*H*W), floating or uint8
    (scaled by 1/255). Labels may be any integer array-like (floats holding whole numbers
    too); one outside 0 .. n_classes-1 raises InvalidArgumentError (a ValueError).

    Attributes after fit: classes_, n_features_in_ (C*H*W), loss_curve_ (mean training loss of
    each epoch), n_iter_ (epochs run in total).
    """

    def __init__(self, autoencoder: Autoencoder | None = None, n_classes: int = 10,
                 hidden: Iterable[int] | int | None = (), freeze_encoder: bool = True,
                 seed: int = 0, **spec_fields: Any) -> None:
        self.autoencoder = autoencoder
        self.n_classes = n_classes
        self.hidden = hidden
        self.freeze_encoder = freeze_encoder
        self.seed = seed
        self._spec_fields = dict(spec_fields)
        self._native: _NativeClassifier | None = None

    # ----------------------------------------------------------------------------- sklearn

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters (scikit-learn's estimator API). The autoencoder is
        returned as is (deep has no effect: it is not an estimator)."""
        return {"autoencoder": self.autoencoder, "n_classes": self.n_classes,
                "hidden": self.hidden, "freeze_encoder": self.freeze_encoder, "seed": self.seed,
                **self._spec_fields}

    def set_params(self, **params: Any) -> "Classifier":
        """Sets constructor parameters (scikit-learn's estimator API); they apply at the next
        fit(). Returns self."""
        named = ("autoencoder", "n_classes", "hidden", "freeze_encoder", "seed")
        for key, value in params.items():
            if key in named:
                setattr(self, key, value)
            else:
                self._spec_fields[key] = value
        return self

    def __sklearn_clone__(self) -> "Classifier":
        # sklearn.base.clone would deep-copy the autoencoder (not an estimator), which holds a
        # native handle; the classifier only reads it, so the clone shares it.
        return type(self)(**self.get_params())

    def __sklearn_tags__(self) -> Any:  # scikit-learn >= 1.6: a classifier
        from sklearn.utils import ClassifierTags, Tags, TargetTags  # noqa: PLC0415
        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags())

    _estimator_type = "classifier"  # scikit-learn < 1.6

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()
                           if k != "autoencoder")
        return f"Classifier({params})"

    def __getstate__(self) -> NoReturn:
        raise TypeError("Classifier cannot be pickled; use save(path) and Classifier.load(path)")

    # ----------------------------------------------------------------------------- internals

    def _spec(self) -> dict[str, Any]:
        n_classes = _check_count(self.n_classes, "n_classes", minimum=2)
        hidden: Any = self.hidden
        if hidden is None:
            hidden = []
        elif isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = [int(hidden)]
        else:
            try:
                hidden = [_check_count(h, "hidden[]") for h in hidden]
            except TypeError:
                raise TypeError(f"hidden: expected a sequence of layer widths, got "
                                f"{self.hidden!r}") from None
        if not isinstance(self.freeze_encoder, (bool, np.bool_)):
            raise TypeError(f"freeze_encoder: expected True or False, got {self.freeze_encoder!r}")
        for key in ("classes", "freeze_encoder", "hidden", "seed"):
            if key in self._spec_fields:
                raise TypeError(f"Classifier(): give {key!r} as the "
                                f"{'n_classes' if key == 'classes' else key} argument")
        spec = {"classes": n_classes, "hidden": hidden, "freeze_encoder": bool(self.freeze_encoder),
                "seed": _check_seed(self.seed), **self._spec_fields}
        if not spec["freeze_encoder"] and "encoder_learning_rate" not in spec:
            spec["encoder_learning_rate"] = ENCODER_LEARNING_RATE_FACTOR * _head_learning_rate(
                spec.get("optimizer"))
        return spec

    def _fitted(self) -> _NativeClassifier:
        if self._native is None:
            raise NotFittedError("this Classifier is not fitted yet: call fit(X, y) first")
        return self._native

    def _images(self, X: ArrayLike, name: str, input_size: int) -> np.ndarray:
        """X as (n, input_size) float32, C-contiguous (converted once)."""
        X = np.asarray(X)
        check_float_dtype(X, name, allow_uint8=True)
        if self.autoencoder is not None and not self.autoencoder.closed:
            self.autoencoder._images(X, name)  # the shape message that names the layouts
        elif X.ndim < 2 or int(np.prod(X.shape[1:])) != input_size:
            raise ShapeError(f"{name}: expected n images of {input_size} values each, "
                             f"e.g. shape (n, {input_size}), got {X.shape}")
        return as_float32(X).reshape(X.shape[0], input_size)

    def _labels(self, y: ArrayLike, n: int, n_classes: int) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ShapeError(f"y: expected a 1-d array of {n} class labels, got shape {y.shape}")
        if y.shape[0] != n:
            raise ShapeError(f"y: expected {n} labels (one per image of X), got {y.shape[0]}")
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                raise InvalidArgumentError("y: labels must be whole numbers 0 .. "
                                           f"{n_classes - 1}; got non-integer values")
        elif y.dtype.kind not in "iub":
            raise TypeError(f"y: expected integer class labels 0 .. {n_classes - 1}, got dtype "
                            f"{y.dtype}")
        bad = np.flatnonzero((y < 0) | (y >= n_classes))
        if bad.size:
            raise InvalidArgumentError(f"y[{bad[0]}]: label {y[bad[0]]} is outside 0 .. "
                                       f"{n_classes - 1} ({bad.size} labels out of range; "
                                       f"n_classes={n_classes})")
        return np.ascontiguousarray(y, dtype=np.int32)

    # ----------------------------------------------------------------------------- training

    def fit(self, X: ArrayLike, y: ArrayLike, epochs: int = DEFAULT_EPOCHS, batch_size: int = 64,
            progress: bool = True, shuffle: bool = True,
            callback: Callable[[int, float], Any] | None = None,
            anneal: bool = True) -> "Classifier":
        """Builds a fresh classifier on the autoencoder's current encoder weights and trains it
        for `epochs` passes over (X, y) in minibatches of `batch_size` (the last may be
        smaller). Returns self.

        anneal: the last third of the epochs use growing minibatches (batch_size*4, *16, ...,
            at most 4096) to anneal the gradient noise like a learning-rate decay; see
            batch_schedule(). False keeps batch_size for every epoch.
        shuffle: a new permutation every epoch from numpy's Generator seeded with `seed`.
        progress: a bar per epoch (tqdm if installed, else a line on stderr).
        callback: callback(epoch, mean_loss) after each epoch; returning False stops early.
        """
        if self.autoencoder is None:
            raise InvalidArgumentError("autoencoder: fit() needs the autoencoder whose encoder "
                                       "gives the features (Classifier(autoencoder, ...))")
        if not isinstance(self.autoencoder, Autoencoder):
            raise TypeError(f"autoencoder: expected an aecv.Autoencoder, got "
                            f"{type(self.autoencoder).__name__}")
        text = _spec_text(self._spec())
        create = _require("aecv_classifier_create")
        handle = ctypes.c_void_p()
        ae = self.autoencoder
        with ae._lock:
            status = create(ae._live(), text.encode("utf-8"), ctypes.byref(handle))
        _ffi.check(status)
        native = _NativeClassifier(handle.value)
        try:
            self._start(native, int(self._spec()["seed"]))
            epochs = _check_count(epochs, "epochs")
            batch_size = _check_count(batch_size, "batch_size")
            self._train(X, y, batch_schedule(epochs, batch_size, bool(anneal)), progress, shuffle,
                        callback)
        except BaseException:
            self._native = None
            native.close()
            raise
        return self

    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None,
                    batch_size: int = 64, progress: bool = False,
                    shuffle: bool = True) -> "Classifier":
        """One more epoch over (X, y), continuing from where training stopped (building the
        classifier first if it is not fitted). `classes`, scikit-learn's argument, may be
        given as range(n_classes) and is checked against it. Returns self."""
        if classes is not None and not np.array_equal(np.asarray(classes),
                                                      np.arange(int(self.n_classes))):
            raise InvalidArgumentError(f"classes: must be range({self.n_classes}) (labels are "
                                       f"0 .. n_classes-1), got {classes!r}")
        if self._native is None or self._native.closed:
            return self.fit(X, y, epochs=1, batch_size=batch_size, progress=progress,
                            shuffle=shuffle)
        self._train(X, y, [_check_count(batch_size, "batch_size")], progress, shuffle, None)
        return self

    def _start(self, native: _NativeClassifier, seed: int) -> None:
        old, self._native = self._native, native
        if old is not None:
            old.close()
        n = int(native._query(_ffi.lib.aecv_classifier_classes))
        self.classes_ = np.arange(n)
        self.n_features_in_ = int(native._query(_ffi.lib.aecv_classifier_input_size))
        self.loss_curve_: list[float] = []
        self.n_iter_ = 0
        self._rng = np.random.default_rng(seed)

    def _train(self, X: ArrayLike, y: ArrayLike, batch_sizes: list[int], progress: bool,
               shuffle: bool, callback: Callable[[int, float], Any] | None) -> None:
        """One epoch per entry of batch_sizes, in minibatches of that size."""
        native = self._fitted()
        X = self._images(X, "X", self.n_features_in_)
        n = X.shape[0]
        labels = self._labels(y, n, len(self.classes_))
        if n == 0:
            raise InvalidArgumentError("X: fit needs at least one example, got 0")
        step = _ffi.lib.aecv_classifier_train_step
        loss = ctypes.c_float()
        for epoch, batch_size in enumerate(batch_sizes, start=1):
            order = self._rng.permutation(n) if shuffle else None
            bar = progress_bar(progress, n, f"epoch {self.n_iter_ + 1} (batch {batch_size})")
            total, seen = 0.0, 0
            try:
                for start in range(0, n, batch_size):
                    stop = min(start + batch_size, n)
                    if order is None:
                        xb, yb = X[start:stop], labels[start:stop]
                    else:
                        index = order[start:stop]
                        xb, yb = X[index], labels[index]
                    native._call(step, xb, yb, stop - start, ctypes.byref(loss))
                    total += loss.value * (stop - start)
                    seen += stop - start
                    bar.update(stop - start, total / seen)
            finally:
                bar.close()
            mean = total / n
            self.loss_curve_.append(mean)
            self.n_iter_ += 1
            if callback is not None and callback(epoch, mean) is False:
                break

    # ----------------------------------------------------------------------------- prediction

    def predict_proba(self, X: ArrayLike, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities (n, n_classes) float32; each row sums to 1."""
        native = self._fitted()
        batch_size = _check_count(batch_size, "batch_size")
        X = self._images(X, "X", self.n_features_in_)
        n, k = X.shape[0], len(self.classes_)
        out = np.empty((n, k), dtype=np.float32)
        fn = _ffi.lib.aecv_classifier_predict
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            chunk = out[start:stop]
            native._call(fn, X[start:stop], stop - start, chunk, chunk.size)
        return out

    def predict_log_proba(self, X: ArrayLike, batch_size: int = 1024) -> np.ndarray:
        """log of predict_proba (float32; -inf where a probability underflows to 0)."""
        with np.errstate(divide="ignore"):
            log: np.ndarray = np.log(self.predict_proba(X, batch_size))
        return log

    def predict(self, X: ArrayLike, batch_size: int = 1024) -> np.ndarray:
        """The most probable class of each image: (n,) int64 labels from classes_."""
        labels: np.ndarray = self.classes_[np.argmax(self.predict_proba(X, batch_size), axis=1)]
        return labels

    def score(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Accuracy on (X, y): the (weighted) fraction of images whose predicted class is y."""
        self._fitted()
        X = np.asarray(X)
        labels = self._labels(y, X.shape[0], len(self.classes_))
        right = self.predict(X) == labels
        if sample_weight is None:
            return float(np.mean(right)) if right.size else float("nan")
        return float(np.average(right, weights=np.asarray(sample_weight, dtype=np.float64)))

    # ----------------------------------------------------------------------------- files

    def save(self, path: PathArg) -> None:
        """Writes the fitted classifier (specs, encoder and head weights, feature statistics) to
        path, atomically; Classifier.load(path) predicts exactly the same. The optimizer state
        is not saved. Raises FileIOError (an OSError)."""
        native = self._fitted()
        path, raw = _path_bytes(path)
        native._call(_ffi.lib.aecv_classifier_save, raw, filename=path)

    def export_onnx(self, path: PathArg) -> None:
        """Writes the fitted classifier as ONNX: "input" (N, C, H, W) -> "logits" (N, classes);
        softmax(logits) equals predict_proba(). Atomic; raises FileIOError (an OSError)."""
        native = self._fitted()
        path, raw = _path_bytes(path)
        native._call(_ffi.lib.aecv_classifier_export_onnx, raw, filename=path)

    @classmethod
    def load(cls, path: PathArg) -> "Classifier":
        """A fitted classifier from a file written by save(); it needs no autoencoder
        (autoencoder is None; fit() would need one, partial_fit() continues training).
        Raises FileIOError when the file cannot be read, FormatError when it is not a
        classifier file."""
        path, raw = _path_bytes(path)
        handle = ctypes.c_void_p()
        _ffi.check(_require("aecv_classifier_load")(raw, ctypes.byref(handle)), filename=path)
        native = _NativeClassifier(handle.value)
        spec = native.spec
        fields = {k: v for k, v in spec.items()
                  if k not in ("classes", "hidden", "freeze_encoder", "seed")
                  and _SPEC_DEFAULTS.get(k, object()) != v}
        optimizer = fields.get("optimizer")
        if isinstance(optimizer, dict) and all(optimizer.get(k) == v for k, v in
                                               _DEFAULT_OPTIMIZER.items()):
            if set(optimizer) <= {"name", "learning_rate", "betas", "eps", "weight_decay"} \
                    and optimizer.get("weight_decay", 0) == 0 \
                    and optimizer.get("betas", [0.9, 0.999]) == [0.9, 0.999] \
                    and optimizer.get("eps", 1e-8) == 1e-8:
                del fields["optimizer"]
        self = cls(None, n_classes=spec["classes"], hidden=tuple(spec["hidden"]),
                   freeze_encoder=spec["freeze_encoder"], seed=spec["seed"], **fields)
        self._start(native, int(spec["seed"]))
        return self

    def close(self) -> None:
        """Releases the native classifier now (idempotent); it is not fitted afterwards."""
        native, self._native = self._native, None
        if native is not None:
            native.close()

    def __enter__(self) -> "Classifier":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
