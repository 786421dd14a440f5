"""API round trips: creation, properties, training, inference, lifetime."""

import gc
import json
import pickle

import numpy as np
import pytest

import aecv

from conftest import images, small_dense


def test_conv_preset_shapes(conv):
    assert conv.input_shape == (1, 28, 28)
    assert conv.input_size == 784
    assert conv.latent_size == 64 * 4 * 4
    assert conv.parameter_count == 46529  # as PyTorch counts the seed's ConvAutoEncoder
    assert conv.preset == "conv"
    spec = conv.spec
    assert spec["preset"] == "conv" and spec["input"] == [1, 28, 28] and spec["seed"] == 0
    assert "conv" in repr(conv) and "46529" in repr(conv)


def test_spec_fields_are_passed_through():
    with aecv.Autoencoder("dense", input_shape=(1, 28, 28), latent=32, hidden=[128], seed=3,
                          optimizer={"name": "sgd", "learning_rate": 0.05}) as m:
        assert m.latent_size == 32
        assert m.parameter_count == (784 * 128 + 128) + (128 * 32 + 32) + (32 * 128 + 128) + (
            128 * 784 + 784)
        spec = m.spec
        assert spec["latent"] == 32 and spec["hidden"] == [128] and spec["seed"] == 3
        assert spec["optimizer"]["name"] == "sgd"
        assert spec["optimizer"]["learning_rate"] == pytest.approx(0.05)


def test_input_shape_forms():
    with aecv.Autoencoder("dense", input_shape=(8, 8), latent=4) as m:  # (H, W): one channel
        assert m.input_shape == (1, 8, 8)
    with aecv.Autoencoder("dense", input_shape=np.array([3, 4, 4]), latent=4) as m:
        assert m.input_shape == (3, 4, 4)


def test_spec_dict_json_text_and_preset_forms_build_the_same_model():
    X = images(4)
    a = aecv.Autoencoder("conv", input_shape=(1, 28, 28), seed=5)
    b = aecv.Autoencoder(spec={"preset": "conv", "input": [1, 28, 28], "seed": 5})
    c = aecv.Autoencoder(spec=json.dumps(a.spec))
    np.testing.assert_array_equal(a.reconstruct(X), b.reconstruct(X))
    np.testing.assert_array_equal(a.reconstruct(X), c.reconstruct(X))
    assert a.spec == b.spec == c.spec
    d = aecv.Autoencoder("conv", seed=6)
    assert not np.array_equal(a.reconstruct(X), d.reconstruct(X))


def test_spec_dict_as_first_argument():
    X = images(4)
    a = aecv.Autoencoder(spec={"preset": "conv", "input": [1, 28, 28], "seed": 5})
    b = aecv.Autoencoder({"preset": "conv", "input": [1, 28, 28], "seed": 5})
    assert a.spec == b.spec
    np.testing.assert_array_equal(a.reconstruct(X), b.reconstruct(X))
    # A bad field in a positional dict is the library's message about the field, not a
    # message about a preset named after the whole dict.
    with pytest.raises(aecv.ConfigError) as info:
        aecv.Autoencoder({"preset": "dense", "input": [1, 28, 28], "laten": 3})
    assert 'unknown key "laten"' in str(info.value) and "{" not in str(info.value)
    with pytest.raises(TypeError, match="given twice"):
        aecv.Autoencoder({"preset": "conv", "input": [1, 28, 28]}, spec={"preset": "conv"})
    with pytest.raises(TypeError, match="either a preset"):
        aecv.Autoencoder({"preset": "conv", "input": [1, 28, 28]}, latent=3)
    with pytest.raises(TypeError, match="preset: expected a preset name"):
        aecv.Autoencoder(42)


def test_constructor_misuse():
    with pytest.raises(TypeError):
        aecv.Autoencoder()
    with pytest.raises(TypeError):
        aecv.Autoencoder("conv", spec={"preset": "conv", "input": [1, 28, 28]})
    with pytest.raises(TypeError):
        aecv.Autoencoder("conv", input=[1, 28, 28])
    with pytest.raises(TypeError):
        aecv.Autoencoder(spec=42)
    with pytest.raises(aecv.ConfigError):  # not representable as JSON
        aecv.Autoencoder("dense", latent=float("nan"))


def test_inference_round_trip(conv):
    X = images(10)
    Z = conv.transform(X)
    assert Z.shape == (10, 1024) and Z.dtype == np.float32
    assert conv.encode is not None and np.array_equal(conv.encode(X), Z)
    Y = conv.inverse_transform(Z)
    assert Y.shape == (10, 1, 28, 28) and Y.dtype == np.float32
    np.testing.assert_array_equal(conv.decode(Z), Y)
    R = conv.reconstruct(X)
    assert R.shape == X.shape and R.dtype == np.float32
    np.testing.assert_allclose(R, Y, rtol=0, atol=1e-6)
    assert np.all((R >= 0) & (R <= 1))  # sigmoid output


