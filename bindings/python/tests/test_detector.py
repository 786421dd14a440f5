"""aecv.Detector, aecv.datasets.detection_canvases and the AP metrics: the canvas rules, AP on
hand-made cases with known answers, training, prediction format, files and errors (small inputs,
a few seconds)."""

import os

import numpy as np
import pytest

import aecv
from aecv.detector import average_precision, mean_average_precision

from conftest import FASHION_MNIST_DIR


def _iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h)


def _items(n=50, seed=0):
    """Synthetic 28x28 'items': a bright rectangle per image, label = its index mod 3."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        y0, x0 = rng.integers(0, 8, 2)
        X[i, y0:y0 + 20, x0:x0 + 20] = 200
    return X, np.arange(n) % 3


def test_canvas_rules():
    X, y = _items()
    canvases, boxes = aecv.datasets.detection_canvases(X, y, 40, seed=3)
    assert canvases.shape == (40, 1, 96, 96) and canvases.dtype == np.float32
    assert len(boxes) == 40
    for c, b in zip(canvases[:, 0], boxes):
        assert 1 <= len(b) <= 4 and b.shape[1] == 5
        assert set(b[:, 0]) <= {0, 1, 2}
        assert (b[:, 1] >= 0).all() and (b[:, 2] >= 0).all() and (b[:, 3] <= 96).all() and (b[:, 4] <= 96).all()
        for i in range(len(b)):
            for j in range(i):
                assert _iou(b[i, 1:], b[j, 1:]) <= 0.3 + 1e-6
        mask = np.zeros_like(c, bool)
        for row in b:
            x0, y0, x1, y1 = row[1:].astype(int)
            mask[y0:y1, x0:x1] = True
            assert (c[y0, x0:x1] > 0.05).any() and (c[y1 - 1, x0:x1] > 0.05).any()   # tight
            assert (c[y0:y1, x0] > 0.05).any() and (c[y0:y1, x1 - 1] > 0.05).any()
        assert (c[~mask] <= 0.05).all()   # nothing bright outside the boxes
    again, boxes2 = aecv.datasets.detection_canvases(X, y, 40, seed=3)
    assert np.array_equal(again, canvases) and all(np.array_equal(a, b) for a, b in zip(boxes, boxes2))


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR), reason="Fashion-MNIST not installed")
def test_fashion_mnist_loader():
    X, y = aecv.datasets.fashion_mnist("test")
    assert X.shape == (10000, 28, 28) and X.dtype == np.uint8 and y.shape == (10000,)
    assert set(np.unique(y)) == set(range(10))


def test_average_precision_known_cases():
    g = [[0, 0, 0, 10, 10]]
    assert average_precision([[[0, 0.9, 0, 0, 10, 10]]], [g], 0) == 1.0
    # TP, FP, TP over two objects: AP = 1/2 + (2/3)(1/2).
    preds = [[[0, 0.9, 0, 0, 10, 10], [0, 0.8, 50, 50, 60, 60]], [[0, 0.7, 20, 20, 30, 30]]]
    truths = [g, [[0, 20, 20, 30, 30]]]
    assert average_precision(preds, truths, 0) == pytest.approx(0.5 + 1 / 3)
    # Duplicates are false positives; the wrong class does not match.
    assert average_precision([[[0, 0.9, 0, 0, 10, 10], [0, 0.8, 0, 0, 10, 10]], []], truths, 0) == pytest.approx(0.5)
    truths = [[[0, 0, 0, 10, 10], [1, 20, 20, 30, 30]]]
    preds = [[[0, 0.9, 0, 0, 10, 10], [2, 0.8, 20, 20, 30, 30]]]
    assert mean_average_precision(preds, truths, 3) == pytest.approx(0.5)
    assert average_precision(preds, truths, None) == pytest.approx(1.0)


def _tiny_data(n=64, seed=0):
    """32x32 canvases with one or two squares: class 0 filled, class 1 an outline."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 1, 32, 32), np.float32)
    boxes = []
    for i in range(n):
        rows = []
        for k in range(int(rng.integers(1, 3))):
            s = int(rng.integers(8, 13))
            x0, y0 = (int(v) for v in rng.integers(0, 32 - s, 2))
            if any(_iou((x0, y0, x0 + s, y0 + s), r[1:]) > 0 for r in rows):
                continue
            c = int(rng.integers(0, 2))
            X[i, 0, y0:y0 + s, x0:x0 + s] = 1
            if c == 1:
                X[i, 0, y0 + 1:y0 + s - 1, x0 + 1:x0 + s - 1] = 0
            rows.append((c, x0, y0, x0 + s, y0 + s))
        boxes.append(np.array(rows, np.float32))
    return X, boxes


