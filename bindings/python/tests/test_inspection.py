"""Inspection: aecv.metrics (pixel AUROC, PRO, F1-max) against brute-force numpy references,
and AnomalyDetector's thresholds stored in the model, tiling, segmentation and evaluate()."""

import json
import os

import numpy as np
import pytest

import aecv
from aecv import _ffi, metrics

from conftest import images

pytestmark = pytest.mark.skipif(not _ffi.has("aecv_per_region_overlap"),
                                reason="the loaded libaecv has no inspection functions")


def _regions(mask):
    """8-connected labels of one mask by breadth-first search (independent of the core's)."""
    h, w = mask.shape
    label = np.zeros((h, w), int)
    n = 0
    for r0 in range(h):
        for c0 in range(w):
            if mask[r0, c0] and not label[r0, c0]:
                n += 1
                label[r0, c0] = n
                queue = [(r0, c0)]
                while queue:
                    r, c = queue.pop()
                    for rr in range(max(0, r - 1), min(h, r + 2)):
                        for cc in range(max(0, c - 1), min(w, c + 2)):
                            if mask[rr, cc] and not label[rr, cc]:
                                label[rr, cc] = n
                                queue.append((rr, cc))
    return label, n


def brute_pro(masks, maps, limit=0.3):
    # Pool regions over images as (image index, boolean region mask).
    pooled = []
    for i, m in enumerate(masks):
        label, n = _regions(m)
        pooled += [(i, label == k) for k in range(1, n + 1)]
    normal = masks == 0
    fprs, pros = [0.0], [0.0]
    for t in np.unique(maps)[::-1]:
        flagged = maps >= t
        fprs.append((flagged & normal).sum() / normal.sum())
        pros.append(np.mean([flagged[i][r].mean() for i, r in pooled]))
    area = 0.0
    for k in range(1, len(fprs)):
        x0, y0, x1, y1 = fprs[k - 1], pros[k - 1], fprs[k], pros[k]
        if x1 >= limit:
            y = y0 + (y1 - y0) * (limit - x0) / (x1 - x0) if x1 > x0 else y1
            area += (limit - x0) * (y0 + y) / 2
            break
        area += (x1 - x0) * (y0 + y1) / 2
    return area / limit


def _defects(n, h, w, seed):
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, h, w), np.uint8)
    for i in range(n):
        if i % 3 == 2:
            continue
        for _ in range(2):
            r, c, s = rng.integers(0, h - 4), rng.integers(0, w - 4), rng.integers(1, 4)
            masks[i, r:r + s, c:c + s] = 1
    maps = (masks * 0.4 + rng.integers(0, 8, (n, h, w)) / 8).astype(np.float32)
    return masks, maps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pro_matches_the_definition(seed):
    masks, maps = _defects(5, 10, 12, seed)
    for limit in (0.3, 0.1, 1.0):
        assert metrics.pro(masks, maps, fpr_limit=limit) == pytest.approx(
            brute_pro(masks, maps, limit), abs=1e-9)


def test_pixel_auroc_and_f1_max_match_brute_force():
    masks, maps = _defects(4, 9, 9, 3)
    y, s = masks.ravel(), maps.ravel().astype(np.float64)
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    want = ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size
    assert metrics.pixel_roc_auc(masks, maps) == pytest.approx(want, abs=1e-12)
    best = 0.0
    for t in np.unique(s):
        flagged = s >= t
        tp = (flagged & (y == 1)).sum()
        best = max(best, 2 * tp / (2 * tp + (flagged & (y == 0)).sum() + ((~flagged) & (y == 1)).sum()))
    f1, threshold = metrics.f1_max(masks, maps)
    assert f1 == pytest.approx(best, abs=1e-12)
    flagged = maps > threshold
    tp = (flagged & (masks == 1)).sum()
    assert 2 * tp / (2 * tp + (flagged & (masks == 0)).sum() + ((~flagged) & (masks == 1)).sum()) \
        == pytest.approx(f1, abs=1e-12)


def test_metric_errors_name_the_problem():
    with pytest.raises(ValueError, match="no defect"):
        metrics.pro(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match="same shape"):
        metrics.pro(np.zeros((1, 4, 4)), np.zeros((1, 4, 5)))
    with pytest.raises(ValueError, match="fpr_limit"):
        metrics.pro(np.eye(4)[None], np.eye(4)[None], fpr_limit=0)
    with pytest.raises(ValueError, match="only one class"):
        metrics.pixel_roc_auc(np.ones((2, 3, 3)), np.zeros((2, 3, 3)))


# ------------------------------------------------------------------------ the detector


@pytest.fixture
def conv():
    with aecv.Autoencoder("conv", input_shape=(1, 8, 8), hidden=[4, 8], seed=0) as m:
        yield m


