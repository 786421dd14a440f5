"""Weights to and from PyTorch: export_safetensors / import_safetensors / from_torch, and the
analysis wrappers interpolate and code_sparsity.

Most tests need no torch (the files are read and written by hand with numpy, and from_torch
accepts a dict of numpy arrays). The ones that use torch itself skip, loudly, when it cannot be
imported (the default python3 here has no torch; Debian's /usr/bin/python3 has)."""

import json
import warnings

import numpy as np
import pytest

import aecv

from conftest import images, read_safetensors, saved_bytes, small_dense


def test_export_names_shapes_and_metadata(tmp_path):
    with aecv.Autoencoder("conv", seed=1) as m:
        path = tmp_path / "conv.safetensors"
        m.export_safetensors(path)
        tensors, meta = read_safetensors(path)
    assert meta["format"] == "pt"
    assert json.loads(meta["aecv.spec"])["preset"] == "conv"
    assert {k: v.shape for k, v in tensors.items()} == {
        "encoder.0.weight": (16, 1, 3, 3), "encoder.0.bias": (16,),
        "encoder.2.weight": (32, 16, 3, 3), "encoder.2.bias": (32,),
        "encoder.4.weight": (64, 32, 3, 3), "encoder.4.bias": (64,),
        "decoder.0.weight": (64, 32, 3, 3), "decoder.0.bias": (32,),
        "decoder.2.weight": (32, 16, 3, 3), "decoder.2.bias": (16,),
        "decoder.4.weight": (16, 1, 3, 3), "decoder.4.bias": (1,)}


@pytest.mark.parametrize("preset,names", [
    ("dense", ["encoder.0", "encoder.2", "decoder.0", "decoder.2"]),
    ("vae", ["fc1", "fc_mu", "fc_logvar", "fc3", "fc4"]),
    ("conv_vae", ["encoder.0", "encoder.2", "encoder.4", "fc_mu", "fc_logvar", "decoder_input",
                  "decoder.0", "decoder.2", "decoder.4"]),
])
def test_export_names_of_other_presets(preset, names, tmp_path):
    with aecv.Autoencoder(preset) as m:
        m.export_safetensors(tmp_path / "m.safetensors")
        tensors, _ = read_safetensors(tmp_path / "m.safetensors")
        assert sorted(tensors) == sorted(f"{n}.{p}" for n in names for p in ("weight", "bias"))
        assert sum(v.size for v in tensors.values()) == m.parameter_count


def test_round_trip_is_exact_and_resets_the_optimizer(tmp_path):
    X = images(16, (1, 8, 8))
    with small_dense(seed=1) as a, small_dense(seed=2) as b, small_dense(seed=2) as fresh:
        a.fit(X, epochs=2, batch_size=8, progress=False)
        b.fit(X[::-1], epochs=1, batch_size=8, progress=False)
        a.export_safetensors(tmp_path / "a.safetensors")
        b.import_safetensors(tmp_path / "a.safetensors")
        np.testing.assert_array_equal(b.reconstruct(X), a.reconstruct(X))
        b.export_safetensors(tmp_path / "b.safetensors")
        ta, _ = read_safetensors(tmp_path / "a.safetensors")
        tb, _ = read_safetensors(tmp_path / "b.safetensors")
        assert ta.keys() == tb.keys()
        for k in ta:
            np.testing.assert_array_equal(ta[k], tb[k])
        # b's Adam state was reset: it now trains exactly like a fresh model that imported
        fresh.import_safetensors(tmp_path / "a.safetensors")
        assert b.train_step(X) == fresh.train_step(X)
        np.testing.assert_array_equal(b.reconstruct(X), fresh.reconstruct(X))


