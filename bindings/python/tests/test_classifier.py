"""aecv.Classifier: a classifier on an autoencoder's encoder, scikit-learn style.

Small synthetic data (8x8 images whose class is where a bright bar is) for the API; one
Fashion-MNIST check (a conv AE pretrained briefly, then a linear probe) with a loud skip when the
data set is missing. scikit-learn is optional: its tests skip loudly when it is not installed.
"""

import gzip
import os

import numpy as np
import pytest

import aecv

from conftest import FASHION_MNIST_DIR, small_dense

try:
    import sklearn  # noqa: F401
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, confusion_matrix, log_loss
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer
    HAVE_SKLEARN = True
except ImportError:
    HAVE_SKLEARN = False

needs_sklearn = pytest.mark.skipif(
    not HAVE_SKLEARN, reason="SKIPPED LOUDLY: scikit-learn is not installed (pip install "
    "scikit-learn) - the clone/Pipeline/metrics compatibility tests did not run")


def bars(n, classes=3, seed=0):
    """n 8x8 images: class c has a bright horizontal bar in rows 2c..2c+1, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = rng.random((n, 1, 8, 8), dtype=np.float32) * 0.3
    for i, c in enumerate(y):
        X[i, 0, 2 * c:2 * c + 2, :] += 0.7
    return np.clip(X, 0, 1), y


@pytest.fixture
def ae():
    """A small dense AE whose 8-d code separates the bars (a linear probe reaches 100%)."""
    with small_dense(seed=1, latent=8, hidden=[32]) as m:
        X, _ = bars(256, seed=9)
        m.fit(X, epochs=10, progress=False)
        yield m


def fitted(ae, epochs=15, **kw):
    X, y = bars(300)
    kw.setdefault("optimizer", {"name": "adam", "learning_rate": 1e-2})
    return aecv.Classifier(ae, n_classes=3, **kw).fit(X, y, epochs=epochs, progress=False)


# ------------------------------------------------------------------------------------ basics

def test_fit_predict_score(ae):
    clf = aecv.Classifier(ae, n_classes=3, optimizer={"name": "adam", "learning_rate": 1e-2})
    X, y = bars(300)
    assert clf.fit(X, y, epochs=15, progress=False) is clf
    assert np.array_equal(clf.classes_, np.arange(3))
    assert clf.n_features_in_ == 64
    assert len(clf.loss_curve_) == 15 and clf.n_iter_ == 15
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    Xt, yt = bars(200, seed=1)
    p = clf.predict_proba(Xt)
    assert p.shape == (200, 3) and p.dtype == np.float32
    assert np.all(p >= 0) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    labels = clf.predict(Xt)
    assert labels.dtype == np.int64 and labels.shape == (200,)
    assert np.array_equal(labels, np.argmax(p, axis=1))
    score = clf.score(Xt, yt)
    assert score == np.mean(labels == yt)
    assert score > 0.9
    assert np.allclose(clf.predict_log_proba(Xt[:5]), np.log(p[:5]), atol=1e-5)
    # Every layout of the images gives the same answer; uint8 is scaled by 1/255.
    assert np.array_equal(clf.predict_proba(Xt.reshape(200, 64)), p)
    assert np.array_equal(clf.predict_proba(Xt[:, 0]), p)
    u8 = (Xt * 255).round().astype(np.uint8)
    assert np.array_equal(clf.predict_proba(u8), clf.predict_proba(u8.astype(np.float32) / 255))
    # Batched prediction equals one call (up to rounding of another batch split).
    assert np.allclose(clf.predict_proba(Xt, batch_size=7), p, atol=1e-6)


def test_linear_probe_and_mlp_and_finetune_learn(ae):
    X, y = bars(200, seed=3)
    for kw in [{}, {"hidden": (16,)}, {"hidden": 16}, {"freeze_encoder": False},
               {"freeze_encoder": False, "encoder_learning_rate": 1e-3, "hidden": [8, 8]}]:
        clf = fitted(ae, **kw)
        assert clf.score(X, y) > 0.85, kw


def test_fit_is_reproducible_and_refits_from_scratch(ae):
    a, b = fitted(ae, epochs=3), fitted(ae, epochs=3)
    X, _ = bars(50, seed=5)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    c = fitted(ae, epochs=3, seed=1)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))
    # A second fit starts again from the autoencoder (it does not continue).
    Xf, yf = bars(300)
    a.fit(Xf, yf, epochs=3, progress=False)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.n_iter_ == 3
    # partial_fit continues.
    a.partial_fit(Xf, yf, classes=np.arange(3))
    assert a.n_iter_ == 4
    assert not np.array_equal(a.predict_proba(X), b.predict_proba(X))
    with pytest.raises(aecv.InvalidArgumentError):
        a.partial_fit(Xf, yf, classes=[0, 1])


def test_batch_schedule():
    from aecv.classifier import batch_schedule
    assert batch_schedule(10, 64, True) == [64] * 7 + [256, 1024, 4096]
    assert batch_schedule(5, 64, True) == [64] * 4 + [256]
    assert batch_schedule(2, 100, True) == [100, 400]
    assert batch_schedule(1, 64, True) == [64]
    assert batch_schedule(6, 64, False) == [64] * 6
    assert batch_schedule(4, 5000, True) == [5000] * 4  # never below batch_size


def test_callback_stops_early_and_progress_bar(ae, capsys):
    X, y = bars(100)
    seen = []
    clf = aecv.Classifier(ae, n_classes=3).fit(
        X, y, epochs=10, progress=True, callback=lambda e, loss: seen.append((e, loss)) or e < 2)
    assert [e for e, _ in seen] == [1, 2] and clf.n_iter_ == 2
    assert clf.loss_curve_ == [loss for _, loss in seen]
    assert "loss" in capsys.readouterr().err


def test_autoencoder_unchanged_and_not_needed_after_fit():
    X, y = bars(120)
    with small_dense(seed=2) as m:
        before = m.reconstruct(X)
        spec = m.spec
        clf = aecv.Classifier(m, n_classes=3, freeze_encoder=False,
                              optimizer={"name": "adam", "learning_rate": 1e-2}).fit(
            X, y, epochs=5, progress=False)
        assert np.array_equal(m.reconstruct(X), before)
        assert m.spec == spec
        m.fit(X, epochs=1, progress=False)  # the autoencoder trains on independently
    p = clf.predict_proba(X)  # the autoencoder is closed: the classifier has its own copy
    assert p.shape == (120, 3)


def test_vae_and_conv_encoders():
    X = np.random.default_rng(0).random((40, 1, 12, 12), dtype=np.float32)
    y = np.arange(40) % 4
    with aecv.Autoencoder("vae", input_shape=(1, 12, 12), hidden=[16], latent=3) as vae:
        clf = aecv.Classifier(vae, n_classes=4, freeze_encoder=False).fit(X, y, epochs=2,
                                                                            progress=False)
        assert clf.predict_proba(X).shape == (40, 4)
    with aecv.Autoencoder("conv", input_shape=(1, 12, 12)) as conv:
        clf = aecv.Classifier(conv, n_classes=4, feature=4).fit(X, y, epochs=2, progress=False)
        assert clf.predict(X).shape == (40,)


# ------------------------------------------------------------------------------------ labels

def test_labels_any_integer_array_like(ae):
    X, y = bars(300)
    Xt, yt = bars(50, seed=2)
    reference = fitted(ae, epochs=2).predict_proba(Xt)  # fitted() trains on bars(300) too
    for labels in [list(y), tuple(y.tolist()), y.astype(np.int8), y.astype(np.uint8),
                   y.astype(np.int64), y.astype(np.float64), y.reshape(-1, 1)]:
        clf = aecv.Classifier(ae, n_classes=3, optimizer={"name": "adam", "learning_rate": 1e-2})
        clf.fit(X, labels, epochs=2, progress=False)
        assert np.array_equal(clf.predict_proba(Xt), reference), type(labels)
        assert clf.score(Xt, list(yt)) == np.mean(clf.predict(Xt) == yt)


@pytest.mark.parametrize("bad", [3, -1, 2**31, -2**40])
def test_labels_out_of_range(ae, bad):
    X, y = bars(30)
    y = y.astype(np.int64)
    y[7] = bad
    clf = aecv.Classifier(ae, n_classes=3)
    with pytest.raises(aecv.InvalidArgumentError, match=r"y\[7\]") as info:
        clf.fit(X, y, progress=False)
    assert isinstance(info.value, ValueError)
    with pytest.raises(aecv.NotFittedError):
        clf.predict(X)  # a failed fit leaves it unfitted
    fitted_clf = fitted(ae, epochs=1)
    with pytest.raises(ValueError):
        fitted_clf.score(X, y)


def test_bad_labels_and_arguments(ae):
    X, y = bars(30)
    clf = aecv.Classifier(ae, n_classes=3)
    with pytest.raises(aecv.InvalidArgumentError):
        clf.fit(X, y + 0.5, progress=False)
    with pytest.raises(TypeError):
        clf.fit(X, np.array(["a"] * 30), progress=False)
    with pytest.raises(aecv.ShapeError):
        clf.fit(X, y[:-1], progress=False)
    with pytest.raises(aecv.ShapeError):
        clf.fit(X, np.stack([y, y], 1), progress=False)
    with pytest.raises(aecv.ShapeError):
        clf.fit(X[:, :, :4], y, progress=False)
    with pytest.raises(aecv.InvalidArgumentError):
        clf.fit(X, y, epochs=0, progress=False)
    with pytest.raises(aecv.ConfigError, match="classes"):
        aecv.Classifier(ae, n_classes=70000).fit(X, y, progress=False)
    with pytest.raises(aecv.InvalidArgumentError):
        aecv.Classifier(ae, n_classes=1).fit(X, y, progress=False)
    with pytest.raises(aecv.ConfigError, match="encoder_learning_rate"):
        aecv.Classifier(ae, n_classes=3, encoder_learning_rate=1e-3).fit(X, y, progress=False)
    with pytest.raises(aecv.ConfigError, match="unknown"):
        aecv.Classifier(ae, n_classes=3, standardise=True).fit(X, y, progress=False)
    with pytest.raises(TypeError):
        aecv.Classifier(ae, n_classes=3, hidden="wide").fit(X, y, progress=False)
    with pytest.raises(TypeError):
        aecv.Classifier(ae, n_classes=3, classes=3).fit(X, y, progress=False)
    with pytest.raises(aecv.InvalidArgumentError):
        aecv.Classifier(None).fit(X, y, progress=False)
    with pytest.raises(TypeError):
        aecv.Classifier("conv").fit(X, y, progress=False)
    nan = X.copy()
    nan[3, 0, 0, 0] = np.nan
    with pytest.raises(aecv.NonFiniteError):
        clf.fit(nan, y, progress=False)
    with pytest.raises(aecv.NotFittedError):
        aecv.Classifier(ae).predict_proba(X)
    with pytest.raises(AttributeError):  # also an AttributeError, like sklearn's
        aecv.Classifier(ae).score(X, y)


# ------------------------------------------------------------------------------------ files

def test_save_load(ae, tmp_path):
    clf = fitted(ae, epochs=3, hidden=(8,), freeze_encoder=False, seed=4)
    X, y = bars(50, seed=8)
    path = tmp_path / "c.aecvc"
    clf.save(path)
    with aecv.Classifier.load(path) as loaded:
        assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
        assert np.array_equal(loaded.classes_, clf.classes_)
        assert loaded.autoencoder is None
        params = loaded.get_params()
        assert params["n_classes"] == 3 and params["hidden"] == (8,)
        assert params["freeze_encoder"] is False and params["seed"] == 4
        assert params["optimizer"]["learning_rate"] == pytest.approx(1e-2)
        loaded.partial_fit(*bars(300))  # trains on without the autoencoder
        with pytest.raises(aecv.InvalidArgumentError, match="autoencoder"):
            loaded.fit(X, y, progress=False)
    assert loaded._native is None  # closed by the with block
    with pytest.raises(aecv.NotFittedError):
        loaded.predict(X)

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    (tmp_path / "bad.aecvc").write_bytes(bytes(data))
    with pytest.raises(aecv.FormatError):
        aecv.Classifier.load(tmp_path / "bad.aecvc")
    ae.save(tmp_path / "model.aecv")
    with pytest.raises(aecv.FormatError):
        aecv.Classifier.load(tmp_path / "model.aecv")
    with pytest.raises(aecv.FileIOError):
        aecv.Classifier.load(tmp_path / "missing.aecvc")
    with pytest.raises(aecv.NotFittedError):
        aecv.Classifier(ae).save(tmp_path / "unfitted.aecvc")
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(clf)


# ------------------------------------------------------------------------------------ sklearn API

def test_get_set_params(ae):
    clf = aecv.Classifier(ae, n_classes=3, hidden=(4,), seed=2, standardize=False)
    params = clf.get_params()
    assert params == {"autoencoder": ae, "n_classes": 3, "hidden": (4,), "freeze_encoder": True,
                      "seed": 2, "standardize": False}
    again = aecv.Classifier(**params)
    assert again.get_params() == params
    assert clf.set_params(seed=5, feature="code") is clf
    assert clf.get_params()["seed"] == 5 and clf.get_params()["feature"] == "code"
    assert "n_classes=3" in repr(clf)


@needs_sklearn
def test_sklearn_clone_pipeline_and_metrics(ae):
    X, y = bars(300)
    Xt, yt = bars(100, seed=1)
    clf = aecv.Classifier(ae, n_classes=3, seed=3, optimizer={"name": "adam", "learning_rate": 1e-2})
    copy = clone(clf)
    assert copy is not clf and copy.autoencoder is ae  # shared, not copied
    assert copy.get_params() == clf.get_params()
    copy.fit(X, y, epochs=5, progress=False)
    assert not hasattr(clf, "classes_")
    from sklearn.base import is_classifier
    assert is_classifier(clf)

    pipe = Pipeline([("flat", FunctionTransformer(lambda a: a.reshape(len(a), -1))),
                     ("clf", clf)])
    pipe.fit(X, y, clf__epochs=5, clf__progress=False)
    predicted = pipe.predict(Xt)
    assert np.array_equal(predicted, copy.predict(Xt))
    assert accuracy_score(yt, predicted) == pytest.approx(pipe.score(Xt, yt))
    matrix = confusion_matrix(yt, predicted, labels=clf.classes_)
    assert matrix.shape == (3, 3) and matrix.sum() == 100
    assert np.isfinite(log_loss(yt, pipe.predict_proba(Xt), labels=clf.classes_))
    clone(pipe)  # a pipeline holding the classifier clones too


@needs_sklearn
def test_sklearn_grid_search(ae):
    from sklearn.model_selection import GridSearchCV
    X, y = bars(150)
    search = GridSearchCV(aecv.Classifier(ae, n_classes=3), {"hidden": [(), (8,)]}, cv=2)
    search.fit(X.reshape(150, -1), y, progress=False, epochs=2)
    assert search.best_params_["hidden"] in [(), (8,)]


# ------------------------------------------------------------------------------------ real data

def _load_idx(name):
    with gzip.open(os.path.join(FASHION_MNIST_DIR, name)) as f:
        data = f.read()
    ndim = data[3]
    dims = np.frombuffer(data, ">u4", count=ndim, offset=4)
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def test_fashion_mnist_linear_probe():
    """A conv AE pretrained one epoch on 4,000 images, then a linear probe on its frozen code:
    4,000 labelled images, 5 epochs, first 1,000 test images. Measured 0.785 (2 cores); a probe
    on the untrained encoder gives about 0.72, so the threshold checks that pretraining helps."""
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    missing = [n for n in names if not os.path.exists(os.path.join(FASHION_MNIST_DIR, n))]
    if missing:
        pytest.skip(f"SKIPPED LOUDLY: Fashion-MNIST is missing ({', '.join(missing)} not in "
                    f"{FASHION_MNIST_DIR}); apt-get install dataset-fashion-mnist")
    X, y = _load_idx(names[0])[:4000], _load_idx(names[1])[:4000]
    Xt, yt = _load_idx(names[2])[:1000], _load_idx(names[3])[:1000]
    with aecv.Autoencoder("conv", input_shape=(1, 28, 28), seed=0) as ae:
        ae.fit(X, epochs=1, progress=False)
        clf = aecv.Classifier(ae, n_classes=10).fit(X, y, epochs=5, progress=False)
    accuracy = clf.score(Xt, yt)
    print(f"\nFashion-MNIST linear probe (4,000 images): test accuracy {accuracy:.4f}")
    assert accuracy > 0.75
