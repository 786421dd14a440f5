"""aecv: autoencoders for computer vision, a Python binding of libaecv (numpy in, numpy out).

    import numpy as np, aecv
    X = np.random.default_rng(0).random((256, 1, 28, 28), dtype=np.float32)
    with aecv.Autoencoder("conv", input_shape=(1, 28, 28), seed=0) as m:
        losses = m.fit(X, epochs=2, batch_size=64, progress=False)
        codes = m.transform(X)            # (256, 1024)
        images = m.inverse_transform(codes)  # (256, 1, 28, 28)

The library is found through AECV_LIBRARY, then the copy bundled by pip, then the system's
(see aecv._ffi). Errors are AECVError subclasses, one per status code of the C API
(see aecv.errors).
"""

from . import _ffi, datasets, metrics
from ._version import __version__
from .anomaly import AnomalyDetector
from .augment import augment, latent_mixup
from .autoencoder import Autoencoder
from .classifier import Classifier
from .detector import Detector
from .errors import (
    AECVError,
    ClosedModelError,
    ConfigError,
    FileIOError,
    FormatError,
    InternalError,
    InvalidArgumentError,
    NoMemoryError,
    NonFiniteError,
    NotFittedError,
    ShapeError,
    UnsupportedError,
)

__all__ = [
    "__version__",
    "library_version",
    "library_path",
    "set_num_threads",
    "Autoencoder",
    "augment",
    "latent_mixup",
    "Classifier",
    "AnomalyDetector",
    "Detector",
    "datasets",
    "NotFittedError",
    "metrics",
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
]


def library_version() -> str:
    """The version of the loaded libaecv, e.g. "0.1.0" (aecv.__version__ is the binding's)."""
    return str(_ffi.lib.aecv_version_string().decode("ascii"))


def library_path() -> str:
    """Where the loaded libaecv came from (a path, or a name resolved by the dynamic loader)."""
    return _ffi.library_path


def set_num_threads(n: int) -> None:
    """Sets the number of compute threads of the whole library (OpenBLAS's and libaecv's own),
    process-wide; n >= 1. When several models train in parallel threads, 1 is often fastest."""
    if isinstance(n, bool) or not isinstance(n, int) and not hasattr(n, "__index__"):
        raise TypeError(f"n: expected an integer, got {type(n).__name__}")
    n = int(n)
    if not -2**31 <= n < 2**31:  # c_int32 would wrap silently; the library checks the rest
        raise InvalidArgumentError(f"n: the number of threads must be >= 1, got {n}")
    _ffi.check(_ffi.lib.aecv_set_num_threads(n))