def test_detector_trains_predicts_and_round_trips(tmp_path):
    X, boxes = _tiny_data()
    det = aecv.Detector(None, n_classes=2, input_shape=(1, 32, 32), seed=1, anchor=10,
                        optimizer={"name": "adam", "learning_rate": 3e-3})
    det.fit(X, boxes, epochs=15, batch_size=16, progress=False)
    assert det.loss_curve_[-1] < 0.6 * det.loss_curve_[0]
    preds = det.predict(X, score_threshold=0.05)
    assert len(preds) == len(X)
    for p in preds:
        assert p.dtype == np.float32 and p.ndim == 2 and p.shape[1] == 6
        assert (np.diff(p[:, 1]) <= 0).all()                       # descending scores
        assert ((p[:, 1] >= 0.05) & (p[:, 1] <= 1)).all()
        assert ((p[:, 2:] >= 0) & (p[:, 2:] <= 32)).all()          # clipped to the image
    metrics = det.evaluate(X, boxes)
    assert set(metrics) == {"mAP50", "AP50_agnostic"} and 0 <= metrics["mAP50"] <= 1
    path = tmp_path / "d.aecvd"
    det.save(path)
    again = aecv.Detector.load(path)
    assert again.spec == det.spec
    for a, b in zip(again.predict(X[:8]), det.predict(X[:8])):
        np.testing.assert_array_equal(a, b)


def test_detector_from_autoencoder_and_errors():
    ae = aecv.Autoencoder("conv", input_shape=(1, 28, 28), seed=0, hidden=[4, 8])
    det = aecv.Detector(ae, n_classes=3, input_shape=(1, 32, 32))
    assert det.spec["backbone"] == [4, 8]
    X = np.zeros((2, 1, 32, 32), np.float32)
    ok = [np.array([[0, 1, 1, 9, 9]], np.float32), np.zeros((0, 5), np.float32)]
    det.train_step(X, ok)
    for bad in ([[3, 1, 1, 9, 9]], [[0, 1, 1, 40, 9]], [[0, np.nan, 1, 9, 9]], [[0, 5, 1, 5, 9]]):
        with pytest.raises(aecv.InvalidArgumentError):
            det.train_step(X, [np.array(bad, np.float32), ok[1]])
    with pytest.raises(aecv.ConfigError):
        aecv.Detector(None, n_classes=2, input_shape=(1, 30, 32))
    with pytest.raises(aecv.UnsupportedError):
        aecv.Detector(aecv.Autoencoder("dense", input_shape=(1, 28, 28)), n_classes=2,
                      input_shape=(1, 32, 32))
    with pytest.raises(aecv.FormatError):
        path = os.path.join(os.path.dirname(__file__), "test_detector.py")
        aecv.Detector.load(path)


def test_mirror_moves_boxes_with_pixels():
    from aecv.detector import _mirror
    images = np.zeros((3, 1 * 8 * 16), np.float32)
    img = images.reshape(3, 1, 8, 16)
    img[:, 0, 2:5, 1:4] = 1                                   # an item at x 1..4, y 2..5
    boxes = np.array([[[0, 1, 2, 4, 5], [-1, -1, -1, -1, -1]]] * 3, np.float32)
    which = np.array([True, False, True])
    out_images, out_boxes = _mirror(images, boxes, which, (1, 8, 16))
    out = out_images.reshape(3, 1, 8, 16)
    for i in range(3):
        ys, xs = np.nonzero(out[i, 0])
        tight = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        np.testing.assert_array_equal(out_boxes[i, 0, 1:], tight)   # the box follows the pixels
        np.testing.assert_array_equal(out_boxes[i, 1], [-1] * 5)    # padding untouched
    np.testing.assert_array_equal(out_boxes[0, 0], [0, 12, 2, 15, 5])
    np.testing.assert_array_equal(out[1], img[1])                   # not chosen: unchanged
    assert img[0, 0, 2, 1] == 1                                     # inputs not modified


def test_classes_per_cell_widens_predictions():
    X, boxes = _tiny_data()
    one = aecv.Detector(None, n_classes=2, input_shape=(1, 32, 32), seed=1, anchor=10)
    two = aecv.Detector(None, n_classes=2, input_shape=(1, 32, 32), seed=1, anchor=10,
                        classes_per_cell=2)
    for d in (one, two):
        d.fit(X, boxes, epochs=2, batch_size=16, progress=False)
    p1, p2 = one.predict(X, score_threshold=0.0), two.predict(X, score_threshold=0.0)
    # Same weights (same seed and data); at threshold 0 every cell gives 1 vs 2 candidates.
    assert sum(len(p) for p in p2) > sum(len(p) for p in p1)
    with pytest.raises(aecv.ConfigError):
        aecv.Detector(None, n_classes=2, input_shape=(1, 32, 32), classes_per_cell=3)


def test_translate_keeps_boxes_on_their_pixels():
    from aecv.detector import _translate
    rng = np.random.default_rng(3)
    images = np.zeros((40, 1, 24, 32), np.float32)
    boxes = np.full((40, 2, 5), -1, np.float32)
    for i in range(40):
        x0, y0 = int(rng.integers(0, 24)), int(rng.integers(0, 16))
        images[i, 0, y0:y0 + 8, x0:x0 + 8] = 1
        boxes[i, 0] = [1, x0, y0, x0 + 8, y0 + 8]
    out, moved = _translate(images.reshape(40, -1), boxes, rng.random((40, 2)), 8, (1, 24, 32))
    out = out.reshape(40, 1, 24, 32)
    shifts = []
    for i in range(40):
        ys, xs = np.nonzero(out[i, 0])
        assert out[i].sum() == 64                                    # the item is whole: never cut
        np.testing.assert_array_equal(moved[i, 0, 1:], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        np.testing.assert_array_equal(moved[i, 1], [-1] * 5)          # padding untouched
        shifts.append(moved[i, 0, 1] - boxes[i, 0, 1])
    assert max(np.abs(shifts)) <= 8 and len(set(shifts)) > 3          # moved, within the limit
