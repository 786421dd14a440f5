"""The exceptions of aecv: one class per ``aecv_status`` code of the C API.

Every exception raised for a failed library call is an :class:`AECVError` carrying the status
code (``.status``), its C name (``.status_name``) and the library's message (``.message``, the
text of ``aecv_last_error()``, which names the argument and the expected vs. actual value).

Some classes also derive from the built-in exception that a Python user would reach for, so
that generic handlers keep working::

    InvalidArgumentError   AECV_ERR_INVALID_ARGUMENT  also ValueError
    ShapeError             AECV_ERR_SHAPE             also ValueError
    ConfigError            AECV_ERR_CONFIG            also ValueError
    NonFiniteError         AECV_ERR_NONFINITE         also FloatingPointError (like numpy's)
    FileIOError            AECV_ERR_IO                also OSError (``.filename`` is set)
    FormatError            AECV_ERR_FORMAT
    NoMemoryError          AECV_ERR_NO_MEMORY         also MemoryError
    UnsupportedError       AECV_ERR_UNSUPPORTED
    InternalError          AECV_ERR_INTERNAL          (a bug: please report it)
    ClosedModelError       use of a closed model      an InvalidArgumentError (like ValueError
                                                      on a closed file)

The I/O class is named ``FileIOError`` rather than ``IOError`` so that ``from aecv import *``
or ``aecv.IOError`` can never be confused with the built-in ``IOError`` (an alias of OSError).
A status code this binding does not know (added by a newer library) raises plain AECVError.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AECVError",
    "InvalidArgumentError",
    "ShapeError",
    "ConfigError",
    "NonFiniteError",
    "FileIOError",
    "FormatError",
    "NoMemoryError",
    "UnsupportedError",
    "InternalError",
    "ClosedModelError",
    "NotFittedError",
    "STATUS_NAMES",
    "error_class",
]

# The status codes of include/aecv.h.
OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_SHAPE = 2
ERR_CONFIG = 3
ERR_NONFINITE = 4
ERR_IO = 5
ERR_FORMAT = 6
ERR_NO_MEMORY = 7
ERR_UNSUPPORTED = 8
ERR_INTERNAL = 100

STATUS_NAMES = {
    OK: "AECV_OK",
    ERR_INVALID_ARGUMENT: "AECV_ERR_INVALID_ARGUMENT",
    ERR_SHAPE: "AECV_ERR_SHAPE",
    ERR_CONFIG: "AECV_ERR_CONFIG",
    ERR_NONFINITE: "AECV_ERR_NONFINITE",
    ERR_IO: "AECV_ERR_IO",
    ERR_FORMAT: "AECV_ERR_FORMAT",
    ERR_NO_MEMORY: "AECV_ERR_NO_MEMORY",
    ERR_UNSUPPORTED: "AECV_ERR_UNSUPPORTED",
    ERR_INTERNAL: "AECV_ERR_INTERNAL",
}


class AECVError(Exception):
    """Base class of every libaecv error.

    Attributes:
        status: the ``aecv_status`` code (int), or None for errors raised by the binding itself
            that have no code.
        status_name: the C name of the code, e.g. ``"AECV_ERR_SHAPE"``.
        message: the library's message (``aecv_last_error()``) or the binding's.
    """

    #: The status code this class stands for (None on the base class).
    default_status: int | None = None

    def __init__(self, message: str = "", status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = self.default_status if status is None else status

    @property
    def status_name(self) -> str:
        if self.status is None:
            return "AECV_ERR_UNKNOWN"
        return STATUS_NAMES.get(self.status, f"AECV_STATUS_{self.status}")

    # OSError's __str__ would print "[Errno None] None: 'file'" once .filename is set.
    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status})"

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes (multiprocessing, concurrent.futures)
        return (_rebuild, (type(self), self.message, self.status, getattr(self, "filename", None)))


def _rebuild(cls: type[AECVError], message: str, status: int | None,
             filename: str | None) -> AECVError:
    exc = cls(message, status)
    if filename is not None and isinstance(exc, OSError):
        exc.filename = filename
    return exc


class InvalidArgumentError(AECVError, ValueError):
    """AECV_ERR_INVALID_ARGUMENT: a NULL pointer, zero batch, negative thread count, bad value."""

    default_status = ERR_INVALID_ARGUMENT


class ShapeError(AECVError, ValueError):
    """AECV_ERR_SHAPE: an array's shape (or a buffer's capacity) does not match the model.

    The binding raises it itself, before calling the library, with the expected and the actual
    shape in the message."""

    default_status = ERR_SHAPE


class ConfigError(AECVError, ValueError):
    """AECV_ERR_CONFIG: the model spec is malformed or inconsistent; the message names the field."""

    default_status = ERR_CONFIG


class NonFiniteError(AECVError, FloatingPointError):
    """AECV_ERR_NONFINITE: NaN/Inf in the inputs, or produced by a training step.

    The model is left exactly as it was before the call (parameters, optimizer and random state).
    """

    default_status = ERR_NONFINITE


class FileIOError(AECVError, OSError):
    """AECV_ERR_IO: a file could not be opened, read or written. ``.filename`` names it."""

    default_status = ERR_IO


class FormatError(AECVError):
    """AECV_ERR_FORMAT: the file is not a valid model file (magic, version, checksum, truncated)."""

    default_status = ERR_FORMAT


class NoMemoryError(AECVError, MemoryError):
    """AECV_ERR_NO_MEMORY: an allocation failed or a requested size is absurd."""

    default_status = ERR_NO_MEMORY


class UnsupportedError(AECVError):
    """AECV_ERR_UNSUPPORTED: the operation is not valid for this model kind
    (e.g. ``sample`` on a non-generative autoencoder)."""

    default_status = ERR_UNSUPPORTED


class InternalError(AECVError):
    """AECV_ERR_INTERNAL: a bug in libaecv; please report it with the message."""

    default_status = ERR_INTERNAL


class ClosedModelError(InvalidArgumentError):
    """The model was closed (``close()``, end of a ``with`` block); it cannot be used any more."""


class NotFittedError(ValueError, AttributeError):
    """An estimator used before fit() (e.g. AnomalyDetector.predict without a threshold), like
    scikit-learn's NotFittedError: also a ValueError and an AttributeError. Raised by the
    binding, not the library (no status code). Shared by every estimator of the package, so
    ``except aecv.NotFittedError`` catches all of them."""


# The one map from status codes to classes.
_CLASS_OF_STATUS = {
    ERR_INVALID_ARGUMENT: InvalidArgumentError,
    ERR_SHAPE: ShapeError,
    ERR_CONFIG: ConfigError,
    ERR_NONFINITE: NonFiniteError,
    ERR_IO: FileIOError,
    ERR_FORMAT: FormatError,
    ERR_NO_MEMORY: NoMemoryError,
    ERR_UNSUPPORTED: UnsupportedError,
    ERR_INTERNAL: InternalError,
}


def error_class(status: int) -> type[AECVError]:
    """The exception class for a non-zero status code (AECVError for codes unknown here)."""
    return _CLASS_OF_STATUS.get(status, AECVError)
