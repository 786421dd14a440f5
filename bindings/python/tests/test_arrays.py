"""Inputs: dtypes, memory layouts and shapes. Every accepted form must give exactly the answer of
the C-contiguous float32 array with the same values."""

import numpy as np
import pytest

import aecv
from aecv._arrays import as_float32

from conftest import images


def _forms(X):
    """(name, array) pairs holding the same values as the float32 (n, 1, 28, 28) array X."""
    n = X.shape[0]
    big = np.zeros((2 * n, 1, 56, 56), np.float32)
    big[::2, :, ::2, ::2] = X
    reversed_copy = X[::-1].copy()
    return [
        ("float64", X.astype(np.float64)),
        ("longdouble", X.astype(np.longdouble)),
        ("fortran", np.asfortranarray(X)),
        ("fortran float64", np.asfortranarray(X.astype(np.float64))),
        ("strided view", big[::2, :, ::2, ::2]),
        ("negative strides", reversed_copy[::-1]),
        ("big-endian", X.astype(">f4")),
        ("(n, H, W)", X[:, 0]),
        ("(n, H, W) strided", big[::2, 0, ::2, ::2]),
        ("(n, C*H*W)", X.reshape(n, 784)),
        ("(n, C*H*W) fortran", np.asfortranarray(X.reshape(n, 784))),
        ("list", X.tolist()),
    ]


def _outputs(model, X):
    return {
        "transform": model.transform(X),
        "reconstruct": model.reconstruct(X).reshape(len(X), -1),
        "evaluate": model.evaluate(X),
    }


def test_every_layout_and_float_dtype_gives_the_same_answer(conv):
    X = images(6)
    expected = _outputs(conv, X)
    for name, form in _forms(X):
        got = _outputs(conv, form)
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=f"{name}: {key}")


def test_training_is_identical_for_every_form():
    X = images(6)
    with aecv.Autoencoder("conv", seed=1) as reference:
        expected_loss = reference.train_step(X)
        expected = reference.reconstruct(X)
    for name, form in _forms(X):
        with aecv.Autoencoder("conv", seed=1) as m:
            assert m.train_step(form) == expected_loss, name
            np.testing.assert_array_equal(m.reconstruct(X), expected, err_msg=name)


def test_float16_is_converted_exactly(conv):
    X = images(3).astype(np.float16)
    np.testing.assert_array_equal(conv.transform(X), conv.transform(X.astype(np.float32)))


def test_uint8_is_scaled_by_1_over_255(conv):
    U = np.random.default_rng(0).integers(0, 256, (5, 1, 28, 28), dtype=np.uint8)
    F = U.astype(np.float32) / 255
    np.testing.assert_array_equal(conv.transform(U), conv.transform(F))
    np.testing.assert_array_equal(conv.reconstruct(U[:, 0]), conv.reconstruct(F[:, 0]))
    np.testing.assert_array_equal(conv.reconstruct(np.asfortranarray(U)), conv.reconstruct(F))
    assert conv.evaluate(U) == conv.evaluate(F)
    before = conv.evaluate(F)
    assert conv.train_step(U) == pytest.approx(before, rel=1e-6)
    assert as_float32(U).max() <= 1.0


def test_outputs_keep_the_input_layout(conv):
    X = images(4)
    assert conv.reconstruct(X).shape == (4, 1, 28, 28)
    assert conv.reconstruct(X[:, 0]).shape == (4, 28, 28)
    assert conv.reconstruct(X.reshape(4, -1)).shape == (4, 784)
    assert conv.transform(X[:, 0]).shape == (4, 1024)
    assert conv.inverse_transform(conv.transform(X)).shape == (4, 1, 28, 28)


def test_multichannel_layouts():
    with aecv.Autoencoder("dense", input_shape=(3, 4, 5), latent=6, hidden=[8]) as m:
        with pytest.raises(aecv.ShapeError, match=r"transpose\(0, 3, 1, 2\)"):
            m.transform(np.zeros((2, 4, 5, 3), np.float32))  # channels-last
        X = images(2, (3, 4, 5))
        assert m.reconstruct(X).shape == (2, 3, 4, 5)
        np.testing.assert_array_equal(m.reconstruct(X.reshape(2, 60)),
                                      m.reconstruct(X).reshape(2, 60))
        with pytest.raises(aecv.ShapeError, match=r"\(n, 3, 4, 5\) or \(n, 60\)"):
            m.reconstruct(X[:, 0])  # (n, H, W) is only for one-channel models


