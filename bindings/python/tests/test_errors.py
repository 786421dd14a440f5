"""One exception class per status code, raised with the library's message."""

import ctypes
import pickle

import numpy as np
import pytest

import aecv
from aecv import _ffi, errors

from conftest import images

# status -> (class, extra built-in base)
EXPECTED = {
    1: (aecv.InvalidArgumentError, ValueError),
    2: (aecv.ShapeError, ValueError),
    3: (aecv.ConfigError, ValueError),
    4: (aecv.NonFiniteError, FloatingPointError),
    5: (aecv.FileIOError, OSError),
    6: (aecv.FormatError, None),
    7: (aecv.NoMemoryError, MemoryError),
    8: (aecv.UnsupportedError, None),
    100: (aecv.InternalError, None),
}


def test_the_status_map_covers_every_code():
    assert set(EXPECTED) == set(errors.STATUS_NAMES) - {0}
    for status, (cls, builtin) in EXPECTED.items():
        assert errors.error_class(status) is cls
        assert issubclass(cls, aecv.AECVError)
        if builtin is not None:
            assert issubclass(cls, builtin)
        exc = cls("some message", status)
        assert exc.status == status and exc.message == "some message"
        assert str(exc) == "some message"
        # the binding's names agree with the library's aecv_status_name
        assert exc.status_name == errors.STATUS_NAMES[status] == _ffi.status_name(status)
        again = pickle.loads(pickle.dumps(exc))
        assert type(again) is cls and again.status == status and again.message == "some message"
    assert errors.error_class(42) is aecv.AECVError  # a code added by a newer library
    assert aecv.AECVError("x", 42).status_name == "AECV_STATUS_42"
    assert aecv.FileIOError("x").status == 5  # the class's own code by default


def test_check_raises_with_the_library_message():
    status = _ffi.lib.aecv_set_num_threads(-3)
    assert status == 1
    with pytest.raises(aecv.InvalidArgumentError) as info:
        _ffi.check(status)
    assert info.value.message and info.value.message == _ffi.last_error()


def _assert_from_library(exc_info, cls, status):
    exc = exc_info.value
    assert type(exc) is cls
    assert exc.status == status
    assert exc.message  # the library always says what was wrong


# ---- real failures, one per code the library can be made to return -----------------------------

def test_invalid_argument():
    with pytest.raises(aecv.InvalidArgumentError) as info:
        aecv.set_num_threads(0)
    _assert_from_library(info, aecv.InvalidArgumentError, 1)
    with aecv.Autoencoder("dense", input_shape=(1, 4, 4), latent=2) as m:
        with pytest.raises(aecv.InvalidArgumentError) as info:
            m.train_step(np.zeros((0, 16), np.float32))  # batch 0, refused by the library
        _assert_from_library(info, aecv.InvalidArgumentError, 1)


def test_shape_from_the_library(conv):
    # The binding never passes a short buffer; call the C function directly to see the library's
    # own check (capacity too small) map to ShapeError.
    X = images(2).reshape(2, 784)
    out = np.empty((1, 1024), np.float32)
    with pytest.raises(aecv.ShapeError) as info:
        conv._call(_ffi.lib.aecv_model_encode, X, 2, out, out.size)
    _assert_from_library(info, aecv.ShapeError, 2)
    assert "1024" in info.value.message  # names the capacity it needed or got


@pytest.mark.parametrize("spec", ['{"preset": "conv", "input": [1, 28, 28]',  # bad JSON
                                  'not json at all', '[]', '{"preset": "conv"}'])
def test_config_bad_spec_text(spec):
    with pytest.raises(aecv.ConfigError) as info:
        aecv.Autoencoder(spec=spec)
    _assert_from_library(info, aecv.ConfigError, 3)