def test_refused_imports_leave_the_model_unchanged(tmp_path):
    X = images(8, (1, 8, 8))
    with small_dense(seed=1) as m, small_dense(seed=1, latent=3) as other, \
            aecv.Autoencoder("vae", input_shape=(1, 8, 8), hidden=[16], latent=4) as vae:
        m.train_step(X)
        before = saved_bytes(m, tmp_path)
        other.export_safetensors(tmp_path / "other.safetensors")
        with pytest.raises(aecv.ShapeError, match=r"encoder\.2\.weight"):
            m.import_safetensors(tmp_path / "other.safetensors")
        vae.export_safetensors(tmp_path / "vae.safetensors")
        with pytest.raises(aecv.ShapeError, match=r"fc1\.weight"):
            m.import_safetensors(tmp_path / "vae.safetensors")
        (tmp_path / "junk.safetensors").write_bytes(b"\x10" + b"\0" * 7 + b"not json at all!")
        with pytest.raises(aecv.FormatError):
            m.import_safetensors(tmp_path / "junk.safetensors")
        good = (tmp_path / "vae.safetensors").read_bytes()
        (tmp_path / "cut.safetensors").write_bytes(good[:len(good) // 2])
        with pytest.raises(aecv.FormatError):
            m.import_safetensors(tmp_path / "cut.safetensors")
        with pytest.raises(aecv.FileIOError) as info:
            m.import_safetensors(tmp_path / "missing.safetensors")
        assert info.value.filename == str(tmp_path / "missing.safetensors")
        with pytest.raises(aecv.FileIOError):
            m.export_safetensors(tmp_path / "no" / "dir.safetensors")
        with pytest.raises(aecv.InvalidArgumentError):
            m.import_safetensors("bad\0path")
        assert saved_bytes(m, tmp_path, "after.aecv") == before



def exported(model, tmp_path):
    path = tmp_path / "w.safetensors"
    model.export_safetensors(path)
    return read_safetensors(path)[0]


def test_from_torch_accepts_a_dict_of_numpy_arrays(tmp_path):
    X = images(4, (1, 8, 8))
    with small_dense(seed=5) as source:
        source.train_step(X)
        weights = {k: v.astype(np.float64) for k, v in exported(source, tmp_path).items()}
        with aecv.Autoencoder.from_torch(weights, "dense", input_shape=(1, 8, 8), hidden=[16],
                                         latent=4) as m:
            np.testing.assert_array_equal(m.reconstruct(X), source.reconstruct(X))
            assert m.spec["hidden"] == [16]


def test_from_torch_accepts_an_object_with_state_dict(tmp_path):
    class FakeModule:
        def __init__(self, weights):
            self.weights = weights

        def state_dict(self):
            return dict(self.weights)

    with small_dense(seed=6) as source:
        weights = exported(source, tmp_path)
        # Fortran-ordered and non-native byte order arrays are converted, not misread
        weights = {k: np.asfortranarray(v).astype(">f4") for k, v in weights.items()}
        with aecv.Autoencoder.from_torch(FakeModule(weights), "dense", input_shape=(1, 8, 8),
                                         hidden=[16], latent=4) as m:
            X = images(3, (1, 8, 8))
            np.testing.assert_array_equal(m.reconstruct(X), source.reconstruct(X))


def test_from_torch_errors(tmp_path):
    with small_dense() as source:
        weights = exported(source, tmp_path)
    with pytest.raises(TypeError, match="state_dict"):
        aecv.Autoencoder.from_torch(42, "dense", input_shape=(1, 8, 8))
    with pytest.raises(TypeError, match="encoder.0.weight"):
        aecv.Autoencoder.from_torch(dict(weights, **{"encoder.0.weight": object()}), "dense",
                                    input_shape=(1, 8, 8), hidden=[16], latent=4)
    with pytest.raises(aecv.ShapeError, match="encoder.0.weight"):  # the default widths
        aecv.Autoencoder.from_torch(weights, "dense", input_shape=(1, 8, 8))
    with pytest.raises(aecv.ShapeError, match="extra.bias"):
        aecv.Autoencoder.from_torch(dict(weights, **{"extra.bias": np.zeros(3)}), "dense",
                                    input_shape=(1, 8, 8), hidden=[16], latent=4)
    bad = dict(weights)
    bad["decoder.0.bias"] = np.full_like(bad["decoder.0.bias"], np.nan)
    with pytest.raises(aecv.NonFiniteError, match="decoder.0.bias"):
        aecv.Autoencoder.from_torch(bad, "dense", input_shape=(1, 8, 8), hidden=[16], latent=4)
    with pytest.raises(aecv.ConfigError):
        aecv.Autoencoder.from_torch(weights, "no-such-preset")


# ------------------------------------------------------------------------------------ torch

def _torch():
    try:
        import torch
        return torch
    except ImportError:
        warnings.warn("torch is not importable: the PyTorch round-trip tests are SKIPPED "
                      "(run them with /usr/bin/python3, which has Debian's python3-torch)")
        pytest.skip("torch is not importable (optional dependency)")


def test_from_torch_with_a_real_module_matches_pytorch(tmp_path):
    torch = _torch()
    nn = torch.nn

    def module():
        m = nn.Module()
        m.encoder = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4), nn.ReLU())
        m.decoder = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 64), nn.Sigmoid())
        return m

    def forward(m, X):
        with torch.no_grad():
            return m.decoder(m.encoder(torch.tensor(X.reshape(len(X), 64)))).numpy()

    torch.manual_seed(0)
    source = module()
    X = images(5, (1, 8, 8))
    with aecv.Autoencoder.from_torch(source, "dense", input_shape=(1, 8, 8), hidden=[16],
                                     latent=4) as m:
        np.testing.assert_allclose(m.reconstruct(X.reshape(5, 64)), forward(source, X),
                                   atol=1e-6)
        # and back: train in libaecv, export, load_state_dict (strict) into a fresh module
        m.fit(X, epochs=3, batch_size=5, progress=False)
        m.export_safetensors(tmp_path / "back.safetensors")
        tensors, _ = read_safetensors(tmp_path / "back.safetensors")
        target = module()
        target.load_state_dict({k: torch.tensor(v.copy()) for k, v in tensors.items()})
        np.testing.assert_allclose(forward(target, X), m.reconstruct(X.reshape(5, 64)),
                                   atol=1e-6)
    # a state_dict works as well as the module
    with aecv.Autoencoder.from_torch(source.state_dict(), "dense", input_shape=(1, 8, 8),
                                     hidden=[16], latent=4) as m:
        np.testing.assert_allclose(m.reconstruct(X.reshape(5, 64)), forward(source, X),
                                   atol=1e-6)


