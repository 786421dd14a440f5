"""Latent mixup (aecv.latent_mixup, and aecv.augment with X, y for unconditional models)."""
import numpy as np
import pytest

import aecv


def data(n=30, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.uniform(0, 1, (n, 1, 4, 4)).astype(np.float32)
    return X, y


def model():
    return aecv.Autoencoder("dense", input_shape=(1, 4, 4), hidden=[12], latent=3, seed=2)


class Identity:
    """A stand-in autoencoder whose code is the image itself, so that latent_mixup's images are
    exactly (1 - t) x_a + t x_b and the pairs and t it chose can be read back."""
    n_classes = None

    def transform(self, X):
        return np.asarray(X, np.float32).reshape(len(X), -1)

    def decode(self, Z):
        return np.asarray(Z, np.float32).reshape(len(Z), 1, 4, 4)


def pairs_and_t(images, X, y, labels):
    """For each image, the (a, b, t) with image = (1 - t) X[a] + t X[b], a != b of its class."""
    flat, Xf = images.reshape(len(images), -1), X.reshape(len(X), -1)
    found = []
    for img, c in zip(flat, labels):
        members = np.flatnonzero(y == c)
        best = None
        for a in members:
            for b in members:
                if a == b:
                    continue
                d = Xf[b] - Xf[a]
                t = float(np.dot(img - Xf[a], d) / np.dot(d, d))
                residual = np.abs(Xf[a] + t * d - img).max()
                if residual < 1e-5 and (best is None or residual < best[3]):
                    best = (int(a), int(b), t, residual)
        assert best is not None, "an image that is no mixture of two examples of its class"
        found.append(best[:3])
    return found


def test_images_mix_two_different_examples_of_their_class():
    X, y = data()
    images, labels = aecv.latent_mixup(Identity(), X, y, 8, seed=5)
    assert images.shape == (24, 1, 4, 4) and labels.tolist() == [0] * 8 + [1] * 8 + [2] * 8
    ts = [t for _, _, t in pairs_and_t(images, X, y, labels)]
    assert min(ts) >= -1e-6 and max(ts) <= 1 + 1e-6 and np.std(ts) > 0.1   # spread over [0, 1]
    images, labels = aecv.latent_mixup(Identity(), X, y, 8, seed=5, t_range=(0.25, 0.25))
    # (a, b, t) and (b, a, 1 - t) are the same mixture
    assert np.allclose([min(t, 1 - t) for _, _, t in pairs_and_t(images, X, y, labels)], 0.25, atol=1e-5)
    # t = 0: each image is one of its class's examples
    images, labels = aecv.latent_mixup(Identity(), X, y, 8, seed=5, t_range=(0.0, 0.0))
    for img, c in zip(images.reshape(24, -1), labels):
        assert np.abs(X.reshape(len(X), -1)[y == c] - img).max(axis=1).min() == 0


def test_a_real_model_mixes_deterministically():
    X, y = data()
    with model() as m:
        m.fit(X, epochs=2, batch_size=10, progress=False)
        codes = m.transform(X)
        images, labels = aecv.latent_mixup(m, X, y, 5, seed=1)
        assert images.shape == (15, 1, 4, 4) and images.dtype == np.float32 and np.isfinite(images).all()
        np.testing.assert_array_equal(images, aecv.latent_mixup(m, X, y, 5, seed=1)[0])
        assert not np.array_equal(images, aecv.latent_mixup(m, X, y, 5, seed=2)[0])
        # class 0's images do not depend on the other classes' examples
        keep = y == 0
        alone = aecv.latent_mixup(m, X[keep], y[keep], 5, seed=1)[0]
        np.testing.assert_allclose(alone, images[:5], atol=1e-6)
        assert codes.shape == (30, 3)


def test_augment_dispatches_and_errors_name_the_problem():
    X, y = data(9)
    with model() as m:
        images, labels = aecv.augment(m, 2, X=X, y=y, seed=3)
        np.testing.assert_array_equal(images, aecv.latent_mixup(m, X, y, 2, seed=3)[0])
        with pytest.raises(aecv.UnsupportedError, match="latent mixup"):
            aecv.augment(m, 2)
        with pytest.raises(ValueError, match="class 1 has 1 example"):
            aecv.latent_mixup(m, X[:5], np.array([0, 1, 0, 2, 2]), 2)
        with pytest.raises(ValueError, match="t_range"):
            aecv.latent_mixup(m, X, y, 2, t_range=(0.8, 0.2))
        with pytest.raises(aecv.ShapeError, match="expected 9 labels"):
            aecv.latent_mixup(m, X, y[:8], 2)
        with pytest.raises(ValueError, match="n_per_class"):
            aecv.latent_mixup(m, X, y, 0)
        with pytest.raises(ValueError, match=">= 0"):
            aecv.latent_mixup(m, X, y - 1, 2)
    with aecv.Autoencoder("cvae", input_shape=(1, 4, 4), hidden=[8], latent=2, classes=3) as cvae:
        with pytest.raises(aecv.UnsupportedError, match="samples each class"):
            aecv.latent_mixup(cvae, X, y, 2)