def _bright_squares(n, size, seed):
    """Smooth images with a bright square in every other one; labels and masks."""
    rng = np.random.default_rng(seed)
    X = (0.3 + 0.05 * rng.standard_normal((n, 1, size, size))).astype(np.float32)
    y = np.arange(n) % 2
    masks = np.zeros((n, size, size), np.uint8)
    for i in np.flatnonzero(y):
        r, c = rng.integers(0, size - 4, 2)
        X[i, 0, r:r + 4, c:c + 4] = 1.0
        masks[i, r:r + 4, c:c + 4] = 1
    return X, y, masks


def test_fit_stores_the_thresholds_in_the_model_and_a_file_carries_them(conv, tmp_path):
    X, y, masks = _bright_squares(20, 16, 0)  # 16x16 images on an 8x8 model: tiles
    det = aecv.AnomalyDetector(conv, metric="mse", reduction="top_mean:0.05", tile_stride=4)
    det.fit(X[y == 0], quantile=0.9)
    scores = det.score(X)
    assert det.threshold_ == pytest.approx(float(np.quantile(scores[y == 0].astype(np.float64), 0.9)),
                                           rel=1e-6)
    pixels = det.pixel_maps(X[y == 0])
    assert det.pixel_threshold_ == pytest.approx(float(np.quantile(pixels.astype(np.float64), 0.9)),
                                                 rel=1e-6)
    flags = det.predict(X)
    np.testing.assert_array_equal(flags, scores > det.threshold_)
    np.testing.assert_array_equal(det.segment(X), det.pixel_maps(X) > det.pixel_threshold_)
    path = str(tmp_path / "calibrated.aecv")
    conv.save(path)
    with aecv.Autoencoder.load(path) as loaded:
        again = aecv.AnomalyDetector.from_model(loaded)
        assert (again.metric, again.tile_stride) == ("mse", 4)
        assert again.threshold_ == det.threshold_ and again.pixel_threshold_ == det.pixel_threshold_
        np.testing.assert_array_equal(again.predict(X), flags)
        np.testing.assert_array_equal(again.score(X), scores)


def test_labeled_fit_uses_best_f1_and_evaluate_reports_the_figures(conv):
    X, y, masks = _bright_squares(24, 8, 1)
    det = aecv.AnomalyDetector(conv, metric="mse", reduction="max").fit(X, y=y, masks=masks)
    assert det.quantile_ is None
    scores, maps = det.score(X), det.pixel_maps(X)
    assert det.threshold_ == pytest.approx(metrics.f1_max(y, scores)[1])
    assert det.pixel_threshold_ == pytest.approx(metrics.f1_max(masks, maps)[1])
    report = det.evaluate(X, y, masks)
    assert set(report) == {"image_auroc", "image_f1", "pixel_auroc", "pro", "pixel_f1"}
    # An untrained model still sees saturated 4x4 squares on a dim, smooth background.
    assert report["image_auroc"] > 0.9 and report["pixel_auroc"] > 0.9
    assert report["pro"] == pytest.approx(metrics.pro(masks, maps))


def test_detector_errors(conv):
    det = aecv.AnomalyDetector(conv)
    X = images(4, (1, 8, 8))
    with pytest.raises(aecv.NotFittedError):
        det.segment(X)
    with pytest.raises(aecv.NotFittedError, match="no anomaly calibration"):
        aecv.AnomalyDetector.from_model(conv)
    with pytest.raises(aecv.InvalidArgumentError, match="reduction"):
        aecv.AnomalyDetector(conv, reduction="median")
    with pytest.raises(aecv.InvalidArgumentError, match="top fraction"):
        aecv.AnomalyDetector(conv, reduction="top_mean:2")
    with pytest.raises(aecv.InvalidArgumentError, match="without y"):
        det.fit(X, masks=np.zeros((4, 8, 8)))
    with pytest.raises(aecv.ShapeError, match="y"):
        det.fit(X, y=[0, 1])
    with pytest.raises(aecv.InvalidArgumentError, match="both classes"):
        det.fit(X, y=[0, 0, 0, 0])
    # A second detector recalibrating the model makes the first one refuse to decide.
    first = aecv.AnomalyDetector(conv).fit(X)
    aecv.AnomalyDetector(conv, metric="ssim").fit(X)
    with pytest.raises(aecv.NotFittedError, match="another detector"):
        first.predict(X)


def test_the_c_calibration_json_is_what_python_reads(conv):
    X = images(10, (1, 8, 8), seed=5)
    det = aecv.AnomalyDetector(conv, metric="blurred_mse", reduction="top_mean").fit(X, quantile=0.5)
    fn = _ffi.lib.aecv_model_anomaly_calibration
    size = fn(conv._live(), None, 0)
    import ctypes
    buf = ctypes.create_string_buffer(size + 1)
    assert fn(conv._live(), buf, size + 1) == size
    c = json.loads(buf.value)
    assert c["metric"] == "blurred_mse" and c["reduction"].startswith("top_mean:0.01")
    assert c["image"] == {"threshold": pytest.approx(det.threshold_), "method": "quantile",
                          "quantile": 0.5}
    assert c["count"] == 10
