"""Conversion and shape checks of the arrays that cross into the library.

The library takes float32, NCHW, C-contiguous buffers. The rules, checked in Python before any
library call:

* dtype: any floating dtype (float16/32/64, longdouble, either byte order) is converted to
  float32 (rounding to nearest, as ``astype(np.float32)``). ``uint8`` images are scaled by 1/255
  into [0, 1] (computed in float32: ``X.astype(np.float32) / 255``). Every other dtype
  (other integers, bool, complex, object) raises TypeError: their scale is ambiguous (is a
  uint16 image in [0, 65535] or [0, 4095]? is an int64 array 0/1 masks?), so the caller states
  it, e.g. ``X.astype(np.float32) / 65535``.
* layout: any memory layout (strided views, Fortran order, negative strides) gives the same
  answer as ``np.ascontiguousarray(X, dtype=np.float32)``; an array that is already
  C-contiguous, aligned, native float32 is passed through without a copy.
* shape: images of a model with input (C, H, W) may be (n, C, H, W), (n, H, W) when C == 1,
  or (n, C*H*W); outputs keep the layout of the input. There is always a batch axis: a single
  example is ``X[None]`` (as in scikit-learn, a missing batch axis is an error, not a guess).
  Codes are (n, latent_size).
"""

from __future__ import annotations

import numpy as np

from .errors import NoMemoryError, ShapeError

__all__ = ["as_float32", "check_buffer_size", "check_float_dtype", "image_layout", "check_codes"]

_F32 = np.dtype(np.float32)


def check_float_dtype(X: np.ndarray, name: str, allow_uint8: bool) -> None:
    kind = X.dtype.kind
    if kind == "f" or (allow_uint8 and X.dtype == np.uint8):
        return
    if kind in "iu":
        hint = ("only uint8 images are scaled (by 1/255); " if allow_uint8 else "") + (
            f"convert {X.dtype} explicitly, e.g. {name}.astype(np.float32) / <max value>")
        raise TypeError(f"{name}: integer dtype {X.dtype} is ambiguous: {hint}")
    raise TypeError(f"{name}: dtype {X.dtype} is not supported; use a floating dtype"
                    + (" or uint8" if allow_uint8 else ""))


#: The largest buffer the C API accepts in one call, in floats (its BatchCheck.maxFloats,
#: 8 GiB of float32). Larger arrays are refused here, BEFORE the float32 copy that would
#: otherwise be made (a 9.4 GB copy once preceded the C API's refusal).
MAX_BUFFER_FLOATS = (2**31 - 1) * 4


def check_buffer_size(count: int, name: str) -> None:
    """Raises NoMemoryError (AECV_ERR_NO_MEMORY) when `count` floats exceed what one C call
    accepts; nothing is allocated."""
    if count > MAX_BUFFER_FLOATS:
        raise NoMemoryError(f"{name}: {count} floats ({count * 4} bytes) is more than one call "
                            f"accepts ({MAX_BUFFER_FLOATS} floats); pass fewer examples per call")


def as_float32(X: np.ndarray, name: str = "X") -> np.ndarray:
    """C-contiguous, aligned, native float32 copy of X (X itself when it already is one).
    uint8 is scaled by 1/255; the dtype must have passed check_float_dtype. Before a copy the
    size is checked (check_buffer_size); an array passed as is meets the C API's own check."""
    flags = X.flags
    if X.dtype == _F32 and flags.c_contiguous and flags.aligned:
        return X  # already what C takes (the common case: no copy, no size check needed)
    check_buffer_size(int(X.size), name)
    if X.dtype == np.uint8:
        scaled: np.ndarray = np.divide(X, np.float32(255), dtype=np.float32, order="C")
        return scaled
    out = np.ascontiguousarray(X, dtype=_F32)
    if not out.flags.aligned:  # e.g. np.frombuffer at an odd offset
        out = out.copy()
    return out


def _describe_expected(shape: tuple[int, int, int]) -> str:
    C, H, W = shape
    forms = [f"(n, {C}, {H}, {W})"]
    if C == 1:
        forms.append(f"(n, {H}, {W})")
    forms.append(f"(n, {C * H * W})")
    return " or ".join(forms)


def image_layout(X: np.ndarray, input_shape: tuple[int, int, int], name: str) -> tuple[int, ...]:
    """Checks that X holds images for a model with input (C, H, W); returns the shape of one
    example in X's layout ((C, H, W), (H, W) or (C*H*W,)), which outputs reuse."""
    C, H, W = input_shape
    shape = X.shape
    if X.ndim == 4 and shape[1:] == (C, H, W):
        return shape[1:]
    if X.ndim == 3 and C == 1 and shape[1:] == (H, W):
        return shape[1:]
    if X.ndim == 2 and shape[1] == C * H * W:
        return shape[1:]
    single = shape in ((C, H, W), (C * H * W,)) or (C == 1 and shape == (H, W))
    hint = "; for a single example add a batch axis: X[None]" if single else ""
    if X.ndim == 4 and shape[1:] == (H, W, C) and C > 1:
        hint = f"; channels-last (NHWC) images need {name}.transpose(0, 3, 1, 2)"
    raise ShapeError(f"{name}: expected shape {_describe_expected(input_shape)} for a model "
                     f"with input shape ({C}, {H}, {W}), got {shape}{hint}")


def check_codes(Z: np.ndarray, latent_size: int, name: str) -> None:
    if Z.ndim == 2 and Z.shape[1] == latent_size:
        return
    hint = "; for a single code add a batch axis: Z[None]" if Z.shape == (latent_size,) else ""
    raise ShapeError(f"{name}: expected shape (n, {latent_size}) (latent size {latent_size}), "
                     f"got {Z.shape}{hint}")
