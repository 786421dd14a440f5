"""Lifetime of a native handle, shared by every model class (Autoencoder now; Classifier and
AnomalyDetector later): adoption, the per-handle lock, close(), the context manager and the
weakref.finalize safety net."""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, NoReturn, TypeVar

from . import _ffi
from .errors import ClosedModelError

_Self = TypeVar("_Self", bound="NativeModel")


class NativeModel:
    """Owns one ``aecv_model *`` handle.

    Calls go through :meth:`_call`, which holds a per-object lock for the duration of the C call.
    The library already serializes calls on one handle; the Python lock is there so that
    ``close()`` from one thread waits for a call running in another one instead of freeing the
    handle under it (aecv_model_free must not run concurrently with any other use)."""

    _handle: int | None = None
    #: The C function that releases this kind of handle.
    _free_function = "aecv_model_free"

    def _adopt(self, handle: int | None) -> None:
        if not handle:
            raise RuntimeError("aecv: the library returned a NULL model")
        self._handle = handle
        self._lock = threading.Lock()
        # Frees the handle when the object is garbage-collected without close(). Not at
        # interpreter exit: a daemon thread may still be inside a call on it then, and the OS
        # reclaims the memory anyway.
        self._finalizer = weakref.finalize(self, getattr(_ffi.lib, self._free_function), handle)
        self._finalizer.atexit = False

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._handle is None

    def close(self) -> None:
        """Releases the native model now. Idempotent; the object cannot be used afterwards
        (every method then raises ClosedModelError, an AECVError)."""
        if self._handle is None:
            return
        with self._lock:
            if self._handle is not None:
                self._handle = None
                self._finalizer()  # the free function, exactly once

    def __enter__(self: _Self) -> _Self:
        self._live()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _live(self) -> int:
        handle = self._handle
        if handle is None:
            raise ClosedModelError(f"{type(self).__name__} is closed")
        return handle

    def _call(self, fn: Callable[..., int], *args: Any, filename: str | None = None) -> None:
        """fn(handle, *args) under the lock; raises the AECVError of a failed status."""
        with self._lock:
            status = fn(self._live(), *args)
        _ffi.check(status, filename)  # same thread: aecv_last_error is thread-local

    def _query(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A call that cannot fail (shape queries, spec)."""
        with self._lock:
            return fn(self._live(), *args)

    def __getstate__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} cannot be pickled; use save(path) and "
                        f"{type(self).__name__}.load(path)")