def test_chunked_inference_matches_one_batch(conv):
    X = images(37)
    np.testing.assert_allclose(conv.transform(X, batch_size=5), conv.transform(X, batch_size=64),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(conv.reconstruct(X, batch_size=4), conv.reconstruct(X),
                               rtol=1e-6, atol=1e-6)
    whole = conv.evaluate(X, batch_size=37)
    assert conv.evaluate(X, batch_size=8) == pytest.approx(whole, rel=1e-5)
    # evaluate is the reconstruction MSE of the conv preset
    assert whole == pytest.approx(float(np.mean((conv.reconstruct(X) - X) ** 2)), rel=1e-4)


def test_empty_inputs_give_empty_outputs(conv):
    assert conv.transform(np.zeros((0, 1, 28, 28), np.float32)).shape == (0, 1024)
    assert conv.reconstruct(np.zeros((0, 784))).shape == (0, 784)
    assert conv.inverse_transform(np.zeros((0, 1024))).shape == (0, 1, 28, 28)
    with pytest.raises(aecv.InvalidArgumentError):
        conv.fit(np.zeros((0, 784)), progress=False)
    with pytest.raises(aecv.InvalidArgumentError):
        conv.evaluate(np.zeros((0, 784)))


def test_train_step_returns_the_loss_before_the_update(conv):
    X = images(16)
    before = conv.evaluate(X)
    loss = conv.train_step(X)
    assert isinstance(loss, float)
    assert loss == pytest.approx(before, rel=1e-5)
    assert conv.evaluate(X) < before


def test_train_step_with_targets(dense):
    X, T = images(8, (1, 8, 8), seed=1), images(8, (1, 8, 8), seed=2)
    before = dense.evaluate(X, targets=T)
    assert dense.train_step(X, targets=T) == pytest.approx(before, rel=1e-5)
    for _ in range(20):
        dense.train_step(X, targets=T)
    assert dense.evaluate(X, targets=T) < before


def test_fit_returns_per_epoch_losses_and_is_reproducible():
    X = images(100, (1, 8, 8))
    with small_dense(seed=1) as a, small_dense(seed=1) as b:
        la = a.fit(X, epochs=3, batch_size=16, progress=False)
        lb = b.fit(X, epochs=3, batch_size=16, progress=False)
        assert len(la) == 3 and all(isinstance(v, float) for v in la)
        assert la == lb
        assert la[-1] < la[0]
        np.testing.assert_array_equal(a.reconstruct(X), b.reconstruct(X))


def test_fit_without_shuffle_is_one_train_step_per_batch():
    X = images(40, (1, 8, 8))
    with small_dense(seed=2) as a, small_dense(seed=2) as b:
        [epoch_loss] = a.fit(X, epochs=1, batch_size=16, shuffle=False, progress=False)
        losses = [b.train_step(X[0:16]), b.train_step(X[16:32]), b.train_step(X[32:40])]
        assert epoch_loss == pytest.approx((16 * losses[0] + 16 * losses[1] + 8 * losses[2]) / 40,
                                           rel=1e-6)
        np.testing.assert_array_equal(a.reconstruct(X), b.reconstruct(X))


def test_fit_callback_and_early_stop(dense):
    X = images(32, (1, 8, 8))
    seen = []
    losses = dense.fit(X, epochs=4, batch_size=8, progress=False,
                       callback=lambda epoch, loss: seen.append((epoch, loss)))
    assert [e for e, _ in seen] == [1, 2, 3, 4] and [v for _, v in seen] == losses
    stopped = dense.fit(X, epochs=10, batch_size=8, progress=False,
                        callback=lambda epoch, loss: False if epoch == 2 else None)
    assert len(stopped) == 2  # the callback returned False after epoch 2
    assert dense.fit(X, epochs=0, progress=False) == []


def test_fit_argument_checks(dense):
    X = images(8, (1, 8, 8))
    with pytest.raises(aecv.InvalidArgumentError):
        dense.fit(X, batch_size=0, progress=False)
    with pytest.raises(TypeError):
        dense.fit(X, epochs=1.5, progress=False)
    with pytest.raises(aecv.ShapeError):
        dense.fit(X, targets=X[:4], progress=False)


def test_progress_plain_bar(dense, capsys, monkeypatch):
    monkeypatch.setattr(aecv._progress, "_tqdm", None)
    dense.fit(images(20, (1, 8, 8)), epochs=2, batch_size=8, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err
    assert "20/20" in err and "loss" in err and "img/s" in err
    dense.fit(images(20, (1, 8, 8)), epochs=1, batch_size=8, progress=False)
    assert capsys.readouterr().err == ""


def test_progress_tqdm(dense, capsys):
    pytest.importorskip("tqdm")
    dense.fit(images(20, (1, 8, 8)), epochs=1, batch_size=8, progress=True)
    err = capsys.readouterr().err
    assert "img/s" in err and "loss" in err


def test_set_learning_rate(dense):
    X = images(8, (1, 8, 8))
    with small_dense() as twin:
        dense.set_learning_rate(0.05)
        assert dense.train_step(X) == twin.train_step(X)  # same loss before the update ...
        assert not np.array_equal(dense.reconstruct(X), twin.reconstruct(X))  # ... other step
    with pytest.raises(aecv.InvalidArgumentError):
        dense.set_learning_rate(-1.0)
    for bad in (0.0, float("nan"), float("inf"), 1e7):  # include/aecv.h: must be in (0, 1e6]
        with pytest.raises(aecv.InvalidArgumentError):
            dense.set_learning_rate(bad)


def test_set_num_threads():
    aecv.set_num_threads(1)
    with pytest.raises(aecv.InvalidArgumentError):
        aecv.set_num_threads(0)  # refused by the library
    with pytest.raises(aecv.InvalidArgumentError):
        aecv.set_num_threads(2**40)  # would wrap in int32_t: refused by the binding
    with pytest.raises(TypeError):
        aecv.set_num_threads("2")
    aecv.set_num_threads(2)


def test_sample_on_a_generative_model():
    try:
        m = aecv.Autoencoder("vae", input_shape=(1, 28, 28), seed=0)
    except aecv.ConfigError as exc:
        pytest.skip(f"the library has no vae preset yet: {exc}")
    with m:
        S = m.sample(5, seed=3)
        assert S.shape == (5, 1, 28, 28) and S.dtype == np.float32
        np.testing.assert_array_equal(S, m.sample(5, seed=3))
        assert not np.array_equal(S, m.sample(5, seed=4))
        with pytest.raises(aecv.InvalidArgumentError):
            m.sample(0)
        with pytest.raises(aecv.InvalidArgumentError):
            m.sample(1, seed=-1)


def test_close_and_context_manager():
    with aecv.Autoencoder("conv") as m:
        assert not m.closed
    assert m.closed
    assert "closed" in repr(m)
    m.close()  # idempotent
    X, Z = images(2), np.zeros((2, 1024), np.float32)
    uses = [
        lambda: m.transform(X), lambda: m.encode(X), lambda: m.inverse_transform(Z),
        lambda: m.decode(Z), lambda: m.reconstruct(X), lambda: m.train_step(X),
        lambda: m.evaluate(X), lambda: m.fit(X, progress=False), lambda: m.sample(1),
        lambda: m.save("/tmp/never-written.aecv"), lambda: m.spec, lambda: m.input_shape,
        lambda: m.input_size, lambda: m.latent_size, lambda: m.parameter_count,
        lambda: m.set_learning_rate(1e-3), lambda: m.__enter__(),
    ]
    for use in uses:
        with pytest.raises(aecv.AECVError) as info:
            use()
        assert isinstance(info.value, aecv.ClosedModelError)
        assert "closed" in str(info.value)


def test_finalizer_frees_the_handle():
    m = aecv.Autoencoder("conv")
    finalizer = m._finalizer
    assert finalizer.alive
    del m
    gc.collect()
    assert not finalizer.alive


def test_models_are_not_picklable(dense):
    with pytest.raises(TypeError, match="save"):
        pickle.dumps(dense)


@pytest.mark.parametrize("preset, fields, generative", [
    ("conv", {}, False),
    ("dense", {}, False),
    ("sparse", {"sparsity": {"l1": 1e-3}}, False),
    ("denoising", {"noise": {"gaussian": 0.3}}, False),
    ("denoising", {"base": "dense", "noise": {"masking": 0.25}}, False),
    ("vae", {}, True),
    ("conv_vae", {}, True),
])
def test_every_preset_round_trips(preset, fields, generative, tmp_path):
    try:
        m = aecv.Autoencoder(preset, input_shape=(1, 28, 28), seed=0, **fields)
    except aecv.ConfigError as exc:
        pytest.skip(f"the library does not build {preset} {fields} yet: {exc}")
    X = images(8)
    with m:
        assert np.isfinite(m.train_step(X))
        Z = m.transform(X)
        assert Z.shape == (8, m.latent_size)
        assert m.inverse_transform(Z).shape == (8, 1, 28, 28)
        assert m.reconstruct(X[:, 0]).shape == (8, 28, 28)
        if generative:
            assert m.sample(3, seed=1).shape == (3, 1, 28, 28)
        else:
            with pytest.raises(aecv.UnsupportedError):
                m.sample(3)
        m.save(tmp_path / "m.aecv")
        with aecv.Autoencoder.load(tmp_path / "m.aecv") as loaded:
            assert loaded.spec == m.spec
            np.testing.assert_array_equal(loaded.reconstruct(X), m.reconstruct(X))
