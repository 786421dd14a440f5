"""aecv.AnomalyDetector: scores, heatmaps, the threshold, errors, and a one-class check on
Fashion-MNIST."""

import numpy as np
import pytest

import aecv
from aecv import _ffi

from conftest import FASHION_MNIST_DIR, images, small_dense

pytestmark = pytest.mark.skipif(not _ffi.has("aecv_model_anomaly_scores"),
                                reason="the loaded libaecv has no anomaly functions")


@pytest.fixture
def model():
    with small_dense() as m:
        yield m


def test_mse_score_is_the_mean_squared_error(model):
    X = images(40, (1, 8, 8), seed=1)
    det = aecv.AnomalyDetector(model)
    assert det.metric == "mse"
    scores = det.score(X)
    assert scores.shape == (40,) and scores.dtype == np.float32
    want = ((X - model.reconstruct(X)) ** 2).reshape(40, -1).mean(axis=1)
    np.testing.assert_allclose(scores, want, rtol=1e-5)
    np.testing.assert_allclose(det.heatmap(X), (X - model.reconstruct(X)) ** 2, atol=1e-6)


@pytest.mark.parametrize("metric", ["mse", "ssim", "blurred_mse"])
def test_score_is_the_mean_of_the_heatmap(model, metric):
    X = images(30, (1, 8, 8), seed=2)
    det = aecv.AnomalyDetector(model, metric=metric, batch_size=7)  # several chunks
    maps = det.heatmap(X)
    assert maps.shape == X.shape and maps.dtype == np.float32
    np.testing.assert_allclose(det.score(X), maps.reshape(30, -1).mean(axis=1), rtol=1e-5,
                               atol=1e-7)
    assert np.all(maps >= 0)


def test_heatmap_keeps_the_layout_and_accepts_uint8(model):
    X = images(5, (1, 8, 8), seed=3)
    det = aecv.AnomalyDetector(model, metric="ssim")
    full = det.heatmap(X)
    assert det.heatmap(X[:, 0]).shape == (5, 8, 8)
    assert det.heatmap(X.reshape(5, 64)).shape == (5, 64)
    np.testing.assert_array_equal(det.heatmap(X.reshape(5, 64)), full.reshape(5, 64))
    u8 = (X * 255).astype(np.uint8)
    np.testing.assert_allclose(det.score(u8), det.score(u8.astype(np.float32) / 255), rtol=1e-6)


def test_fit_sets_the_threshold_at_the_quantile(model):
    X = images(200, (1, 8, 8), seed=4)
    det = aecv.AnomalyDetector(model, metric="blurred_mse")
    assert det.fit(X, quantile=0.9) is det
    scores = det.score(X)
    assert det.threshold_ == pytest.approx(float(np.quantile(scores.astype(np.float64), 0.9)))
    assert det.quantile_ == 0.9 and det.n_samples_fit_ == 200
    flags = det.predict(X)
    assert flags.dtype == np.bool_ and flags.shape == (200,)
    np.testing.assert_array_equal(flags, scores > det.threshold_)
    assert 0.05 <= flags.mean() <= 0.15
    np.testing.assert_allclose(det.score_samples(X), -scores)
    np.testing.assert_array_equal(det.decision_function(X) < 0, flags)
    assert "threshold_" in repr(det)
    # quantile 1: nothing of the calibration set is flagged.
    assert not det.fit(X, quantile=1.0).predict(X).any()


def test_errors(model):
    X = images(3, (1, 8, 8))
    with pytest.raises(aecv.InvalidArgumentError, match="metric"):
        aecv.AnomalyDetector(model, metric="psnr")
    with pytest.raises(TypeError, match="metric"):
        aecv.AnomalyDetector(model, metric=0)
    with pytest.raises(TypeError, match="Autoencoder"):
        aecv.AnomalyDetector("conv")
    det = aecv.AnomalyDetector(model)
    with pytest.raises(aecv.NotFittedError, match="fit"):
        det.predict(X)
    with pytest.raises(ValueError):  # NotFittedError is a ValueError, like sklearn's
        det.decision_function(X)
    with pytest.raises(aecv.InvalidArgumentError, match="quantile"):
        det.fit(X, quantile=1.5)
    with pytest.raises(aecv.ShapeError, match="H >= 8"):
        det.score(images(3, (1, 7, 9)))  # smaller than the input (larger ones are tiled)
    with pytest.raises(aecv.InvalidArgumentError, match="at least one"):
        det.score(X[:0])
    bad = X.copy()
    bad[1, 0, 2, 2] = np.nan
    with pytest.raises(aecv.NonFiniteError):
        det.heatmap(bad)
    model.close()
    with pytest.raises(aecv.ClosedModelError):
        det.score(X)


def test_c_api_rejects_an_unknown_metric_value(model):
    X = images(2, (1, 8, 8))
    out = np.empty(2, np.float32)
    status = _ffi.lib.aecv_model_anomaly_scores(model._live(), X.reshape(2, 64), 2, 9, out, 2)
    assert status == aecv.errors.ERR_INVALID_ARGUMENT
    assert "9" in _ffi.last_error() and "metric" in _ffi.last_error()


def _load_idx(name):
    import gzip, os, struct  # noqa: E401
    with gzip.open(os.path.join(FASHION_MNIST_DIR, name), "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def test_one_class_detection_on_fashion_mnist():
    """A dense AE trained 3 epochs on 1,500 trousers (class 1); 500 test trousers against 500
    test bags (class 8). Measured AUROC (seed 0, 2 threads): mse 0.9993, ssim 0.9941,
    blurred_mse 0.9994; 0.9 leaves a wide margin."""
    import os
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    if not all(os.path.exists(os.path.join(FASHION_MNIST_DIR, n)) for n in names):
        pytest.skip(f"SKIPPED LOUDLY: Fashion-MNIST is missing in {FASHION_MNIST_DIR}; install "
                    f"dataset-fashion-mnist to run the one-class check")
    Xtr, ytr, Xte, yte = (_load_idx(n) for n in names)
    normal = Xtr[ytr == 1][:1500]
    test = np.concatenate([Xte[yte == 1][:500], Xte[yte == 8][:500]])
    is_anomalous = np.r_[np.zeros(500, bool), np.ones(500, bool)]
    with aecv.Autoencoder("dense", input_shape=(1, 28, 28), seed=0) as ae:
        ae.fit(normal, epochs=3, progress=False)
        for metric in ("mse", "ssim", "blurred_mse"):
            det = aecv.AnomalyDetector(ae, metric=metric).fit(normal, quantile=0.95)
            auc = aecv.metrics.roc_auc(is_anomalous, det.score(test))
            assert auc > 0.9, f"{metric}: AUROC {auc:.4f}"
            flagged = det.predict(test)
            assert flagged[is_anomalous].mean() > flagged[~is_anomalous].mean()
