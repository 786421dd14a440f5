#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (fuzz/corpus/<target>/), small valid inputs:

  model_file/   model files of tiny models of every kind (a few hundred bytes to ~10 KB)
  safetensors/  the tiny custom model's weights (the model the harness imports into) in F32,
                F64, F16 and BF16, plus a file of another architecture
  spec/         specs of every preset and the custom layers (tiny inputs)

Run from the repository root after `make lib`:
    AECV_LIBRARY=build/lib/libaecv.so.0.1.0 PYTHONPATH=bindings/python python3 fuzz/make_corpus.py
The output is deterministic (fixed seeds), so re-running it changes nothing.
"""

import json
import os
import struct
import sys
import tempfile

import numpy as np

import aecv

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

TINY = {"preset": "custom", "input": [1, 2, 2],
        "encoder": [{"type": "flatten"}, {"type": "dense", "out": 2}, {"type": "relu"}],
        "decoder": [{"type": "dense", "out": 4}, {"type": "sigmoid"},
                    {"type": "unflatten", "shape": [1, 2, 2]}]}

SPECS = {
    "tiny_custom": TINY,
    "conv": {"preset": "conv", "input": [1, 4, 4], "hidden": [2, 3]},
    "dense": {"preset": "dense", "input": [1, 3, 3], "hidden": [4], "latent": 2, "seed": 7},
    "sparse_l1": {"preset": "sparse", "input": [1, 3, 3], "hidden": [3], "latent": 2,
                  "sparsity": {"l1": 0.001, "reduction": "sum"}},
    "sparse_kl": {"preset": "sparse", "input": [1, 3, 3], "hidden": [3], "latent": 2,
                  "sparsity": {"kl": {"rho": 0.05, "beta": 3}}},
    "denoising": {"preset": "denoising", "input": [1, 4, 4], "hidden": [2],
                  "noise": {"masking": 0.25}},
    "denoising_dense": {"preset": "denoising", "base": "dense", "input": [1, 3, 3],
                        "hidden": [3], "latent": 2, "noise": {"salt_pepper": 0.1}},
    "vae": {"preset": "vae", "input": [1, 3, 3], "hidden": [4], "latent": 2, "beta": 0.5},
    "vae_deep": {"preset": "vae", "input": [1, 3, 3], "hidden": [4, 3], "latent": 2},
    "conv_vae": {"preset": "conv_vae", "input": [2, 4, 4], "hidden": [2], "latent": 2,
                 "loss": "mse"},
    "sgd": {"preset": "dense", "input": [1, 2, 2], "hidden": 3, "latent": 1,
            "optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9,
                          "weight_decay": 0.0001}},
    "custom_conv": {"preset": "custom", "input": [1, 5, 5], "loss": "mse",
                    "encoder": [{"type": "conv2d", "out": 2, "kernel": 3, "stride": 2,
                                 "padding": 1}, {"type": "leaky_relu", "slope": 0.1}],
                    "decoder": [{"type": "conv_transpose2d", "out": 1, "kernel": 3, "stride": 2,
                                 "padding": 1, "output_padding": 0}, {"type": "tanh"}]},
}


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def safetensors(tensors, dtype):
    """tensors: [(name, float32 array)] -> bytes, every tensor stored as dtype."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, a in tensors:
        if dtype == "F32":
            data = a.astype("<f4").tobytes()
        elif dtype == "F64":
            data = a.astype("<f8").tobytes()
        elif dtype == "F16":
            data = a.astype("<f2").tobytes()
        else:  # BF16: the high half of the float32 bits
            data = (a.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def read_f32(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    return [(k, np.frombuffer(blob[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                              dtype="<f4").reshape(v["shape"])) for k, v in header.items()]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in SPECS.items():
            text = json.dumps(spec, separators=(",", ":"))
            write("spec", name + ".json", text.encode())
            with aecv.Autoencoder(spec=spec) as m:
                X = np.random.default_rng(0).random((2,) + m.input_shape, dtype=np.float32)
                m.train_step(X)
                path = os.path.join(tmp, name + ".aecv")
                m.save(path)
                write("model_file", name + ".aecv", open(path, "rb").read())
                st = os.path.join(tmp, name + ".safetensors")
                m.export_safetensors(st)
                if name == "tiny_custom":
                    tensors = read_f32(st)
                    for dtype in ("F32", "F64", "F16", "BF16"):
                        write("safetensors", f"tiny_{dtype.lower()}.safetensors",
                              safetensors(tensors, dtype))
                    write("safetensors", "tiny_exported.safetensors", open(st, "rb").read())
                elif name == "dense":
                    write("safetensors", "dense_other_model.safetensors", open(st, "rb").read())
    print(f"wrote the seed corpus under {CORPUS}")


if __name__ == "__main__":
    sys.exit(main())
