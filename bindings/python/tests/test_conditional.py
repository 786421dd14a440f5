"""The cvae preset from Python: fit(X, y), sample(n, y=...), aecv.augment."""
import numpy as np
import pytest

import aecv


def two_class_data(n=64, seed=0):
    """Class 0 bright on the top half of a 4x4 image, class 1 on the bottom half."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = np.where((np.arange(16) < 8)[None, :] == (y == 0)[:, None], 0.9, 0.1)
    X = (X + rng.uniform(-0.05, 0.05, X.shape)).astype(np.float32).reshape(n, 1, 4, 4)
    return X, y


def make(**kw):
    return aecv.Autoencoder("cvae", input_shape=(1, 4, 4), hidden=[32], latent=2, classes=2,
                            seed=1, optimizer={"name": "adam", "learning_rate": 0.01}, **kw)


def test_fit_sample_and_augment_follow_the_class():
    X, y = two_class_data()
    with make() as m:
        assert m.n_classes == 2
        losses = m.fit(X, y, epochs=60, batch_size=16, progress=False)
        assert losses[-1] < losses[0]
        top = lambda images: images.reshape(len(images), 16)[:, :8].mean()  # noqa: E731
        assert top(m.sample(40, seed=3, y=0)) > 0.7
        assert top(m.sample(40, seed=3, y=1)) < 0.3
        # per-example labels: each row follows its own label
        mixed = m.sample(6, seed=3, y=[0, 1, 0, 1, 1, 0]).reshape(6, 16)
        assert np.all((mixed[:, :8].mean(1) > mixed[:, 8:].mean(1)) == np.array([1, 0, 1, 0, 0, 1], bool))
        images, labels = aecv.augment(m, 5)
        assert images.shape == (10, 1, 4, 4) and images.dtype == np.float32
        assert labels.tolist() == [0] * 5 + [1] * 5
        np.testing.assert_array_equal(images[:5], m.sample(5, seed=0, y=0))


def test_errors_name_the_problem():
    X, y = two_class_data(8)
    with make() as m:
        with pytest.raises(aecv.InvalidArgumentError, match="needs the class labels"):
            m.fit(X, progress=False)
        with pytest.raises(aecv.InvalidArgumentError, match=r"y\[3\]: label 2"):
            m.fit(X, np.array([0, 1, 0, 2, 0, 1, 0, 1]), progress=False)
        with pytest.raises(aecv.InvalidArgumentError, match=r"y\[0\]: label 5"):
            m.sample(2, y=5)
        with pytest.raises(aecv.UnsupportedError, match="train_step_labeled"):
            m.train_step(X)
        with pytest.raises(ValueError, match="n_per_class"):
            aecv.augment(m, 0)
        before = m.sample(4, seed=9, y=1)  # the decoder's output stands for its parameters
        bad = X.copy()
        bad[0, 0, 0, 0] = np.nan
        with pytest.raises(aecv.NonFiniteError):
            m.fit(bad, y, progress=False)
        np.testing.assert_array_equal(m.sample(4, seed=9, y=1), before)
    with aecv.Autoencoder("vae", input_shape=(1, 4, 4), hidden=[8], latent=2) as vae:
        with pytest.raises(aecv.UnsupportedError, match="not conditional"):
            vae.fit(X, y, progress=False)
        with pytest.raises(aecv.UnsupportedError, match="not conditional"):
            aecv.augment(vae, 3)
        assert vae.fit(X, 2, progress=False) and len(vae.fit(X, 2, progress=False)) == 2  # fit(X, epochs)


def test_conditional_conv_vae_fits_and_samples_each_class():
    """conv_vae with classes=K: the class enters as K constant input planes (8x8 here) and
    after the code; fit(X, y) and sample(y=...) work as for the cvae."""
    X4, y = two_class_data()
    X = np.repeat(np.repeat(X4, 2, axis=2), 2, axis=3)  # 8x8, same halves
    with aecv.Autoencoder("conv_vae", input_shape=(1, 8, 8), hidden=[8, 16], latent=2, classes=2,
                          seed=1, optimizer={"name": "adam", "learning_rate": 0.01}) as m:
        assert m.n_classes == 2
        with aecv.Autoencoder("conv_vae", input_shape=(1, 8, 8), hidden=[8, 16], latent=2) as plain:
            # 2 more input channels of the first conv (8 filters, 3x3) and 2 more columns of
            # decoder_input (16 x 2 x 2 outputs)
            assert m.parameter_count - plain.parameter_count == 2 * 8 * 9 + 2 * 16 * 2 * 2
        losses = m.fit(X, y, epochs=60, batch_size=16, progress=False)
        assert losses[-1] < losses[0]
        top = lambda images: images.reshape(len(images), 64)[:, :32].mean()  # noqa: E731
        assert top(m.sample(40, seed=3, y=0)) > 0.7
        assert top(m.sample(40, seed=3, y=1)) < 0.3
        with pytest.raises(aecv.InvalidArgumentError, match="conditional conv_vae model"):
            m.fit(X, progress=False)
