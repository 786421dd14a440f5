"""aecv.Autoencoder: every autoencoder kind of libaecv, numpy in, numpy out."""

from __future__ import annotations

import ctypes
import json
import os
import tempfile
from typing import Any, Callable, Iterable, Mapping, Union, cast

import numpy as np

from . import _ffi
from ._arrays import as_float32, check_codes, check_float_dtype, image_layout
from ._model import NativeModel
from ._parallel import DataParallel
from ._progress import progress_bar
from ._safetensors import state_dict_arrays, write_safetensors
from ._typing import ArrayLike, PathArg
from .errors import ConfigError, InvalidArgumentError, ShapeError, UnsupportedError

__all__ = ["Autoencoder"]

class _Unset:
    """The default of arguments whose absence differs from any value (None included)."""

    def __repr__(self) -> str:
        return "<default>"


_UNSET = _Unset()
_UINT64_MAX = 2**64 - 1


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _spec_text(spec: Mapping[str, Any]) -> str:
    try:
        return json.dumps(spec, default=_json_default, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"spec: cannot be written as JSON: {exc}") from None


def _path_bytes(path: PathArg) -> tuple[str, bytes]:
    path = os.fspath(path)
    raw = os.fsencode(path)
    if b"\0" in raw:  # C would silently use the part before the NUL
        raise InvalidArgumentError(f"path: embedded null byte in {path!r}")
    return os.fsdecode(raw), raw


