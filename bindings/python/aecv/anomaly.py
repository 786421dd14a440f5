"""aecv.AnomalyDetector: anomaly scores, heatmaps and decisions from an autoencoder's
reconstruction error, thresholds stored with the model, and the MVTec AD evaluation (C API:
aecv_model_anomaly_image_scores / _pixel_maps / _calibrate / _predict / _segment)."""

from __future__ import annotations

import ctypes
import json
from typing import Any, Callable

import numpy as np

from . import _ffi, metrics
from ._arrays import as_float32, check_float_dtype
from ._typing import ArrayLike
from .autoencoder import Autoencoder, _check_count
from .errors import InvalidArgumentError, NotFittedError, ShapeError, UnsupportedError

__all__ = ["AnomalyDetector", "METRICS", "REDUCTIONS"]

# name -> aecv_anomaly_metric value of include/aecv.h.
METRICS = {"mse": 0, "ssim": 1, "blurred_mse": 2}


# name -> aecv_score_reduction value of include/aecv.h ("top_mean:F" sets the fraction).
REDUCTIONS = {"mean": 0, "max": 1, "top_mean": 2}


def _reduction(reduction: str) -> tuple[int, float]:
    """"mean", "max", "top_mean" (top 1 %) or "top_mean:F" -> (C value, fraction)."""
    if not isinstance(reduction, str):
        raise TypeError(f"reduction: expected a name ({', '.join(REDUCTIONS)}), got "
                        f"{type(reduction).__name__}")
    name, _, fraction = reduction.partition(":")
    if name not in REDUCTIONS or (fraction and name != "top_mean"):
        raise InvalidArgumentError(f"reduction: {reduction!r} is not one of 'mean', 'max', "
                                   f"'top_mean' or 'top_mean:F' with F in (0, 1]")
    if not fraction:
        return REDUCTIONS[name], 0.01
    try:
        f = float(fraction)
    except ValueError:
        raise InvalidArgumentError(f"reduction: {fraction!r} in {reduction!r} is not a number") \
            from None
    if not 0.0 < f <= 1.0:
        raise InvalidArgumentError(f"reduction: the top fraction must be in (0, 1], got {f}")
    return REDUCTIONS[name], f


