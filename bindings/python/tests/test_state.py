"""Model state: a refused step changes nothing; save/load is exact."""

import numpy as np
import pytest

import aecv

from conftest import images, saved_bytes


def test_a_nan_batch_leaves_the_model_unchanged(tmp_path):
    X = images(8)
    with aecv.Autoencoder("conv", seed=3) as m, aecv.Autoencoder("conv", seed=3) as twin:
        for model in (m, twin):  # some optimizer state first
            model.train_step(X)
            model.train_step(X[:4])
        before = saved_bytes(m, tmp_path, "before.aecv")
        assert before == saved_bytes(m, tmp_path, "before-again.aecv")  # saving is deterministic
        reconstruction = m.reconstruct(X)

        bad = X.copy()
        bad[3, 0, 14, 14] = np.nan
        with pytest.raises(aecv.NonFiniteError):
            m.train_step(bad)
        with pytest.raises(aecv.NonFiniteError):
            m.train_step(X, targets=bad)
        with pytest.raises(aecv.NonFiniteError):
            m.fit(bad, epochs=1, batch_size=8, shuffle=False, progress=False)

        assert saved_bytes(m, tmp_path, "after.aecv") == before
        np.testing.assert_array_equal(m.reconstruct(X), reconstruction)
        # parameters, optimizer moments, step count and random state all continue as the twin's
        assert m.train_step(X) == twin.train_step(X)
        np.testing.assert_array_equal(m.reconstruct(X), twin.reconstruct(X))


def test_save_load_is_exact(tmp_path):
    X = images(8)
    with aecv.Autoencoder("conv", seed=4) as m:
        m.fit(X, epochs=2, batch_size=4, progress=False)
        path = tmp_path / "model.aecv"
        m.save(path)  # a pathlib.Path
        with aecv.Autoencoder.load(str(path)) as loaded:  # or a str
            assert type(loaded) is aecv.Autoencoder
            assert loaded.spec == m.spec
            assert loaded.input_shape == m.input_shape
            assert loaded.latent_size == m.latent_size
            assert loaded.parameter_count == m.parameter_count
            np.testing.assert_array_equal(loaded.transform(X), m.transform(X))
            np.testing.assert_array_equal(loaded.reconstruct(X), m.reconstruct(X))
            assert loaded.evaluate(X) == m.evaluate(X)
            # training resumes exactly where it stopped (optimizer state is in the file)
            assert loaded.train_step(X) == m.train_step(X)
            np.testing.assert_array_equal(loaded.reconstruct(X), m.reconstruct(X))
            assert saved_bytes(loaded, tmp_path, "a.aecv") == saved_bytes(m, tmp_path, "b.aecv")


def test_save_over_an_existing_file(tmp_path, dense):
    path = tmp_path / "m.aecv"
    dense.save(path)
    dense.train_step(images(4, (1, 8, 8)))
    dense.save(path)
    with aecv.Autoencoder.load(path) as loaded:
        X = images(3, (1, 8, 8))
        np.testing.assert_array_equal(loaded.reconstruct(X), dense.reconstruct(X))
