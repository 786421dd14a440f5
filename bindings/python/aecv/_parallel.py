"""The data-parallel methods of aecv.Autoencoder: a training step in two calls with the flat
gradient vector in between, and the flat parameter and buffer vectors (aecv.h, "Data
parallelism"). aecv.distributed builds MPI training on them; any other allreduce works too."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _ffi
from ._model import NativeModel
from ._typing import ArrayLike, F32Array
from .errors import InvalidArgumentError, UnsupportedError


def _need(name: str) -> None:
    if not _ffi.has(name):
        raise UnsupportedError(f"the loaded libaecv ({_ffi.library_path}) lacks {name}; "
                               f"install a newer library")


class DataParallel(NativeModel):
    """Mixed into Autoencoder, which provides _images, _batch, _targets and parameter_count
    (declared here for the type checker)."""

    if TYPE_CHECKING:
        def _images(self, X: ArrayLike, name: str) -> tuple[np.ndarray, tuple[int, ...]]: ...
        def _batch(self, X: np.ndarray) -> np.ndarray: ...
        def _targets(self, targets: ArrayLike | None, n: int) -> np.ndarray | None: ...
        @property
        def parameter_count(self) -> int: ...

    def compute_gradients(self, X: ArrayLike, targets: ArrayLike | None = None,
                          first_example: int = 0, total_batch: int | None = None) -> float:
        """Forward and backward on the batch X, leaving the gradient in the model's gradient
        vector (see gradients()); nothing is applied. Returns the loss.

        With total_batch, X is the shard of examples [first_example, first_example + len(X))
        of a batch of total_batch split among processes: the objective is normalized by
        total_batch and each example draws the noise of its position in the whole batch, so
        the SUM of the shards' gradients and losses over the processes equals one process's
        compute_gradients on the whole batch (for uneven shards too), when every process holds
        the same model state."""
        X, _ = self._images(X, "X")
        T = self._targets(targets, X.shape[0])
        inputs, tgt = self._batch(X), None if T is None else self._batch(T)
        loss = ctypes.c_float()
        if total_batch is None:
            _need("aecv_model_compute_gradients")
            self._call(_ffi.lib.aecv_model_compute_gradients, inputs, tgt, inputs.shape[0],
                       ctypes.byref(loss))
        else:
            _need("aecv_model_compute_gradients_shard")
            if first_example < 0 or total_batch < 0:
                raise InvalidArgumentError(f"first_example {first_example} and total_batch "
                                           f"{total_batch} must not be negative")
            self._call(_ffi.lib.aecv_model_compute_gradients_shard, inputs, tgt, inputs.shape[0],
                       int(first_example), int(total_batch), ctypes.byref(loss))
        return float(loss.value)

    def gradients(self) -> F32Array:
        """The model's flat gradient vector, float32 (parameter_count,), WITHOUT a copy: writing
        into it (an allreduce in place) changes what apply_gradients() applies. Valid until the
        model is closed; its contents until the next compute_gradients or train_step."""
        _need("aecv_model_gradients")
        pointer = ctypes.POINTER(ctypes.c_float)()
        count = ctypes.c_size_t()
        self._call(_ffi.lib.aecv_model_gradients, ctypes.byref(pointer), ctypes.byref(count))
        if count.value == 0:
            return np.zeros(0, dtype=np.float32)
        view = np.ctypeslib.as_array(pointer, shape=(count.value,)).view(np.float32)
        # Keep the model alive as long as the view is.
        return _Owned(view, self)

    def apply_gradients(self) -> None:
        """The optimizer step on the (possibly rewritten) gradient vector; transactional like
        train_step (a non-finite update leaves the model unchanged and raises NonFiniteError)."""
        _need("aecv_model_apply_gradients")
        self._call(_ffi.lib.aecv_model_apply_gradients)

    @property
    def buffer_count(self) -> int:
        """Floats of non-trainable state (BatchNorm running statistics); 0 for the presets."""
        _need("aecv_model_buffer_count")
        return int(self._query(_ffi.lib.aecv_model_buffer_count))

    def get_parameters(self) -> F32Array:
        """A copy of the flat parameter vector (parameter_count,), float32."""
        _need("aecv_model_get_parameters")
        out = np.empty(self.parameter_count, dtype=np.float32)
        self._call(_ffi.lib.aecv_model_get_parameters, out, out.size)
        return out

    def set_parameters(self, values: ArrayLike) -> None:
        """Replaces the flat parameter vector (exactly parameter_count finite values); the
        optimizer state is kept. All or nothing."""
        _need("aecv_model_set_parameters")
        v = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
        self._call(_ffi.lib.aecv_model_set_parameters, v, v.size)

    def get_buffers(self) -> F32Array:
        """A copy of the flat buffer vector (buffer_count,), float32."""
        _need("aecv_model_get_buffers")
        out = np.empty(self.buffer_count, dtype=np.float32)
        self._call(_ffi.lib.aecv_model_get_buffers, out if out.size else None, out.size)
        return out

    def set_buffers(self, values: ArrayLike) -> None:
        """Replaces the flat buffer vector (exactly buffer_count finite values)."""
        _need("aecv_model_set_buffers")
        v = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
        self._call(_ffi.lib.aecv_model_set_buffers, v if v.size else None, v.size)


class _Owned(np.ndarray):
    """An ndarray over library memory that holds a reference to its model."""

    _owner: Any

    def __new__(cls, view: np.ndarray, owner: Any) -> _Owned:
        obj = view.view(cls)
        obj._owner = owner
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self._owner = getattr(obj, "_owner", None)
