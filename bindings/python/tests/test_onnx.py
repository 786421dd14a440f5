"""ONNX export parity: every preset, a custom model with every layer type, every part, the
classifier and the detector, checked by onnx.checker and run by ONNX Runtime against libaecv's
own outputs (within 1e-5), at batch 1 and 7. Import of libaecv's own exports and of the
committed PyTorch fixtures (tools/make_onnx_fixtures.py) reproduces the outputs.

Skips LOUDLY when onnx / onnxruntime are missing (.ci/run installs them, so CI never skips)."""

import json
import os
import warnings

import numpy as np
import pytest

import aecv

from aecv._safetensors import write_safetensors
from conftest import images, read_safetensors

try:
    import onnx
    import onnxruntime as ort
    HAVE_ORT = True
except ImportError as error:  # pragma: no cover - depends on the machine
    HAVE_ORT = False
    MISSING = str(error)

needs_ort = pytest.mark.skipif(
    not HAVE_ORT, reason="SKIPPED LOUDLY: onnx/onnxruntime not installed "
    "(python3 -m pip install onnx onnxruntime); ONNX parity is NOT tested")

if not HAVE_ORT:
    warnings.warn("onnx/onnxruntime missing: ONNX parity tests are skipped")

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                        "Tests", "AECVTests", "Fixtures", "onnx")
TOLERANCE = 1e-5

EVERY_LAYER = {
    "preset": "custom", "input": [1, 16, 16], "seed": 4,
    "encoder": [{"type": "conv2d", "out": 4, "kernel": 3, "stride": 2, "padding": 1},
                {"type": "leaky_relu", "slope": 0.2},
                {"type": "conv2d", "out": 8, "kernel": 3, "stride": 2, "padding": 1},
                {"type": "tanh"}, {"type": "flatten"}, {"type": "dense", "out": 10},
                {"type": "relu"}],
    "decoder": [{"type": "dense", "out": 128}, {"type": "relu"},
                {"type": "unflatten", "shape": [8, 4, 4]},
                {"type": "conv_transpose2d", "out": 4, "kernel": 3, "stride": 2, "padding": 1,
                 "output_padding": 1},
                {"type": "relu"},
                {"type": "conv_transpose2d", "out": 1, "kernel": 3, "stride": 2, "padding": 1,
                 "output_padding": 1},
                {"type": "sigmoid"}],
}

def custom(encoder, decoder, channels=1, seed=8):
    return {"preset": "custom", "input": [channels, 16, 16], "seed": seed,
            "encoder": encoder, "decoder": decoder}


CONV_IN = [{"type": "conv2d", "out": 4, "kernel": 3, "stride": 2, "padding": 1},
           {"type": "relu"}, {"type": "flatten"}, {"type": "dense", "out": 10}]
DENSE_OUT = [{"type": "dense", "out": 256}, {"type": "sigmoid"},
             {"type": "unflatten", "shape": [1, 16, 16]}]
DENSE_OUT3 = [{"type": "dense", "out": 768}, {"type": "sigmoid"},
              {"type": "unflatten", "shape": [3, 16, 16]}]