def test_config_unknown_preset_and_field():
    with pytest.raises(aecv.ConfigError) as info:
        aecv.Autoencoder("no_such_preset")
    _assert_from_library(info, aecv.ConfigError, 3)
    with pytest.raises(ValueError):
        aecv.Autoencoder("no_such_preset")
    with pytest.raises(aecv.ConfigError, match="bogus") as info:
        aecv.Autoencoder("conv", bogus=1)
    _assert_from_library(info, aecv.ConfigError, 3)
    with pytest.raises(aecv.ConfigError) as info:
        aecv.Autoencoder("conv", input_shape=(0, 28, 28))
    _assert_from_library(info, aecv.ConfigError, 3)


@pytest.mark.parametrize("where", ["inputs", "targets"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite(conv, where, value):
    X = images(4)
    bad = X.copy()
    bad[2, 0, 5, 7] = value
    args = (bad, None) if where == "inputs" else (X, bad)
    with pytest.raises(aecv.NonFiniteError) as info:
        conv.train_step(*args)
    _assert_from_library(info, aecv.NonFiniteError, 4)
    assert isinstance(info.value, FloatingPointError)
    with pytest.raises(aecv.NonFiniteError):
        conv.evaluate(*args)
    if where == "inputs":
        with pytest.raises(aecv.NonFiniteError):
            conv.transform(bad)
        with pytest.raises(aecv.NonFiniteError):
            conv.reconstruct(bad)


def test_io_missing_file(tmp_path):
    missing = tmp_path / "does-not-exist.aecv"
    with pytest.raises(aecv.FileIOError) as info:
        aecv.Autoencoder.load(missing)
    _assert_from_library(info, aecv.FileIOError, 5)
    assert isinstance(info.value, OSError)
    assert info.value.filename == str(missing)
    assert str(info.value) == info.value.message  # not "[Errno None] None: ..."
    with pytest.raises(OSError):
        aecv.Autoencoder.load(str(missing))


def test_io_unwritable_path(conv, tmp_path):
    target = tmp_path / "no-such-dir" / "m.aecv"
    with pytest.raises(aecv.FileIOError) as info:
        conv.save(target)
    _assert_from_library(info, aecv.FileIOError, 5)
    assert info.value.filename == str(target)
    assert not target.parent.exists()


def test_paths_and_spec_text_with_a_null_byte(conv, tmp_path):
    with pytest.raises(aecv.InvalidArgumentError):
        conv.save(str(tmp_path / "a\0b"))
    assert not (tmp_path / "a").exists()
    with pytest.raises(aecv.InvalidArgumentError):
        aecv.Autoencoder.load(str(tmp_path / "a\0b"))
    with pytest.raises(aecv.ConfigError):
        aecv.Autoencoder(spec='{"preset": "conv", "input": [1, 28, 28]}\0garbage')


def test_format_corrupt_truncated_and_foreign_files(conv, tmp_path):
    good = tmp_path / "good.aecv"
    conv.save(good)
    data = good.read_bytes()
    cases = {
        "flipped byte": data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF])
        + data[len(data) // 2 + 1:],
        "truncated": data[:len(data) - 10],
        "header only": data[:16],
        "empty": b"",
        "foreign": b"\x89PNG\r\n\x1a\n" + bytes(100),
    }
    for name, content in cases.items():
        path = tmp_path / f"{name}.aecv"
        path.write_bytes(content)
        with pytest.raises(aecv.FormatError) as info:
            aecv.Autoencoder.load(path)
        _assert_from_library(info, aecv.FormatError, 6)
    aecv.Autoencoder.load(good).close()  # the original is fine


def test_no_memory_absurd_batch(dense):
    # The contract: batch * input_size > 2^31 floats is AECV_ERR_NO_MEMORY, refused before the
    # buffer is read. The binding never does this (its buffers always match); call C directly.
    X = np.zeros((1, 64), np.float32)
    with pytest.raises(aecv.NoMemoryError) as info:
        dense._call(_ffi.lib.aecv_model_evaluate, X, None, 2**40, ctypes.byref(ctypes.c_float()))
    _assert_from_library(info, aecv.NoMemoryError, 7)
    assert isinstance(info.value, MemoryError)


def test_unsupported_sample_on_conv(conv):
    with pytest.raises(aecv.UnsupportedError) as info:
        conv.sample(2)
    _assert_from_library(info, aecv.UnsupportedError, 8)