def test_inputs_are_not_modified(conv):
    X = images(4)
    copy = X.copy()
    conv.train_step(X)
    conv.fit(X, epochs=1, batch_size=2, progress=False)
    conv.reconstruct(X)
    np.testing.assert_array_equal(X, copy)


def test_float32_c_contiguous_passes_through_without_a_copy():
    X = images(3)
    assert as_float32(X) is X
    assert np.shares_memory(as_float32(X[1:]), X)
    assert as_float32(X.astype(np.float64)) is not X
    Y = as_float32(np.asfortranarray(X))
    assert Y.flags.c_contiguous and Y.dtype == np.float32 and Y.flags.aligned
    raw = np.zeros(3 * 784 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(3, 784)  # misaligned
    assert not raw.flags.aligned
    assert as_float32(raw).flags.aligned


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint16, np.int8, bool,
                                   np.complex64])
def test_ambiguous_dtypes_are_refused(conv, dtype):
    with pytest.raises(TypeError, match="X"):
        conv.transform(np.zeros((2, 1, 28, 28), dtype))


def test_codes_must_be_floating(conv):
    with pytest.raises(TypeError):
        conv.inverse_transform(np.zeros((2, 1024), np.uint8))


@pytest.mark.parametrize("shape", [(2, 3, 28, 28), (2, 1, 28, 27), (2, 28, 27), (2, 783),
                                   (2, 1, 1, 28, 28), (784,), ()])
def test_wrong_shapes_raise_shape_error_naming_both_shapes(conv, shape):
    X = np.zeros(shape, np.float32)
    for call in (conv.transform, conv.reconstruct, conv.train_step, conv.evaluate,
                 lambda X: conv.fit(X, progress=False)):
        with pytest.raises(aecv.ShapeError) as info:
            call(X)
        assert isinstance(info.value, ValueError)
        message = str(info.value)
        assert "(n, 1, 28, 28)" in message and "(n, 28, 28)" in message and "(n, 784)" in message
        assert str(shape) in message
        assert info.value.status == 2


def test_single_example_without_batch_axis_gets_a_hint(conv):
    for X in (np.zeros((1, 28, 28)), np.zeros((28, 28)), np.zeros(784)):
        if X.shape == (1, 28, 28):
            assert conv.transform(X).shape == (1, 1024)  # (n, H, W) with n == 1
            continue
        with pytest.raises(aecv.ShapeError, match=r"X\[None\]"):
            conv.transform(X)
    assert conv.transform(np.zeros(784)[None]).shape == (1, 1024)


def test_wrong_code_and_target_shapes(conv):
    with pytest.raises(aecv.ShapeError, match=r"\(n, 1024\).*\(3, 1023\)"):
        conv.inverse_transform(np.zeros((3, 1023)))
    with pytest.raises(aecv.ShapeError, match=r"Z\[None\]"):
        conv.inverse_transform(np.zeros(1024))
    with pytest.raises(aecv.ShapeError, match="targets"):
        conv.train_step(images(4), targets=images(3))
    with pytest.raises(aecv.ShapeError, match="targets"):
        conv.evaluate(images(4), targets=np.zeros((4, 2)))


def test_oversized_array_is_refused_before_any_copy():
    """A broadcast view of 8.6e9 float64 values (69 GB if copied) is refused by size, with
    NoMemoryError (AECV_ERR_NO_MEMORY), before the float32 copy that would exhaust memory."""
    from aecv._arrays import MAX_BUFFER_FLOATS, check_buffer_size
    rows = MAX_BUFFER_FLOATS // 784 + 1
    X = np.broadcast_to(np.float64(0.5), (rows, 1, 28, 28))
    with pytest.raises(aecv.NoMemoryError) as info:
        as_float32(X, "X")
    assert info.value.status == 7 and "X:" in str(info.value) and "floats" in str(info.value)
    check_buffer_size(MAX_BUFFER_FLOATS, "X")  # the largest accepted size passes
    with aecv.Autoencoder("dense", seed=1) as m:
        with pytest.raises(aecv.NoMemoryError):
            m.train_step(X)