# ------------------------------------------------------------------------------------ analysis

def test_interpolate_ends_are_the_reconstructions(dense):
    X = images(2, (1, 8, 8))
    path = dense.interpolate(X[0], X[1], steps=5)
    assert path.shape == (5, 1, 8, 8) and path.dtype == np.float32
    ends = dense.reconstruct(X)
    # Equal up to float rounding: the ends are decoded in a batch of 5, the reconstructions in a
    # batch of 2, and BLAS may sum in another order for another shape.
    np.testing.assert_allclose(path[0], ends[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(path[-1], ends[1], rtol=0, atol=1e-6)
    # other single-example layouts give the same answer
    np.testing.assert_array_equal(dense.interpolate(X[0].reshape(64), X[1:2], 5), path)
    np.testing.assert_array_equal(dense.interpolate(X[0, 0], X[1, 0], 5), path)
    with pytest.raises(aecv.ShapeError, match="one image"):
        dense.interpolate(X, X[1], 5)
    with pytest.raises(aecv.InvalidArgumentError, match="steps"):
        dense.interpolate(X[0], X[1], steps=1)
    bad = X[0].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(aecv.NonFiniteError):
        dense.interpolate(bad, X[1], 3)


def test_code_sparsity(dense):
    X = images(300, (1, 8, 8))
    codes = dense.transform(X)
    assert dense.code_sparsity(X) == pytest.approx(np.mean(codes == 0), abs=1e-6)
    assert dense.code_sparsity(X, batch_size=7) == pytest.approx(np.mean(codes == 0), abs=1e-6)
    assert dense.code_sparsity(X, threshold=1e30) == 1.0
    with pytest.raises(aecv.InvalidArgumentError, match="threshold"):
        dense.code_sparsity(X, threshold=-1)
    with pytest.raises(aecv.InvalidArgumentError):
        dense.code_sparsity(X[:0])
