"""The one place where aecv touches the C library: finding and loading libaecv.so, checking its
version, and declaring every C function once with its argument and result types.

Lookup order (the first library that loads and has the right major version wins):

1. ``AECV_LIBRARY``: a path to the library file. When it is set, it is the ONLY place tried: an
   explicit choice that fails must not silently fall back to another copy.
2. The copy bundled in the package by ``pip install`` (``aecv/_lib/libaecv.so.0``).
3. The system's: ``libaecv.so.0`` through the dynamic loader's search (LD_LIBRARY_PATH,
   ld.so.cache, e.g. after ``make install PREFIX=/usr/local``), then
   ``ctypes.util.find_library("aecv")``.

If none works, ImportError lists every place tried and why it failed.

Threads and the GIL: functions of a ``ctypes.CDLL`` (unlike ``ctypes.PyDLL``) release the GIL
for the duration of the foreign call (CPython's ``_ctypes_callproc`` wraps it in
``Py_BEGIN_ALLOW_THREADS``), so a training step of one model runs in parallel with Python code
and with library calls on other models in other threads. The library serializes calls on one
model itself; see ``_model.py`` for the Python-side lock that keeps ``close()`` safe.

To add a C function (e.g. for ``aecv.Classifier`` or ``export_safetensors``), add one row to
``_FUNCTIONS``; rows with ``required=False`` are bound only if the loaded library has the
symbol (``has("aecv_...")`` tells), so a binding can run on an older library that lacks them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union
from ctypes import (POINTER, c_char_p, c_double, c_float, c_int32, c_size_t, c_uint32, c_uint64,
                    c_void_p)

import numpy as np

from . import errors
from ._version import LIBRARY_MAJOR, __version__

__all__ = ["lib", "library_path", "has", "check", "F32", "F32Out", "I32"]

_SONAME = "libaecv.so.0"
_BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_lib", _SONAME)


class _Float32Array:
    """argtype for ``const float *``: a C-contiguous, aligned float32 ndarray, or None (NULL).

    Refusing anything else here is a last line of defence: the wrappers convert arrays first
    (see _arrays.py), so a wrong array reaching this point is a bug in aecv, not a user error."""

    writeable = False

    @classmethod
    def from_param(cls, obj: object) -> c_void_p | None:
        if obj is None:
            return None
        if not isinstance(obj, np.ndarray):
            raise TypeError(f"expected a numpy array, got {type(obj).__name__}")
        if obj.dtype != np.float32 or not obj.flags.c_contiguous or not obj.flags.aligned:
            raise TypeError(f"expected a C-contiguous aligned float32 array, got {obj.dtype} "
                            f"with flags {obj.flags!r}")
        if cls.writeable and not obj.flags.writeable:
            raise TypeError("expected a writeable array")
        return c_void_p(obj.ctypes.data)


class F32(_Float32Array):
    """``const float *`` argument."""


class F32Out(_Float32Array):
    """``float *`` output argument: also must be writeable."""

    writeable = True


class I32:
    """``const int32_t *`` argument: a C-contiguous, aligned int32 ndarray, or None (NULL)."""

    @classmethod
    def from_param(cls, obj: object) -> c_void_p | None:
        if obj is None:
            return None
        if not isinstance(obj, np.ndarray) or obj.dtype != np.int32 \
                or not obj.flags.c_contiguous or not obj.flags.aligned:
            raise TypeError(f"expected a C-contiguous aligned int32 array, got {obj!r:.60}")
        return c_void_p(obj.ctypes.data)


_status = c_int32
_model = c_void_p  # aecv_model * (opaque handle)
_classifier = c_void_p  # aecv_classifier * (opaque handle)

#: A C argument type as ctypes takes it: a simple C type, a pointer type, or one of the array
#: converters above.
_ArgType = Union["Type[ctypes._SimpleCData[Any]]", "Type[ctypes._Pointer[Any]]",
                 "Type[_Float32Array]", "Type[I32]"]
#: A C result type: a simple C type, or None for void.
_ResType = Optional["Type[ctypes._SimpleCData[Any]]"]
#: One row of _FUNCTIONS: (restype, argtypes, required).
_Signature = Tuple[_ResType, List[_ArgType], bool]

# name: (restype, argtypes, required). The C contract is include/aecv.h.
_FUNCTIONS: Dict[str, _Signature] = {
    "aecv_version_number": (c_uint32, [], True),
    "aecv_version_string": (c_char_p, [], True),
    "aecv_status_name": (c_char_p, [_status], True),
    "aecv_last_error": (c_char_p, [], True),
    "aecv_set_num_threads": (_status, [c_int32], True),
    "aecv_model_create": (_status, [c_char_p, POINTER(c_void_p)], True),
    "aecv_model_free": (None, [_model], True),
    "aecv_model_input_size": (c_size_t, [_model], True),
    "aecv_model_latent_size": (c_size_t, [_model], True),
    "aecv_model_parameter_count": (c_size_t, [_model], True),
    "aecv_model_spec": (c_size_t, [_model, c_char_p, c_size_t], True),
    "aecv_model_train_step": (_status, [_model, F32, F32, c_size_t, POINTER(c_float)], True),
    "aecv_model_set_learning_rate": (_status, [_model, c_float], True),
    "aecv_model_evaluate": (_status, [_model, F32, F32, c_size_t, POINTER(c_float)], True),
    "aecv_model_encode": (_status, [_model, F32, c_size_t, F32Out, c_size_t], True),
    "aecv_model_decode": (_status, [_model, F32, c_size_t, F32Out, c_size_t], True),
    "aecv_model_reconstruct": (_status, [_model, F32, c_size_t, F32Out, c_size_t], True),
    "aecv_model_sample": (_status, [_model, c_size_t, c_uint64, F32Out, c_size_t], True),
    "aecv_model_save": (_status, [_model, c_char_p], True),
    "aecv_model_load": (_status, [c_char_p, POINTER(c_void_p)], True),
    "aecv_model_code_sparsity": (_status, [_model, F32, c_size_t, c_float, POINTER(c_float)],
                                 False),
    "aecv_model_interpolate": (_status, [_model, F32, F32, c_size_t, F32Out, c_size_t], False),
    "aecv_model_train_step_labeled": (_status, [_model, F32, I32, c_size_t, POINTER(c_float)],
                                      False),
    "aecv_model_sample_class": (_status, [_model, c_int32, c_size_t, c_uint64, F32Out, c_size_t],
                                False),
    "aecv_model_export_safetensors": (_status, [_model, c_char_p], False),
    "aecv_model_import_safetensors": (_status, [_model, c_char_p], False),
    "aecv_model_anomaly_scores": (_status, [_model, F32, c_size_t, c_int32, F32Out, c_size_t],
                                  False),
    "aecv_model_anomaly_maps": (_status, [_model, F32, c_size_t, c_int32, F32Out, c_size_t],
                                False),
    # Inspection (metrics need no model; byte buffers pass as addresses, see metrics.py).
    "aecv_roc_auc": (_status, [F32, c_void_p, c_size_t, POINTER(c_double)], False),
    "aecv_best_f1": (_status, [F32, c_void_p, c_size_t, POINTER(c_double), POINTER(c_float)],
                     False),
    "aecv_per_region_overlap": (_status, [F32, c_void_p, c_size_t, c_size_t, c_size_t, c_double,
                                          POINTER(c_double)], False),
    "aecv_model_anomaly_pixel_maps": (_status, [_model, F32, c_size_t, c_size_t, c_size_t,
                                                c_int32, c_uint32, F32Out, c_size_t], False),
    "aecv_model_anomaly_image_scores": (_status, [_model, F32, c_size_t, c_size_t, c_size_t,
                                                  c_int32, c_int32, c_double, c_uint32, F32Out,
                                                  c_size_t], False),
    "aecv_model_anomaly_calibrate": (_status, [_model, F32, c_size_t, c_size_t, c_size_t,
                                               c_int32, c_int32, c_double, c_uint32, c_double,
                                               c_void_p, c_void_p], False),
    "aecv_model_anomaly_calibration": (c_size_t, [_model, c_char_p, c_size_t], False),
    "aecv_model_anomaly_predict": (_status, [_model, F32, c_size_t, c_size_t, c_size_t, F32Out,
                                             c_void_p, c_size_t], False),
    "aecv_model_anomaly_segment": (_status, [_model, F32, c_size_t, c_size_t, c_size_t, F32Out,
                                             c_void_p, c_size_t], False),
    "aecv_classifier_create": (_status, [_model, c_char_p, POINTER(c_void_p)], False),
    "aecv_classifier_free": (None, [_classifier], False),
    "aecv_classifier_classes": (c_size_t, [_classifier], False),
    "aecv_classifier_input_size": (c_size_t, [_classifier], False),
    "aecv_classifier_spec": (c_size_t, [_classifier, c_char_p, c_size_t], False),
    "aecv_classifier_train_step": (_status, [_classifier, F32, I32, c_size_t, POINTER(c_float)],
                                   False),
    # Data parallelism (optional: libraries before it lack them; aecv.distributed needs them).
    "aecv_model_compute_gradients": (_status, [_model, F32, F32, c_size_t, POINTER(c_float)], False),
    "aecv_model_compute_gradients_shard": (_status, [_model, F32, F32, c_size_t, c_size_t, c_size_t,
                                                     POINTER(c_float)], False),
    "aecv_model_gradients": (_status, [_model, POINTER(POINTER(c_float)), POINTER(c_size_t)], False),
    "aecv_model_apply_gradients": (_status, [_model], False),
    "aecv_model_buffer_count": (c_size_t, [_model], False),
    "aecv_model_get_parameters": (_status, [_model, F32Out, c_size_t], False),
    "aecv_model_set_parameters": (_status, [_model, F32, c_size_t], False),
    "aecv_model_get_buffers": (_status, [_model, F32Out, c_size_t], False),
    "aecv_model_set_buffers": (_status, [_model, F32, c_size_t], False),
    "aecv_classifier_predict": (_status, [_classifier, F32, c_size_t, F32Out, c_size_t], False),
    "aecv_classifier_save": (_status, [_classifier, c_char_p], False),
    "aecv_classifier_load": (_status, [c_char_p, POINTER(c_void_p)], False),
    "aecv_model_export_onnx": (_status, [_model, c_char_p, c_int32], False),
    "aecv_model_import_onnx": (_status, [c_char_p, c_char_p, POINTER(c_void_p)], False),
    "aecv_classifier_export_onnx": (_status, [_classifier, c_char_p], False),
}


def _candidates(environ: Mapping[str, str] = os.environ) -> list[tuple[str, str]]:
    """(description, path or name for dlopen), in lookup order."""
    explicit = environ.get("AECV_LIBRARY")
    if explicit:
        return [("AECV_LIBRARY", explicit)]
    places = [("bundled copy", _BUNDLED), ("system loader", _SONAME)]
    return places


def _version_problem(cdll: ctypes.CDLL) -> str | None:
    """Why this library cannot be used, or None."""
    try:
        fn = cdll.aecv_version_number
    except AttributeError:
        return "not a libaecv library (no aecv_version_number symbol)"
    fn.restype, fn.argtypes = c_uint32, []
    number = fn()
    major = number // 10000
    if major != LIBRARY_MAJOR:
        found = f"{major}.{number // 100 % 100}.{number % 100}"
        return (f"libaecv {found} has major version {major}, but aecv {__version__} is written "
                f"for major version {LIBRARY_MAJOR} (the C ABI changes between major versions); "
                f"install a matching library or binding")
    missing = [name for name, (_, _, required) in _FUNCTIONS.items()
               if required and not hasattr(cdll, name)]
    if missing:
        return f"libaecv lacks required functions: {', '.join(missing)}"
    return None


def _reason(path: str, exc: OSError) -> str:
    text = str(exc)  # dlerror() text, which usually starts with the path already
    return text if text.startswith(path) else f"{path}: {text}"


def _load(candidates: Sequence[tuple[str, str]]) -> tuple[ctypes.CDLL, str]:
    tried = []
    for where, path in candidates:
        try:
            cdll = ctypes.CDLL(path)
        except OSError as exc:
            tried.append(f"  {where}: {_reason(path, exc)}")
            continue
        problem = _version_problem(cdll)
        if problem is None:
            return cdll, path
        tried.append(f"  {where}: {path}: {problem}")
    if not (len(candidates) == 1 and candidates[0][0] == "AECV_LIBRARY"):
        # Last resort, run only when needed: it may spawn ldconfig/gcc.
        name = ctypes.util.find_library("aecv")
        if name is None:
            tried.append("  ctypes.util.find_library('aecv'): not found")
        else:
            try:
                cdll = ctypes.CDLL(name)
                problem = _version_problem(cdll)
                if problem is None:
                    return cdll, name
                tried.append(f"  ctypes.util.find_library('aecv'): {name}: {problem}")
            except OSError as exc:
                tried.append(f"  ctypes.util.find_library('aecv'): {_reason(name, exc)}")
    hint = ("unset AECV_LIBRARY to use the bundled or the system library, or point it at "
            "build/lib/libaecv.so.0 (built by `make lib`)"
            if candidates and candidates[0][0] == "AECV_LIBRARY" else
            "reinstall the package with `pip install ./bindings/python` (it builds and bundles "
            "the library), install libaecv system-wide (`make install`), or set AECV_LIBRARY "
            "to the path of libaecv.so.0")
    raise ImportError("aecv: cannot load libaecv. Tried, in order:\n" + "\n".join(tried)
                      + "\nTo fix: " + hint)


def _declare(cdll: ctypes.CDLL) -> None:
    for name, (restype, argtypes, required) in _FUNCTIONS.items():
        if not hasattr(cdll, name):
            continue  # optional and absent (required ones were checked by _version_problem)
        fn = getattr(cdll, name)
        fn.restype = restype
        fn.argtypes = argtypes


lib, library_path = _load(_candidates())
_declare(lib)


def has(name: str) -> bool:
    """True when the loaded library exports the C function ``name`` (declared in _FUNCTIONS)."""
    return name in _FUNCTIONS and hasattr(lib, name)


def last_error() -> str:
    """The library's message for the last failed call on this thread."""
    text = lib.aecv_last_error()
    return text.decode("utf-8", "replace") if text else ""


def status_name(status: int) -> str:
    text = lib.aecv_status_name(status)
    return text.decode("ascii", "replace") if text else f"status {status}"


def error(status: int, filename: str | None = None) -> errors.AECVError:
    """The exception for a failed call; must be built on the thread that made the call
    (aecv_last_error is thread-local)."""
    message = last_error() or f"{status_name(status)} (no message)"
    exc = errors.error_class(status)(message, status)
    if filename is not None and isinstance(exc, OSError):
        exc.filename = filename
    return exc


def check(status: int, filename: str | None = None) -> None:
    """Raise the matching AECVError when a call returned a non-zero status."""
    if status != errors.OK:
        raise error(status, filename)
