"""The data-parallel methods of aecv.Autoencoder (the pieces aecv.distributed uses): shards
summed equal the whole batch, the gradient view is what apply_gradients applies, and the flat
parameter vector round-trips. The MPI runs themselves are in tools/mpi_tests (make test-mpi)."""

import numpy as np
import pytest

import aecv


def _model(preset="vae"):
    shape = (1, 8, 8)
    if preset == "vae":
        return aecv.Autoencoder(spec={"preset": "vae", "input": list(shape), "hidden": [16],
                                      "latent": 3, "seed": 5})
    return aecv.Autoencoder(spec={"preset": "conv", "input": [1, 12, 12], "hidden": [4, 8], "seed": 5})


def _data(model, n, seed=0):
    return np.random.default_rng(seed).random((n, *model.input_shape), dtype=np.float32)


@pytest.mark.parametrize("preset", ["conv", "vae"])
def test_uneven_shards_summed_equal_the_whole_batch(preset):
    full = _model(preset)
    X = _data(full, 11)
    full_loss = full.compute_gradients(X)
    want = full.gradients().copy()
    got = np.zeros_like(want)
    loss = 0.0
    for first, stop in [(0, 5), (5, 8), (8, 11)]:
        with _model(preset) as rank:
            loss += rank.compute_gradients(X[first:stop], first_example=first, total_batch=11)
            got += rank.gradients()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert loss == pytest.approx(full_loss, rel=1e-5)
    # The unweighted half-batch gradient is a different thing (the test can fail).
    with _model(preset) as other:
        other.compute_gradients(X[:5])
        assert np.abs(other.gradients() - want).max() > 1e-4


def test_the_gradient_view_is_what_apply_gradients_applies():
    a, b = _model("conv"), _model("conv")
    X = _data(a, 8)
    a.compute_gradients(X)
    a.gradients()[:] = 0          # nothing to apply: Adam's first step with g = 0 moves nothing
    before = a.get_parameters()
    a.apply_gradients()
    np.testing.assert_array_equal(a.get_parameters(), before)
    b.compute_gradients(X)
    b.apply_gradients()
    assert np.abs(b.get_parameters() - before).max() > 1e-5
    with pytest.raises(aecv.InvalidArgumentError):
        b.apply_gradients()       # nothing pending


def test_parameters_round_trip_and_refuse_bad_vectors():
    m = _model("vae")
    p = m.get_parameters()
    assert p.shape == (m.parameter_count,) and m.buffer_count == 0
    m.set_parameters(p * 0.5)
    np.testing.assert_array_equal(m.get_parameters(), p * 0.5)
    with pytest.raises(aecv.ShapeError):
        m.set_parameters(p[:-1])
    bad = p.copy()
    bad[3] = np.nan
    with pytest.raises(aecv.NonFiniteError):
        m.set_parameters(bad)
    np.testing.assert_array_equal(m.get_parameters(), p * 0.5)
    with pytest.raises(aecv.InvalidArgumentError):
        m.compute_gradients(_data(m, 4), first_example=2, total_batch=5)