def _check_count(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    if value < minimum:
        raise InvalidArgumentError(f"{name}: must be >= {minimum}, got {value}")
    return int(value)


def _check_seed(seed: object) -> int:
    seed = _check_count(seed, "seed", minimum=0)
    if seed > _UINT64_MAX:
        raise InvalidArgumentError(f"seed: must be < 2**64, got {seed}")
    return seed


class Autoencoder(DataParallel, NativeModel):
    """An autoencoder trained and run by libaecv.

    Create one from a preset and spec fields::

        m = aecv.Autoencoder("conv", input_shape=(1, 28, 28), seed=0)
        m = aecv.Autoencoder("dense", input_shape=(1, 28, 28), latent=32, hidden=[512],
                             optimizer={"name": "adam", "learning_rate": 1e-3})
        m = aecv.Autoencoder("denoising", noise={"gaussian": 0.3})
        m = aecv.Autoencoder("denoising", input_shape=(3, 64, 64), loss="mse_ssim",
                             noise={"synthetic_anomaly": {"probability": 0.5}})

    or from a complete spec (a dict, or JSON text)::

        m = aecv.Autoencoder({"preset": "vae", "input": [1, 28, 28], "latent": 20})
        m = aecv.Autoencoder(spec={"preset": "vae", "input": [1, 28, 28], "latent": 20})

    The spec fields are those of the C API (include/aecv.h, "Model spec"): ``latent``,
    ``hidden``, ``loss``, ``optimizer``, ``sparsity``, ``noise``, ``base``, ``beta``, ``encoder``,
    ``decoder``. An invalid spec raises ConfigError naming the field. ``loss`` is "mse", "bce",
    "ssim" (1 − SSIM) or "mse_ssim" (MSE + 1 − SSIM, DRAEM's); the ``noise`` of a denoising
    model is {"gaussian": σ}, {"masking": p}, {"salt_pepper": p} or {"synthetic_anomaly":
    {"probability": 0.5, "area": [0.02, 0.3], "opacity": [0.1, 1], "grid": [2, 8],
    "source": "shifted" | "batch"}} (DRAEM-style synthetic defects; defaults shown).

    Images may be (n, C, H, W), (n, H, W) when C == 1, or (n, C*H*W), of any floating dtype or
    uint8 (scaled by 1/255), in any memory layout; outputs are float32 and keep the input's
    layout. Codes are (n, latent_size).

    Release the native model with ``close()`` or a ``with`` block (or let the garbage collector
    do it). Instances may be used from several threads; calls on one model are serialized, and
    different models train in parallel (the GIL is released during library calls).
    """

    def __init__(self, preset: str | Mapping[str, Any] | None = None,
                 input_shape: Iterable[int] | _Unset = _UNSET, seed: int | _Unset = _UNSET, *,
                 spec: Mapping[str, Any] | str | None = None, **spec_fields: Any) -> None:
        if isinstance(preset, Mapping):  # Autoencoder({"preset": "vae", ...}): the whole spec
            if spec is not None:
                raise TypeError("Autoencoder(): the spec is given twice (as the first argument "
                                "and as spec=...)")
            spec, preset = preset, None
        elif preset is not None and not isinstance(preset, str):
            raise TypeError(f"preset: expected a preset name such as 'conv' or a spec dict, got "
                            f"{type(preset).__name__}")
        if spec is not None:
            if preset is not None or input_shape is not _UNSET or seed is not _UNSET \
                    or spec_fields:
                raise TypeError("Autoencoder(): give either a preset with spec fields, or "
                                "spec=..., not both")
            if isinstance(spec, str):
                if "\0" in spec:
                    raise ConfigError("spec: embedded null character in the JSON text")
                text = spec
            elif isinstance(spec, Mapping):
                text = _spec_text(spec)
            else:
                raise TypeError(f"spec: expected a dict or JSON text, got {type(spec).__name__}")
        else:
            if preset is None:
                raise TypeError("Autoencoder() needs a preset (e.g. 'conv', 'dense', 'vae') "
                                "or spec={...}")
            for key in ("preset", "input"):
                if key in spec_fields:
                    raise TypeError(f"Autoencoder(): give {key!r} as the "
                                    f"{'first argument' if key == 'preset' else 'input_shape'}"
                                    f" argument, not as a spec field")
            shape: object = (1, 28, 28) if isinstance(input_shape, _Unset) else input_shape
            if isinstance(shape, (tuple, list, np.ndarray)):
                shape = list(shape)
                if len(shape) == 2:  # (H, W): one channel
                    shape = [1] + shape
            text = _spec_text({"preset": preset, "input": shape,
                               "seed": 0 if isinstance(seed, _Unset) else seed, **spec_fields})
        handle = ctypes.c_void_p()
        _ffi.check(_ffi.lib.aecv_model_create(text.encode("utf-8"), ctypes.byref(handle)))
        self._adopt(handle.value)
        self._describe()

    @classmethod
    def load(cls, path: PathArg) -> "Autoencoder":
        """Loads a model file written by save(); training resumes exactly where it stopped.
        Raises FileIOError (an OSError) when the file cannot be read, FormatError when it is not
        a valid model file."""
        path, raw = _path_bytes(path)
        handle = ctypes.c_void_p()
        _ffi.check(_ffi.lib.aecv_model_load(raw, ctypes.byref(handle)), filename=path)
        self = cls.__new__(cls)
        self._adopt(handle.value)
        self._describe()
        return self

    @classmethod
    def import_onnx(cls, path: PathArg, code: str | None = None,
                    **spec_overrides: Any) -> "Autoencoder":
        """Reads an ONNX autoencoder (e.g. written by ``torch.onnx.export``) into a new custom
        model that runs and trains here. ``code`` names the node output that is the code
        (default: where the module path changes from the first module, else the narrowest
        point); other keywords set spec fields (``loss="bce"``, ``optimizer={...}``, ``seed``).
        Raises UnsupportedError naming an operator or node libaecv lacks, FormatError for a
        malformed file, FileIOError (an OSError)."""
        path, raw = _path_bytes(path)
        overrides = dict(spec_overrides)
        if code is not None:
            overrides["code"] = code
        text = json.dumps(overrides).encode("utf-8") if overrides else None
        handle = ctypes.c_void_p()
        fn = _ffi.lib.aecv_model_import_onnx
        _ffi.check(fn(raw, text, ctypes.byref(handle)), filename=path)
        self = cls.__new__(cls)
        self._adopt(handle.value)
        self._describe()
        return self

    def _describe(self) -> None:
        spec = self.spec
        C, H, W = (int(d) for d in spec["input"])
        self._input_shape: tuple[int, int, int] = (C, H, W)
        self._input_size = int(np.prod(self._input_shape))
        # Fixed for the life of the handle; cached because a one-image encode is ~10 µs and the
        # query (lock + ctypes call) cost 0.6 µs of it.
        self._latent_size = int(self._query(_ffi.lib.aecv_model_latent_size))
        # fit() shuffles with a generator seeded from the model's seed: reproducible runs.
        self._rng = np.random.default_rng(int(spec.get("seed", 0)))

    # ----------------------------------------------------------------------------- properties

    @property
    def spec(self) -> dict[str, Any]:
        """The full spec, with every default filled in (a new dict on every access)."""
        fn = _ffi.lib.aecv_model_spec
        with self._lock:
            handle = self._live()
            size = fn(handle, None, 0)
            buffer = ctypes.create_string_buffer(size + 1)
            fn(handle, buffer, size + 1)
        spec: dict[str, Any] = json.loads(buffer.value.decode("utf-8"))
        return spec

    @property
    def preset(self) -> str:
        return str(self.spec.get("preset", "custom"))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one example."""
        self._live()
        return self._input_shape

    @property
    def input_size(self) -> int:
        """Floats per example, C*H*W."""
        return int(self._query(_ffi.lib.aecv_model_input_size))

    @property
    def latent_size(self) -> int:
        """Floats per code."""
        return int(self._query(_ffi.lib.aecv_model_latent_size))

    @property
    def parameter_count(self) -> int:
        """Number of trainable parameters (as PyTorch counts them)."""
        return int(self._query(_ffi.lib.aecv_model_parameter_count))

    def __repr__(self) -> str:
        if self.closed:
            return f"<{type(self).__name__} (closed)>"
        return (f"{type(self).__name__}(preset={self.preset!r}, input_shape={self._input_shape},"
                f" latent_size={self.latent_size}, parameter_count={self.parameter_count})")

    # ----------------------------------------------------------------------------- arrays

    def _images(self, X: ArrayLike, name: str) -> tuple[np.ndarray, tuple[int, ...]]:
        X = np.asarray(X)
        check_float_dtype(X, name, allow_uint8=True)
        return X, image_layout(X, self._input_shape, name)

    def _batch(self, X: np.ndarray) -> np.ndarray:
        """(b, ...) images of any accepted layout/dtype -> (b, C*H*W) C-contiguous float32."""
        return as_float32(X, "X").reshape(X.shape[0], self._input_size)

    def _targets(self, targets: ArrayLike | None, n: int) -> np.ndarray | None:
        if targets is None:
            return None
        T, _ = self._images(targets, "targets")
        if T.shape[0] != n:
            raise ShapeError(f"targets: expected {n} examples like X, got {T.shape[0]} "
                             f"(shape {T.shape})")
        return T

    def _map(self, fn: Callable[..., int], X: np.ndarray, in_width: int, out_width: int,
             batch_size: int) -> np.ndarray:
        """Runs fn(handle, inputs, batch, out, capacity) over X in chunks of batch_size (bounded
        workspace memory); returns (n, out_width) float32."""
        batch_size = _check_count(batch_size, "batch_size")
        n = X.shape[0]
        out = np.empty((n, out_width), dtype=np.float32)
        self._live()
        if 0 < n <= batch_size:  # one chunk: no slicing (a one-image call is ~10 µs in C)
            self._call(fn, as_float32(X).reshape(n, in_width), n, out, out.size)
            return out
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            inputs = as_float32(X[start:stop]).reshape(stop - start, in_width)
            chunk = out[start:stop]
            self._call(fn, inputs, stop - start, chunk, chunk.size)
        return out

    # ----------------------------------------------------------------------------- training

    def train_step(self, X: ArrayLike, targets: ArrayLike | None = None) -> float:
        """One optimizer step on the batch X (all of it); returns the loss before the update.
        targets default to X. A NaN/Inf in X, targets, the loss or a gradient raises
        NonFiniteError and leaves the model exactly as it was."""
        X, _ = self._images(X, "X")
        T = self._targets(targets, X.shape[0])
        return self._step(_ffi.lib.aecv_model_train_step, self._batch(X),
                          None if T is None else self._batch(T))

    def _step(self, fn: Callable[..., int], inputs: np.ndarray, targets: np.ndarray | None) -> float:
        loss = ctypes.c_float()
        self._call(fn, inputs, targets, inputs.shape[0], ctypes.byref(loss))
        return float(loss.value)

    def evaluate(self, X: ArrayLike, targets: ArrayLike | None = None,
                 batch_size: int = 256) -> float:
        """The model's loss on X (no update, no training noise): the mean over batches of
        batch_size, weighted by batch size (for a VAE the negative ELBO per example)."""
        X, _ = self._images(X, "X")
        T = self._targets(targets, X.shape[0])
        batch_size = _check_count(batch_size, "batch_size")
        n = X.shape[0]
        if n == 0:
            raise InvalidArgumentError("X: evaluate needs at least one example, got 0")
        total = 0.0
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            loss = self._step(_ffi.lib.aecv_model_evaluate, self._batch(X[start:stop]),
                              None if T is None else self._batch(T[start:stop]))
            total += loss * (stop - start)
        return float(total / n)

    def fit(self, X: ArrayLike | Iterable[ArrayLike], y: ArrayLike | int | None = None,
            epochs: int = 1, batch_size: int = 64, shuffle: bool = True,
            progress: bool = True, callback: Callable[[int, float], Any] | None = None,
            targets: ArrayLike | None = None) -> list[float]:
        """Trains for `epochs` passes over X in minibatches of `batch_size` (the last one may be
        smaller); returns the mean training loss of each epoch.

        y: class labels 0 .. K-1, one per image: required by a cvae model (K = spec "classes"),
            refused by the other kinds. (An integer here is taken as `epochs`, as in
            ``fit(X, 5)``.)

        shuffle: a new permutation every epoch, from a numpy Generator seeded with the model's
            seed when the object is created or loaded (so runs are reproducible); False keeps
            the order of X.
        progress: a per-epoch bar with the loss and images/s (tqdm if installed, else a plain
            line on stderr).
        callback: called as callback(epoch, mean_loss) after each epoch (epoch counts from 1);
            returning False stops training early.
        targets: what to reconstruct, shaped like X (default X itself).

        X may also be an iterable of batches instead of an array -- e.g. an
        aecv.datasets.ImageFolder, which decodes images from disk one batch at a time, or a
        generator (lists and tuples are taken as arrays of examples); it is iterated once per epoch (a one-shot generator can only serve one epoch;
        an epoch that yields nothing is an error). batch_size, shuffle and targets then do not
        apply: the iterable decides.

        A NonFiniteError raised by a step propagates; that step left the model unchanged.
        """
        if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
            epochs = int(y)
            y = None
        if not isinstance(X, (np.ndarray, list, tuple)) and isinstance(X, Iterable):
            if targets is not None or y is not None:
                raise InvalidArgumentError("targets and y: not supported when X is an iterable of batches")
            return self._fit_batches(X, _check_count(epochs, "epochs", minimum=0), progress, callback)
        X, _ = self._images(cast(ArrayLike, X), "X")
        T = self._targets(targets, X.shape[0])
        epochs = _check_count(epochs, "epochs", minimum=0)
        batch_size = _check_count(batch_size, "batch_size")
        n = X.shape[0]
        if n == 0:
            raise InvalidArgumentError("X: fit needs at least one example, got 0")
        self._live()
        labels = self._class_labels(y, n)
        if labels is not None:
            if T is not None:
                raise InvalidArgumentError("targets: a conditional model reconstructs its inputs; "
                                           "give X and y only")
            return self._fit_labeled(X, labels, epochs, batch_size, shuffle, progress, callback)
        step = _ffi.lib.aecv_model_train_step
        losses: list[float] = []
        for epoch in range(1, epochs + 1):
            order = self._rng.permutation(n) if shuffle else None
            bar = progress_bar(progress, n, f"epoch {epoch}/{epochs}")
            total = 0.0
            try:
                for start in range(0, n, batch_size):
                    stop = min(start + batch_size, n)
                    rows = slice(start, stop) if order is None else order[start:stop]
                    loss = self._step(step, self._batch(X[rows]),
                                      None if T is None else self._batch(T[rows]))
                    total += loss * (stop - start)
                    bar.update(stop - start, total / stop)
            finally:
                bar.close()
            losses.append(total / n)
            if callback is not None and callback(epoch, losses[-1]) is False:
                break
        return losses

    def _fit_batches(self, batches: Iterable[ArrayLike], epochs: int, progress: bool,
                     callback: Callable[[int, float], Any] | None) -> list[float]:
        """fit over an iterable of (b, ...) batches, re-iterated every epoch."""
        self._live()
        step = _ffi.lib.aecv_model_train_step
        total_hint = len(getattr(batches, "files", [])) or None
        losses: list[float] = []
        for epoch in range(1, epochs + 1):
            bar = progress_bar(progress, total_hint or 0, f"epoch {epoch}/{epochs}")
            total, seen = 0.0, 0
            try:
                for batch in batches:
                    B, _ = self._images(batch, "batch")
                    loss = self._step(step, self._batch(B), None)
                    total += loss * B.shape[0]
                    seen += B.shape[0]
                    bar.update(B.shape[0], total / seen)
            finally:
                bar.close()
            if seen == 0:
                raise InvalidArgumentError(f"X: epoch {epoch} got no batches from the iterable "
                                           "(a generator is used up after one epoch; pass a "
                                           "re-iterable such as aecv.datasets.ImageFolder)")
            losses.append(total / seen)
            if callback is not None and callback(epoch, losses[-1]) is False:
                break
        return losses

    def set_learning_rate(self, learning_rate: float) -> None:
        """Sets the optimizer's learning rate (in (0, 1e6]) for the following steps; the
        optimizer state (Adam moments, momentum) is kept."""
        self._call(_ffi.lib.aecv_model_set_learning_rate, float(learning_rate))

    # ----------------------------------------------------------------------------- inference

    def transform(self, X: ArrayLike, batch_size: int = 256) -> np.ndarray:
        """Codes of X: (n, latent_size) float32 (for a VAE the posterior mean)."""
        X, _ = self._images(X, "X")
        return self._map(_ffi.lib.aecv_model_encode, X, self._input_size, self._latent_size,
                         batch_size)

    encode = transform

    def inverse_transform(self, Z: ArrayLike, batch_size: int = 256) -> np.ndarray:
        """Images decoded from codes Z (n, latent_size): (n, C, H, W) float32."""
        Z = np.asarray(Z)
        check_float_dtype(Z, "Z", allow_uint8=False)
        latent = self._latent_size
        check_codes(Z, latent, "Z")
        out = self._map(_ffi.lib.aecv_model_decode, Z, latent, self._input_size, batch_size)
        return out.reshape((Z.shape[0],) + self._input_shape)

    decode = inverse_transform

    def reconstruct(self, X: ArrayLike, batch_size: int = 256) -> np.ndarray:
        """decode(encode(X)) without training noise, float32, in the layout of X."""
        X, layout = self._images(X, "X")
        out = self._map(_ffi.lib.aecv_model_reconstruct, X, self._input_size, self._input_size,
                        batch_size)
        return out.reshape((X.shape[0],) + layout)

    def sample(self, n: int, seed: int = 0, y: ArrayLike | int | None = None) -> np.ndarray:
        """n images (n, C, H, W) decoded from codes drawn from N(0, I) with `seed`; generative
        kinds only (vae, conv_vae, cvae), others raise UnsupportedError. The model's own random
        state is neither used nor changed.

        y (cvae only): the class of the images, one int for all n, or n labels. Class c's images
        are drawn with seed `seed + c`, so they do not depend on the other labels. Without y a
        cvae gives image i the class i mod K."""
        n = _check_count(n, "n")
        seed = _check_seed(seed)
        out = np.empty((n,) + self.input_shape, dtype=np.float32)
        if y is None:
            self._call(_ffi.lib.aecv_model_sample, n, seed, out, out.size)
            return out
        if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
            y = np.full(n, int(y))
        labels = self._class_labels(y, n)
        assert labels is not None  # y was given
        fn = self._require("aecv_model_sample_class")
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            part = np.empty((rows.size,) + self.input_shape, dtype=np.float32)
            self._call(fn, int(c), rows.size, _check_seed(seed + int(c)), part, part.size)
            out[rows] = part
        return out

    # ----------------------------------------------------------------------------- conditional

    @property
    def n_classes(self) -> int | None:
        """K of a conditional model (cvae, or conv_vae with spec "classes"); None otherwise."""
        k = self.spec.get("classes")
        return None if k is None else int(k)

    def _class_labels(self, y: ArrayLike | None, n: int) -> np.ndarray | None:
        """y checked against this model: int32 labels for a cvae, None when y is None for the
        other kinds; raises for a cvae without y, or y given to a model without classes."""
        k = self.n_classes
        if y is None:
            if k is not None:
                raise InvalidArgumentError(f"y: a conditional {self.preset} model ({k} classes) needs the class "
                                           "labels, fit(X, y)")
            return None
        if k is None:
            raise UnsupportedError(f"y: a {self.preset} model is not conditional (use the cvae "
                                   "preset, or conv_vae, with classes=K)")
        from .classifier import Classifier  # the shared label checks (lazy: no import cycle)
        return Classifier._labels(cast(Any, self), y, n, k)  # _labels does not use self

    def _fit_labeled(self, X: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int,
                     shuffle: bool, progress: bool,
                     callback: Callable[[int, float], Any] | None) -> list[float]:
        step = self._require("aecv_model_train_step_labeled")
        n = X.shape[0]
        losses: list[float] = []
        for epoch in range(1, epochs + 1):
            order = self._rng.permutation(n) if shuffle else np.arange(n)
            bar = progress_bar(progress, n, f"epoch {epoch}/{epochs}")
            total = 0.0
            try:
                for start in range(0, n, batch_size):
                    stop = min(start + batch_size, n)
                    rows = order[start:stop]
                    loss = ctypes.c_float()
                    self._call(step, self._batch(X[rows]), np.ascontiguousarray(labels[rows]),
                               stop - start, ctypes.byref(loss))
                    total += float(loss.value) * (stop - start)
                    bar.update(stop - start, total / stop)
            finally:
                bar.close()
            losses.append(total / n)
            if callback is not None and callback(epoch, losses[-1]) is False:
                break
        return losses

    # ----------------------------------------------------------------------------- files

    def save(self, path: PathArg) -> None:
        """Writes the model (spec, parameters, optimizer and random state) to path, atomically:
        a failed save leaves an existing file intact. Raises FileIOError (an OSError)."""
        path, raw = _path_bytes(path)
        self._call(_ffi.lib.aecv_model_save, raw, filename=path)

    _ONNX_PARTS = {"autoencoder": 0, "encoder": 1, "decoder": 2}

    def export_onnx(self, path: PathArg, part: str = "autoencoder") -> None:
        """Writes part ("autoencoder": input -> reconstruction, "encoder": input -> code, or
        mu and logvar for the VAE kinds, "decoder": code -> reconstruction) as an ONNX file
        (opset 17, batch axis dynamic, NCHW), atomically. Raises ValueError for an unknown part,
        UnsupportedError for a layer without an ONNX form, FileIOError (an OSError)."""
        if part not in self._ONNX_PARTS:
            raise ValueError(f"part must be one of {sorted(self._ONNX_PARTS)}, got {part!r}")
        path, raw = _path_bytes(path)
        self._call(self._require("aecv_model_export_onnx"), raw, self._ONNX_PARTS[part],
                   filename=path)

    # ----------------------------------------------------------------------------- PyTorch

    def _require(self, name: str) -> Callable[..., int]:
        if not _ffi.has(name):
            raise UnsupportedError(f"the loaded libaecv {_ffi.lib.aecv_version_string().decode()}"
                                   f" ({_ffi.library_path}) has no {name}; use a newer library")
        fn: Callable[..., int] = getattr(_ffi.lib, name)
        return fn

    def export_safetensors(self, path: PathArg) -> None:
        """Writes the parameters to path as a safetensors file (F32), named as the state_dict of
        the equivalent PyTorch module (docs/model-format.md), so that
        ``module.load_state_dict(safetensors.torch.load_file(path))`` loads them. Atomic like
        save(). Raises FileIOError (an OSError)."""
        path, raw = _path_bytes(path)
        self._call(self._require("aecv_model_export_safetensors"), raw, filename=path)

    def import_safetensors(self, path: PathArg) -> None:
        """Replaces the parameters with the tensors of a safetensors file (e.g. a PyTorch
        state_dict saved with ``safetensors.torch.save_file``). The file must hold exactly this
        model's tensor names with its shapes (F32, F64, F16 or BF16). All-or-nothing: on any
        error the model is unchanged. Success resets the optimizer state (Adam moments, step).

        Raises FileIOError (missing/unreadable), FormatError (not valid safetensors), ShapeError
        (a missing, extra or misshapen tensor, named in the message), NonFiniteError (NaN/Inf).
        """
        path, raw = _path_bytes(path)
        self._call(self._require("aecv_model_import_safetensors"), raw, filename=path)

    @classmethod
    def from_torch(cls, module_or_state_dict: Any, preset: str, input_shape: Iterable[int] = (1, 28, 28),
                   **spec_fields: Any) -> "Autoencoder":
        """A libaecv model with the weights of a PyTorch module.

        module_or_state_dict: a ``torch.nn.Module`` (its ``state_dict()`` is used), a state_dict,
            or any mapping of state_dict names to numpy arrays. The names and shapes must be
            those of the preset's equivalent module (docs/model-format.md), e.g. for "conv"
            ``encoder.0.weight`` ... ``decoder.4.bias``.
        preset, input_shape, spec_fields: the spec, as for ``Autoencoder(...)`` (e.g.
            ``latent=32, hidden=[512]``).

        torch itself is optional: nothing here imports it. Raises ShapeError naming the tensors
        when the weights do not fit the spec."""
        tensors = state_dict_arrays(module_or_state_dict)
        model = cls(preset, input_shape, **spec_fields)
        try:
            with tempfile.TemporaryDirectory(prefix="aecv-from-torch-") as directory:
                path = os.path.join(directory, "state_dict.safetensors")
                write_safetensors(path, tensors)
                model.import_safetensors(path)
        except BaseException:
            model.close()
            raise
        return model

    # ----------------------------------------------------------------------------- analysis

    def _one_example(self, x: ArrayLike, name: str) -> np.ndarray:
        """One image in any single-example layout ((C, H, W), (H, W) when C == 1, (C*H*W,), or
        any of those with a batch axis of 1) -> (1, C*H*W) float32."""
        x = np.asarray(x)
        check_float_dtype(x, name, allow_uint8=True)
        C, H, W = self._input_shape
        forms = {(C, H, W), (C * H * W,)} | ({(H, W)} if C == 1 else set())
        shape = x.shape
        if shape not in forms and shape[:1] == (1,) and shape[1:] in forms:
            shape = shape[1:]
        if shape not in forms:
            raise ShapeError(f"{name}: expected one image of shape ({C}, {H}, {W})"
                             f"{f' or ({H}, {W})' if C == 1 else ''} or ({C * H * W},), "
                             f"got {x.shape}")
        return as_float32(x).reshape(1, self._input_size)

    def interpolate(self, x1: ArrayLike, x2: ArrayLike, steps: int = 8) -> np.ndarray:
        """Decodes `steps` codes evenly spaced from code(x1) to code(x2), both ends included
        (steps >= 2; for a VAE the codes are the means): (steps, C, H, W) float32.
        x1, x2: one image each."""
        a = self._one_example(x1, "x1")
        b = self._one_example(x2, "x2")
        steps = _check_count(steps, "steps", minimum=2)
        out = np.empty((steps,) + self.input_shape, dtype=np.float32)
        self._call(self._require("aecv_model_interpolate"), a, b, steps, out, out.size)
        return out

    def code_sparsity(self, X: ArrayLike, threshold: float = 0.0, batch_size: int = 256) -> float:
        """Fraction of the code entries of X with |z| <= threshold (ReLU codes have exact zeros;
        for KL-sparse sigmoid codes use e.g. 0.05), over all of X."""
        X, _ = self._images(X, "X")
        batch_size = _check_count(batch_size, "batch_size")
        threshold = float(threshold)
        n = X.shape[0]
        if n == 0:
            raise InvalidArgumentError("X: code_sparsity needs at least one example, got 0")
        fn = self._require("aecv_model_code_sparsity")
        total = 0.0
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            fraction = ctypes.c_float()
            self._call(fn, self._batch(X[start:stop]), stop - start, threshold,
                       ctypes.byref(fraction))
            total += fraction.value * (stop - start)  # equal codes per example: exact weights
        return float(total / n)