# The layers added after the first ONNX export, one group per model; test_new_layers_* trains
# each a little first, so batch norms export non-trivial running statistics.
NEW_LAYERS = {
    "dropout_batch_norm": custom(
        [{"type": "conv2d", "out": 4, "kernel": 3, "stride": 2, "padding": 1},
         {"type": "batch_norm2d", "momentum": 0.3}, {"type": "relu"},
         {"type": "dropout2d", "p": 0.3},
         {"type": "batch_norm2d", "affine": False, "eps": 1e-3},
         {"type": "flatten"}, {"type": "dense", "out": 10},
         {"type": "batch_norm1d", "momentum": 0.5}, {"type": "dropout", "p": 0.5}],
        [{"type": "dense", "out": 64}, {"type": "batch_norm1d", "affine": False},
         {"type": "dropout", "p": 0.2}, {"type": "relu"}] + DENSE_OUT),
    "pooling": custom(
        [{"type": "conv2d", "out": 4, "kernel": 3, "stride": 1, "padding": 1},
         {"type": "max_pool2d", "kernel": 3, "stride": 2, "padding": 1},
         {"type": "max_pool2d", "kernel": 2},
         {"type": "avg_pool2d", "kernel": 3, "stride": 1, "padding": 1},
         {"type": "avg_pool2d", "kernel": 2, "stride": 1, "padding": 1,
          "count_include_pad": False},
         {"type": "conv2d", "out": 8, "kernel": 1},
         {"type": "global_avg_pool"}, {"type": "dense", "out": 10}],
        DENSE_OUT3, channels=3),
    "activations": custom(
        [{"type": "flatten"}, {"type": "dense", "out": 32}, {"type": "elu", "alpha": 0.7},
         {"type": "dense", "out": 16}, {"type": "silu"}, {"type": "dense", "out": 10},
         {"type": "gelu"}],
        [{"type": "dense", "out": 32}, {"type": "elu"}, {"type": "dense", "out": 32},
         {"type": "gelu"}, {"type": "silu"}] + DENSE_OUT),
    "upsample": custom(
        CONV_IN,
        [{"type": "dense", "out": 48}, {"type": "relu"},
         {"type": "unflatten", "shape": [3, 4, 4]},
         {"type": "upsample", "scale": 2, "mode": "nearest"},
         {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
         {"type": "upsample", "scale": 2, "mode": "bilinear"},
         {"type": "upsample", "scale": 1, "mode": "bilinear"},
         {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1}, {"type": "sigmoid"}]),
    "residual": custom(
        [{"type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
         {"type": "residual", "layers": [
             {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1}, {"type": "relu"},
             {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1}]},
         {"type": "residual", "layers": [
             {"type": "conv2d", "out": 8, "kernel": 3, "stride": 2, "padding": 1},
             {"type": "batch_norm2d"}, {"type": "relu"}]},
         {"type": "flatten"},
         {"type": "residual", "layers": [{"type": "dense", "out": 32}, {"type": "tanh"}]},
         {"type": "residual", "layers": [{"type": "dense", "out": 32}, {"type": "relu"}]},
         {"type": "dense", "out": 10}],
        [{"type": "dense", "out": 64}, {"type": "relu"},
         {"type": "unflatten", "shape": [4, 4, 4]},
         {"type": "upsample", "scale": 4, "mode": "nearest"},
         {"type": "residual", "layers": [{"type": "dropout2d", "p": 0.5}]},
         {"type": "conv2d", "out": 1, "kernel": 3, "padding": 1}, {"type": "sigmoid"}]),
}

MODELS = {
    "conv": dict(preset="conv", seed=1),
    "dense": dict(preset="dense", seed=2),
    "sparse": dict(preset="sparse", seed=3),
    "denoising": dict(preset="denoising", seed=4),
    "denoising_dense": dict(preset="denoising", seed=5, base="dense"),
    "vae": dict(preset="vae", seed=6),
    "conv_vae": dict(preset="conv_vae", seed=7),
    # A conv without bias before each BatchNorm: Conv gets two inputs (exporting a third would
    # pass the BatchNorm's weight off as the conv's bias).
    "conv_bn": dict(preset="conv", seed=8, batch_norm=True),
    "conv_vae_bn": dict(preset="conv_vae", seed=9, batch_norm=True),
}


def make(name):
    if name == "custom":
        return aecv.Autoencoder(spec=EVERY_LAYER)
    if name in NEW_LAYERS:
        return aecv.Autoencoder(spec=NEW_LAYERS[name])
    fields = dict(MODELS[name])
    return aecv.Autoencoder(fields.pop("preset"), **fields)


def session(path):
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return model, ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def assert_close(ours, theirs, what):
    ours = np.asarray(ours, np.float32).reshape(theirs.shape)
    difference = float(np.max(np.abs(ours - theirs)))
    assert difference <= TOLERANCE, f"{what}: max |libaecv - onnxruntime| = {difference:.3g}"


@needs_ort
@pytest.mark.parametrize("name", list(MODELS) + ["custom"])
def test_every_part_matches_onnxruntime(name, tmp_path):
    with make(name) as m:
        check_every_part(m, name, tmp_path)


@needs_ort
@pytest.mark.parametrize("name", list(NEW_LAYERS))
def test_new_layers_match_onnxruntime_after_training(name, tmp_path):
    """Pooling, upsampling, batch norm (its running statistics), dropout (the identity in
    evaluation), ELU/SiLU/GELU and residual blocks, in all three parts."""
    with make(name) as m:
        x = images(32, m.input_shape, seed=12)
        m.fit(x, epochs=1, batch_size=16, progress=False)
        check_every_part(m, name, tmp_path)


def check_every_part(m, name, tmp_path):
    """Every part at batch 1 and 7: metadata, batch axis, outputs within TOLERANCE."""
    shape = m.input_shape
    for batch in (1, 7):
        x = images(batch, shape, seed=batch)
        code = np.asarray(m.transform(x), np.float32)
        for part in ("autoencoder", "encoder", "decoder"):
            path = tmp_path / f"{name}-{part}.onnx"
            m.export_onnx(path, part=part)
            model, s = session(path)
            meta = {p.key: p.value for p in model.metadata_props}
            assert meta["aecv.part"] == part and meta["aecv.version"] == aecv.library_version()
            assert json.loads(meta["aecv.spec"]) == m.spec
            assert model.opset_import[0].version == 17
            batch_dim = model.graph.input[0].type.tensor_type.shape.dim[0]
            assert batch_dim.dim_param == "batch"
            if part == "autoencoder":
                (out,) = s.run(["reconstruction"], {"input": x})
                assert out.shape == (batch,) + tuple(shape)
                assert_close(m.reconstruct(x), out, f"{name} reconstruct batch {batch}")
            elif part == "encoder":
                names = [o.name for o in s.get_outputs()]
                outs = s.run(None, {"input": x})
                assert names == (["mu", "logvar"] if name in ("vae", "conv_vae", "conv_vae_bn") else ["code"])
                assert_close(code, outs[0], f"{name} encode batch {batch}")
                assert all(np.isfinite(o).all() for o in outs)
            else:
                feed = code.reshape((batch,) + tuple(d.dim_value for d in
                                    model.graph.input[0].type.tensor_type.shape.dim[1:]))
                (out,) = s.run(["reconstruction"], {"code": feed})
                assert_close(m.inverse_transform(code), out, f"{name} decode batch {batch}")


@needs_ort
def test_trained_model_exports_its_current_weights(tmp_path):
    """After training steps the export carries the new weights (not the initial ones)."""
    with make("conv") as m:
        x = images(32, m.input_shape, seed=3)
        m.fit(x, epochs=1, batch_size=16, progress=False)
        m.export_onnx(tmp_path / "t.onnx")
        _, s = session(tmp_path / "t.onnx")
        (out,) = s.run(None, {"input": x[:7]})
        assert_close(m.reconstruct(x[:7]), out, "trained conv")


@needs_ort
@pytest.mark.parametrize("base", ["conv", "vae"])
def test_classifier_logits_match_predict_proba(base, tmp_path):
    rng = np.random.default_rng(0)
    x = images(40, (1, 28, 28), seed=9)
    y = rng.integers(0, 3, 40).astype(np.int32)
    with make(base) as ae:
        clf = aecv.Classifier(ae, n_classes=3, hidden=(16,)).fit(x, y, epochs=2, progress=False)
        clf.export_onnx(tmp_path / "c.onnx")
        _, s = session(tmp_path / "c.onnx")
        for batch in (1, 7):
            (logits,) = s.run(["logits"], {"input": x[:batch]})
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            assert_close(clf.predict_proba(x[:batch]), e / e.sum(axis=1, keepdims=True),
                         f"classifier on {base}, batch {batch}")


def decode_grid(grid, spec, threshold):
    """The README's decoding of the raw grid (classes_per_cell classes per cell, no NMS)."""
    stride, anchor = 2 ** len(spec["backbone"]), spec["anchor"]
    per_cell = min(spec["classes_per_cell"], spec["classes"])
    height, width = spec["input"][1], spec["input"][2]
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    found = []
    _, gh, gw = grid.shape
    for row in range(gh):
        for col in range(gw):
            g = grid[:, row, col].astype(np.float64)
            objectness = sig(g[0])
            logits = g[5:]
            p = np.exp(logits - logits.max()); p /= p.sum()
            cx, cy = (col + sig(g[1])) * stride, (row + sig(g[2])) * stride
            w = anchor * np.exp(np.clip(g[3], -8, 8)); h = anchor * np.exp(np.clip(g[4], -8, 8))
            for c in np.argsort(-logits, kind="stable")[:per_cell]:
                score = objectness * p[c]
                if score >= threshold:
                    found.append((c, score, max(cx - w / 2, 0), max(cy - h / 2, 0),
                                  min(cx + w / 2, width), min(cy + h / 2, height)))
    return sorted(found, key=lambda r: -r[1])


@needs_ort
@pytest.mark.parametrize("stages", [{}, {"batch_norm": True, "downsample": "max_pool"}])
def test_detector_grid_decodes_to_detect(stages, tmp_path):
    """The grid export decodes to predict(); also with a BatchNorm/max-pool backbone, whose
    biasless convs and running statistics must export as they compute."""
    x = images(7, (1, 32, 32), seed=5)
    d = aecv.Detector(None, n_classes=3, input_shape=(1, 32, 32), seed=2, test_time_flip=False, **stages)
    d.export_onnx(tmp_path / "d.onnx")
    model, s = session(tmp_path / "d.onnx")
    meta = {p.key: p.value for p in model.metadata_props}
    spec = json.loads(meta["aecv.spec"])
    stride = int(meta["aecv.stride"])
    assert stride == 2 ** len(spec["backbone"])
    (grid,) = s.run(["grid"], {"input": x})
    assert grid.shape == (7, 8, 32 // stride, 32 // stride)
    threshold = 0.001  # an untrained head: objectness ≈ 0.01 (the prior), class ≈ 1/3
    ours = d.predict(x, score_threshold=threshold, iou_threshold=1.0)
    for i in range(7):
        theirs = np.array(decode_grid(grid[i], spec, threshold), np.float32).reshape(-1, 6)
        assert len(theirs) == len(ours[i]) > 0
        assert np.max(np.abs(theirs - ours[i][np.argsort(-ours[i][:, 1], kind="stable")])) <= 1e-4


@needs_ort
@pytest.mark.parametrize("name", ["conv", "dense", "custom"])
def test_import_of_our_export_reproduces_the_model(name, tmp_path):
    with make(name) as m:
        m.export_onnx(tmp_path / "m.onnx")
        x = images(7, m.input_shape, seed=11)
        with aecv.Autoencoder.import_onnx(tmp_path / "m.onnx") as back:
            assert back.latent_size == m.latent_size
            assert np.max(np.abs(back.reconstruct(x) - m.reconstruct(x))) <= 1e-6


# Exports of the issue-14 layers that import back as the same layers. Dropout exports as
# nothing (import cannot see it), so the round trip compares after dropping it from the spec.
ROUND_TRIP = {name: NEW_LAYERS[name] for name in ("dropout_batch_norm", "pooling", "activations",
                                                  "upsample")}
ROUND_TRIP["nested_residual"] = custom(
    [{"type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
     {"type": "residual", "layers": [
         {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1}, {"type": "silu"},
         {"type": "residual", "layers": [{"type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
                                         {"type": "gelu"}]}]},
     {"type": "residual", "layers": [
         {"type": "conv2d", "out": 8, "kernel": 3, "stride": 2, "padding": 1},
         {"type": "batch_norm2d", "momentum": 0.25}, {"type": "relu"}]},
     {"type": "flatten"},
     {"type": "residual", "layers": [{"type": "dense", "out": 32}, {"type": "tanh"}]},
     {"type": "dense", "out": 10}],
    DENSE_OUT)


def without_dropout(layers):
    """The layer list as an import sees it: dropouts gone, residual bodies likewise, and every
    field written (batch norms come back affine, see ONNXImport)."""
    out = []
    for layer in layers:
        if layer["type"] in ("dropout", "dropout2d"):
            continue
        if layer["type"] == "residual":
            layer = dict(layer, layers=without_dropout(layer["layers"]))
        out.append(layer)
    return out


@needs_ort
@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_new_layers_import_back_as_the_same_layers(name, tmp_path):
    """Trained a little first (running statistics away from 0 and 1), exported, imported: the
    same layer types and fields in the spec, the same tensors, the same outputs; and the
    imported model trains."""
    with aecv.Autoencoder(spec=ROUND_TRIP[name]) as m:
        x = images(32, m.input_shape, seed=12)
        m.fit(x, epochs=1, batch_size=16, progress=False)
        m.export_onnx(tmp_path / "m.onnx")
        with aecv.Autoencoder.import_onnx(tmp_path / "m.onnx") as back:
            def affine(layers):
                return [dict(l, affine=True) if l["type"].startswith("batch_norm") else
                        dict(l, layers=affine(l["layers"])) if l["type"] == "residual" else l
                        for l in layers]
            for part in ("encoder", "decoder"):
                ours = affine(without_dropout(m.spec[part]))
                theirs = back.spec[part]
                assert [l["type"] for l in theirs] == [l["type"] for l in ours], part
                assert theirs == ours, part
            assert back.latent_size == m.latent_size
            y = images(7, m.input_shape, seed=13)
            assert np.max(np.abs(back.reconstruct(y) - m.reconstruct(y))) <= TOLERANCE
            before = back.reconstruct(y)
            back.fit(x, epochs=1, batch_size=16, progress=False)
            assert np.max(np.abs(back.reconstruct(y) - before)) > 1e-4


@needs_ort
def test_residual_of_only_dropout_is_refused_by_name(tmp_path):
    """Dropout exports as nothing, so such a block is Add(x, x): no body to import."""
    spec = custom(CONV_IN, [{"type": "dense", "out": 256}, {"type": "unflatten", "shape": [1, 16, 16]},
                            {"type": "residual", "layers": [{"type": "dropout2d", "p": 0.5}]},
                            {"type": "sigmoid"}])
    with aecv.Autoencoder(spec=spec) as m:
        m.export_onnx(tmp_path / "d.onnx")
    with pytest.raises(aecv.UnsupportedError, match="at least one layer"):
        aecv.Autoencoder.import_onnx(tmp_path / "d.onnx")


def test_unsupported_operator_is_named(tmp_path):
    with make("vae") as m:
        m.export_onnx(tmp_path / "vae.onnx")  # its encoder slices [mu | logvar]: no Slice layer
        with pytest.raises(aecv.UnsupportedError, match="Slice.*fc_mu"):
            aecv.Autoencoder.import_onnx(tmp_path / "vae.onnx")


def test_malformed_file_is_a_format_error(tmp_path):
    with make("dense") as m:
        m.export_onnx(tmp_path / "ok.onnx")
    blob = (tmp_path / "ok.onnx").read_bytes()
    for cut in (1, 17, len(blob) // 2, len(blob) - 3):
        (tmp_path / "bad.onnx").write_bytes(blob[:cut])
        with pytest.raises(aecv.FormatError):
            aecv.Autoencoder.import_onnx(tmp_path / "bad.onnx")


def test_failed_export_leaves_the_old_file(tmp_path):
    with make("dense") as m:
        target = tmp_path / "keep.onnx"
        target.write_bytes(b"old")
        with pytest.raises(ValueError):
            m.export_onnx(target, part="middle")
        assert target.read_bytes() == b"old"
        with pytest.raises(OSError):
            m.export_onnx(tmp_path / "missing-dir" / "x.onnx")


@pytest.mark.parametrize("name,shape", [("torch_conv_ae", (1, 16, 16)), ("torch_dense_ae", (1, 8, 8)),
                                        ("torch2_conv_ae", (1, 16, 16)),
                                        ("torch2_dense_ae", (1, 8, 8))])
def test_pytorch_export_imports_and_reproduces_pytorch(name, shape):
    """Fixtures from tools/make_onnx_fixtures.py (torch.onnx.export of torch 1.13 and 2.13); no
    torch needed here."""
    base = os.path.join(FIXTURES, name)
    x = np.fromfile(base + ".input.f32", "<f4").reshape((3,) + shape)
    expected = np.fromfile(base + ".expected.f32", "<f4")
    with aecv.Autoencoder.import_onnx(base + ".onnx") as m:
        assert m.spec["preset"] == "custom" and tuple(m.input_shape) == shape
        assert np.max(np.abs(m.reconstruct(x).reshape(-1) - expected)) <= 2e-5
        if HAVE_ORT:  # the fixture itself agrees with ONNX Runtime
            _, s = session(base + ".onnx")
            (out,) = s.run(None, {"input": x})
            assert np.max(np.abs(out.reshape(-1) - expected)) <= 2e-5


CONDITIONAL = {
    "cvae": dict(preset="cvae", input_shape=(1, 8, 8), hidden=[16], latent=3, classes=3, seed=10),
    "conv_vae_classes": dict(preset="conv_vae", input_shape=(2, 8, 8), hidden=[4, 8], latent=3,
                             classes=3, seed=11),
}


@needs_ort
@pytest.mark.parametrize("name", list(CONDITIONAL))
def test_conditional_export_reads_the_class_as_a_second_input(name, tmp_path):
    """A conditional model's graphs take "condition" (N, K) after "input" or "code". libaecv's
    own unlabeled calls use c = 0, so class k is checked through an equivalent model B that
    libaecv runs without a class:
    * a Linear reading [v; c] with c = e_k is the Linear of v with bias b + W[:, F + k]
      (fc1 and fc3 of the cvae, decoder_input of the conv_vae);
    * the conv_vae's first conv reads k's constant plane with k's filters; exported from a
      model A whose class-k filters equal those of image channel 0, conv([x; 1]) is conv of x
      with channel 0 shifted by 1, which libaecv computes at c = 0.
    ORT on A's export with e_k must match B on (shifted) x: reconstruct, encode, decode."""
    fields = dict(CONDITIONAL[name])
    preset, k, classes, batch = fields.pop("preset"), 2, fields["classes"], 5
    conv = preset == "conv_vae"
    with aecv.Autoencoder(preset, **fields) as m:
        features, latent, channels = m.input_size, m.latent_size, m.input_shape[0]
        m.export_safetensors(tmp_path / "original.safetensors")
        a, _ = read_safetensors(tmp_path / "original.safetensors")
        a = {n: v.copy() for n, v in a.items()}
        x = images(batch, m.input_shape, seed=3)
        shifted = x.copy()
        if conv:
            a["encoder.0.weight"][:, channels + k] = a["encoder.0.weight"][:, 0]
            shifted[:, 0] += 1
        write_safetensors(tmp_path / "a.safetensors", list(a.items()))
        m.import_safetensors(tmp_path / "a.safetensors")
        sessions = {}
        for part in ("autoencoder", "encoder", "decoder"):
            m.export_onnx(tmp_path / f"{part}.onnx", part=part)
            model, sessions[part] = session(tmp_path / f"{part}.onnx")
            first = "code" if part == "decoder" else "input"
            assert [i.name for i in model.graph.input] == [first, "condition"]
            dims = model.graph.input[1].type.tensor_type.shape.dim
            assert dims[0].dim_param == "batch" and dims[1].dim_value == classes
        b = dict(a)
        linears = ["decoder_input"] if conv else ["fc3"]
        widths = {"decoder_input": latent, "fc3": latent, "fc1": features}
        if not conv:
            linears.append("fc1")
        for layer in linears:
            b[layer + ".bias"] = a[layer + ".bias"] + a[layer + ".weight"][:, widths[layer] + k]
        write_safetensors(tmp_path / "b.safetensors", list(b.items()))
        m.import_safetensors(tmp_path / "b.safetensors")

        onehot = np.zeros((batch, classes), np.float32)
        onehot[:, k] = 1
        (out,) = sessions["autoencoder"].run(["reconstruction"], {"input": x, "condition": onehot})
        assert_close(m.reconstruct(shifted), out, f"{name} reconstruct, class {k}")
        mu, logvar = sessions["encoder"].run(["mu", "logvar"], {"input": x, "condition": onehot})
        assert_close(m.transform(shifted), mu, f"{name} encode, class {k}")
        z = np.random.default_rng(4).standard_normal((batch, latent)).astype(np.float32)
        (out,) = sessions["decoder"].run(["reconstruction"], {"code": z, "condition": onehot})
        assert_close(m.inverse_transform(z), out, f"{name} decode, class {k}")
        # and the class matters: another class decodes differently
        other = np.roll(onehot, 1, axis=1)
        (elsewhere,) = sessions["decoder"].run(["reconstruction"], {"code": z, "condition": other})
        assert float(np.max(np.abs(elsewhere - out))) > 1e-3


def test_conditional_export_does_not_import_and_says_why(tmp_path):
    with aecv.Autoencoder("cvae", input_shape=(1, 4, 4), hidden=[8], latent=2, classes=2) as m:
        m.export_onnx(tmp_path / "cvae.onnx")
    with pytest.raises(aecv.UnsupportedError, match=r"found 2 \(input, condition\).*model file"):
        aecv.Autoencoder.import_onnx(tmp_path / "cvae.onnx")