class AnomalyDetector:
    """Anomaly detection with an autoencoder trained on normal images only: it reconstructs
    them well and anything else worse, so the reconstruction error is an anomaly score.

        ae = aecv.Autoencoder("dense", input_shape=(1, 28, 28), seed=0)
        ae.fit(X_normal, epochs=10)
        det = aecv.AnomalyDetector(ae, metric="blurred_mse").fit(X_normal, quantile=0.99)
        scores = det.score(X)        # (n,) higher = more anomalous
        maps = det.pixel_maps(X)     # (n, H, W): where the image differs from its reconstruction
        flags = det.predict(X)       # (n,) bool, True = anomalous (score > threshold_)
        det.evaluate(X_test, y_test, masks_test)  # image/pixel AUROC, PRO, F1
        ae.save("model.aecv")        # the thresholds travel with the model

    metric: how an image is compared with its reconstruction, per pixel.
        "mse"          squared error (the default);
        "ssim"         1 - SSIM (11x11 Gaussian window, sigma 1.5): structural differences;
        "blurred_mse"  squared error of the difference blurred with a Gaussian of sigma 1 px.
                       With the "dense" preset trained 10 epochs on one Fashion-MNIST class,
                       it reaches a mean one-class AUROC of 0.93 (MSE with the "conv" preset:
                       0.82). See the README's tables.
    reduction: how an image's score is read off its pixel map: "mean" (the default; the mean
        of heatmap(X)), "max", or "top_mean:F", the mean of the largest fraction F of the
        pixels ("top_mean" = top 1 %), which sees a small defect on a large image.
    tile_stride: images larger than the model's input are scored by tiles of the input's
        size placed every tile_stride pixels (0 = half a tile), their maps averaged where they
        overlap; so a model trained on 64x64 patches scores 256x256 or 1024x1024 images.

    The pixel map of an image is the mean over channels of the metric's map; score, pixel_maps,
    predict and segment run in libaecv's core, exactly as the C API and the CLI do.

    fit() fits thresholds and STORES them in the autoencoder (with metric, reduction and
    tile_stride), so ae.save() writes them and `AnomalyDetector.from_model(Autoencoder.load(p))`
    or the CLI's `aecv anomaly score` decide the same way from the file. The detector does not
    own the autoencoder and does not train it. Attributes after fit():
        threshold_        the image threshold (predict: score > threshold_);
        pixel_threshold_  the pixel threshold (segment: pixel map > pixel_threshold_);
        quantile_         the quantile used (None for a best-F1 threshold);
        n_samples_fit_    the number of images it was calibrated on.

    Sign convention: score() returns ANOMALY scores (higher = more anomalous), as the C API
    does. score_samples() follows scikit-learn's outlier detectors instead (higher = more
    normal): it is -score(X). decision_function() is threshold_ - score(X): negative for the
    images predict() flags. predict() returns booleans (True = anomalous), not sklearn's +1/-1.
    """

    def __init__(self, autoencoder: Autoencoder, metric: str = "mse", batch_size: int = 1024,
                 reduction: str = "mean", tile_stride: int = 0):
        if not isinstance(autoencoder, Autoencoder):
            raise TypeError(f"autoencoder: expected an aecv.Autoencoder, got "
                            f"{type(autoencoder).__name__}")
        if not isinstance(metric, str):
            raise TypeError(f"metric: expected a name ({', '.join(METRICS)}), got "
                            f"{type(metric).__name__}")
        if metric not in METRICS:
            raise InvalidArgumentError(f"metric: {metric!r} is not one of "
                                       f"{', '.join(repr(m) for m in METRICS)}")
        self._reduction = _reduction(reduction)
        if isinstance(tile_stride, bool) or not isinstance(tile_stride, (int, np.integer)) \
                or not 0 <= int(tile_stride) < 2**31:
            raise InvalidArgumentError(f"tile_stride: expected 0 (half a tile) or a positive "
                                       f"number of pixels, got {tile_stride!r}")
        self.autoencoder = autoencoder
        self.metric = metric
        self.reduction = reduction
        self.tile_stride = int(tile_stride)
        self.batch_size = _check_count(batch_size, "batch_size")

    @classmethod
    def from_model(cls, autoencoder: Autoencoder, batch_size: int = 1024) -> "AnomalyDetector":
        """The detector a calibrated model carries (e.g. loaded from a file that fit() and
        save() wrote, or that `aecv anomaly fit` calibrated): its metric, reduction, tile
        stride and thresholds. Raises NotFittedError when the model has no calibration."""
        calibration = _calibration(autoencoder)
        if calibration is None:
            raise NotFittedError("the model has no anomaly calibration: create an "
                                 "AnomalyDetector and call fit() first")
        reduction = calibration["reduction"]
        if reduction.startswith("top_mean:"):
            reduction = f"top_mean:{float(reduction.split(':', 1)[1])!r}"
        det = cls(autoencoder, metric=calibration["metric"], batch_size=batch_size,
                  reduction=reduction, tile_stride=int(calibration["tile_stride"]))
        det._adopt(calibration)
        return det

    def __repr__(self) -> str:
        fitted = f", threshold_={self.threshold_:.6g}" if hasattr(self, "threshold_") else ""
        return (f"AnomalyDetector({self.autoencoder!r}, metric={self.metric!r}, "
                f"reduction={self.reduction!r}{fitted})")

    # ----------------------------------------------------------------------------- internals

    def _function(self, name: str) -> Callable[..., int]:
        if not _ffi.has(name):
            raise UnsupportedError(f"{name}: the loaded libaecv ({_ffi.library_path}) is too old "
                                   f"for this anomaly-detection call; use libaecv with {name}")
        fn: Callable[..., int] = getattr(_ffi.lib, name)
        return fn

    def _images(self, X: ArrayLike) -> tuple[np.ndarray, int, int]:
        """Images of the model's channels and at least its input size, as (n, C, H, W) float32
        (C-contiguous), with H and W. Flat (n, C*h*w) rows are taken as input-sized images."""
        ae = self.autoencoder
        C, h, w = ae.input_shape
        X = np.asarray(X)
        check_float_dtype(X, "X", allow_uint8=True)
        if X.ndim == 2 and X.shape[1] == C * h * w:
            X = X.reshape(X.shape[0], C, h, w)
        elif X.ndim == 3 and C == 1:
            X = X.reshape(X.shape[0], 1, X.shape[1], X.shape[2])
        if X.ndim != 4 or X.shape[1] != C or X.shape[2] < h or X.shape[3] < w:
            hint = (f"; channels-last (NHWC) images need X.transpose(0, 3, 1, 2)"
                    if X.ndim == 4 and X.shape[-1] == C and C > 1 else "")
            raise ShapeError(f"X: expected images (n, {C}, H, W){' or (n, H, W)' if C == 1 else ''}"
                             f" with H >= {h} and W >= {w} (the model's input; larger images "
                             f"are scored by tiles), got shape {X.shape}{hint}")
        if X.shape[0] == 0:
            raise InvalidArgumentError("X: at least one image is needed, got 0")
        return X, int(X.shape[2]), int(X.shape[3])

    def _each_chunk(self, X: np.ndarray, H: int, W: int,
                    call: Callable[[np.ndarray, int, int], None]) -> None:
        """call(inputs, start, stop) for consecutive chunks of X as float32: batch_size images,
        fewer for large images (about 64 Mi floats, so a uint8 batch is not converted whole)."""
        per_image = self.autoencoder.input_shape[0] * H * W
        step = max(1, min(self.batch_size, (1 << 26) // per_image))
        for start in range(0, X.shape[0], step):
            stop = min(start + step, X.shape[0])
            call(as_float32(X[start:stop], "X"), start, stop)

    def _scoring(self) -> tuple[int, int, float, int]:
        kind, fraction = self._reduction
        return METRICS[self.metric], kind, fraction, self.tile_stride

    def _adopt(self, calibration: dict[str, Any]) -> None:
        self.threshold_ = float(calibration["image"]["threshold"])
        self.pixel_threshold_ = float(calibration["pixel"]["threshold"])
        image = calibration["image"]
        self.quantile_ = float(image["quantile"]) if image["method"] == "quantile" else None
        self.n_samples_fit_ = int(calibration["count"])

    def _require_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError("this AnomalyDetector is not fitted yet: call "
                                 "fit(X_normal, quantile=0.99) first")
        calibration = _calibration(self.autoencoder)
        metric, kind, fraction, stride = self._scoring()
        if calibration is None or calibration["metric"] != self.metric \
                or int(calibration["tile_stride"]) != stride \
                or float(calibration["image"]["threshold"]) != self.threshold_:
            raise NotFittedError("the autoencoder's stored calibration is not this detector's "
                                 "(another detector calibrated it since): call fit() again")

    # ----------------------------------------------------------------------------- API

    def fit(self, X: ArrayLike, quantile: float = 0.99, y: ArrayLike | None = None,
            masks: ArrayLike | None = None) -> "AnomalyDetector":
        """Fits the thresholds on validation images and stores them in the autoencoder.

        Good images only (y None): threshold_ = the `quantile` of their scores (numpy's linear
        interpolation), so about a fraction 1 - quantile of normal images is flagged, and
        pixel_threshold_ = the same quantile of all their pixel maps' values.
        With labels y ((n,) bool/0-1, both classes): threshold_ = the best-F1 threshold of the
        scores; with masks too ((n, H, W)), pixel_threshold_ = the best-F1 threshold of the
        pixels (without masks, the quantile of the good images' pixels). Returns self."""
        if isinstance(quantile, bool) or not isinstance(quantile, (int, float, np.floating,
                                                                   np.integer)):
            raise TypeError(f"quantile: expected a number, got {type(quantile).__name__}")
        quantile = float(quantile)
        if not 0.0 <= quantile <= 1.0:
            raise InvalidArgumentError(f"quantile: must be in [0, 1], got {quantile}")
        X, H, W = self._images(X)
        n = X.shape[0]
        labels = None if y is None else _bytes(y, (n,), "y")
        if masks is not None and labels is None:
            raise InvalidArgumentError("masks: given without y; pass the image labels too")
        mask_bytes = None if masks is None else _bytes(masks, (n, H, W), "masks")
        metric, kind, fraction, stride = self._scoring()
        inputs = as_float32(X, "X")
        self.autoencoder._call(self._function("aecv_model_anomaly_calibrate"), inputs, n, H, W,
                               metric, kind, fraction, stride, quantile,
                               None if labels is None else labels.ctypes.data,
                               None if mask_bytes is None else mask_bytes.ctypes.data)
        calibration = _calibration(self.autoencoder)
        assert calibration is not None
        self._adopt(calibration)
        return self

    def score(self, X: ArrayLike) -> np.ndarray:
        """Anomaly scores of X: (n,) float32, higher = more anomalous: the reduction of each
        image's pixel map. X: (n, C, H, W) (H, W at least the model's input), (n, H, W) when
        C == 1, or (n, C*H*W) at the input's size; float or uint8 (scaled by 1/255)."""
        X, H, W = self._images(X)
        fn = self._function("aecv_model_anomaly_image_scores")
        metric, kind, fraction, stride = self._scoring()
        out = np.empty(X.shape[0], dtype=np.float32)
        self._each_chunk(X, H, W, lambda x, a, b: self.autoencoder._call(
            fn, x, b - a, H, W, metric, kind, fraction, stride, out[a:b], b - a))
        return out

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """-score(X): scikit-learn's convention for outlier detectors (higher = more normal)."""
        return -self.score(X)

    def pixel_maps(self, X: ArrayLike) -> np.ndarray:
        """(n, H, W) float32: per pixel, the channel mean of the metric's map (tiled for images
        larger than the model's input). What pixel AUROC and PRO are computed on."""
        X, H, W = self._images(X)
        fn = self._function("aecv_model_anomaly_pixel_maps")
        metric, _, _, stride = self._scoring()
        out = np.empty((X.shape[0], H, W), dtype=np.float32)
        self._each_chunk(X, H, W, lambda x, a, b: self.autoencoder._call(
            fn, x, b - a, H, W, metric, stride, out[a:b], (b - a) * H * W))
        return out

    def heatmap(self, X: ArrayLike) -> np.ndarray:
        """Anomaly maps of X, float32 in the layout of X (e.g. (n, C, H, W)), channel by channel:
        per pixel, how much the image differs from its reconstruction under the metric.
        Images of the model's input size only; pixel_maps() takes any larger size."""
        ae = self.autoencoder
        X, layout = ae._images(X, "X")
        if X.shape[0] == 0:
            raise InvalidArgumentError("X: at least one image is needed, got 0")
        fn = self._function("aecv_model_anomaly_maps")
        metric = METRICS[self.metric]
        out = ae._map(lambda h, x, b, o, c: fn(h, x, b, metric, o, c), X, ae._input_size,
                      ae._input_size, self.batch_size)
        return out.reshape((X.shape[0],) + tuple(layout))

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """threshold_ - score(X): negative for anomalies, as scikit-learn's outlier detectors."""
        self._require_fitted()
        return (self.threshold_ - self.score(X).astype(np.float64)).astype(np.float32)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """(n,) bool: True where score(X) > threshold_ (anomalous), decided by the core with
        the calibration stored in the model."""
        self._require_fitted()
        X, H, W = self._images(X)
        fn = self._function("aecv_model_anomaly_predict")
        flags = np.zeros(X.shape[0], dtype=np.uint8)
        scores = np.empty(X.shape[0], dtype=np.float32)
        self._each_chunk(X, H, W, lambda x, a, b: self.autoencoder._call(
            fn, x, b - a, H, W, scores[a:b], flags[a:].ctypes.data, b - a))
        return flags.astype(bool)

    def segment(self, X: ArrayLike) -> np.ndarray:
        """(n, H, W) bool: True where the pixel map is above pixel_threshold_."""
        self._require_fitted()
        X, H, W = self._images(X)
        fn = self._function("aecv_model_anomaly_segment")
        masks = np.zeros((X.shape[0], H, W), dtype=np.uint8)
        maps = np.empty((X.shape[0], H, W), dtype=np.float32)
        self._each_chunk(X, H, W, lambda x, a, b: self.autoencoder._call(
            fn, x, b - a, H, W, maps[a:b], masks[a:].ctypes.data, (b - a) * H * W))
        return masks.astype(bool)

    def evaluate(self, X: ArrayLike, y: ArrayLike, masks: ArrayLike | None = None) -> dict[str, float]:
        """The MVTec AD figures on a labeled test set: {"image_auroc", "image_f1"} and, with
        masks ((n, H, W), nonzero = defect), {"pixel_auroc", "pro", "pixel_f1"}: see
        aecv.metrics. Does not need fit()."""
        scores = self.score(X)
        labels = np.asarray(y)
        out = {"image_auroc": metrics.roc_auc(labels, scores),
               "image_f1": metrics.f1_max(labels, scores)[0]}
        if masks is not None:
            maps = self.pixel_maps(X)
            m = np.asarray(masks)
            out["pixel_auroc"] = metrics.pixel_roc_auc(m, maps)
            out["pro"] = metrics.pro(m, maps)
            out["pixel_f1"] = metrics.f1_max(m, maps)[0]
        return out


def _bytes(values: ArrayLike, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Labels or masks as C-contiguous uint8 0/1 of exactly `shape`."""
    a = np.asarray(values)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected bool or 0/1 numbers, got dtype {a.dtype}")
    if a.shape != shape:
        raise ShapeError(f"{name}: expected shape {shape}, got {a.shape}")
    return np.ascontiguousarray(a != 0, dtype=np.uint8)


def _calibration(autoencoder: Autoencoder) -> dict[str, Any] | None:
    """The model's stored calibration (aecv_model_anomaly_calibration), or None."""
    if not _ffi.has("aecv_model_anomaly_calibration"):
        return None
    fn = _ffi.lib.aecv_model_anomaly_calibration
    size = int(autoencoder._query(fn, None, 0))
    if size == 0:
        return None
    buffer = ctypes.create_string_buffer(size + 1)
    autoencoder._query(fn, buffer, size + 1)
    calibration: dict[str, Any] = json.loads(buffer.value.decode("utf-8"))
    return calibration
