"""Test setup: which aecv package and library the tests use, and shared helpers.

* With AECV_LIBRARY set (the Makefile's test target points it at build/lib/libaecv.so.0), the
  tests run the package in this source tree (bindings/python/aecv) against that library.
* Without it, they import the installed package (e.g. in a venv after `pip install
  ./bindings/python`, with its bundled library), falling back to this source tree.
"""

import json
import os
import struct
import sys

import numpy as np
import pytest

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _import_aecv():
    if os.environ.get("AECV_LIBRARY"):
        sys.path.insert(0, SOURCE_DIR)
    try:
        import aecv  # noqa: F401
    except ImportError:
        if SOURCE_DIR in sys.path:
            raise
        for name in [n for n in sys.modules if n == "aecv" or n.startswith("aecv.")]:
            del sys.modules[name]
        sys.path.insert(0, SOURCE_DIR)
        import aecv  # noqa: F401


_import_aecv()

import aecv  # noqa: E402

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def pytest_report_header(config):
    return (f"aecv {aecv.__version__} from {os.path.dirname(aecv.__file__)}; "
            f"libaecv {aecv.library_version()} from {aecv.library_path()}")


def images(n, shape=(1, 28, 28), seed=0):
    """n random images in [0, 1), float32, (n, *shape)."""
    return np.random.default_rng(seed).random((n,) + tuple(shape), dtype=np.float32)


def small_dense(seed=0, **fields):
    """A tiny dense model (1x8x8 -> 16 -> 4): fast enough for many steps in a test."""
    fields.setdefault("latent", 4)
    fields.setdefault("hidden", [16])
    return aecv.Autoencoder("dense", input_shape=(1, 8, 8), seed=seed, **fields)


def saved_bytes(model, tmp_path, name="m.aecv"):
    path = tmp_path / name
    model.save(path)
    return path.read_bytes()


@pytest.fixture
def conv():
    with aecv.Autoencoder("conv", input_shape=(1, 28, 28), seed=0) as m:
        yield m


@pytest.fixture
def dense():
    with small_dense() as m:
        yield m


def read_safetensors(path):
    """{name: float32 array}, metadata: a minimal reader for the tests."""
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        assert info["dtype"] == "F32"
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(info["shape"])
    return out, meta
