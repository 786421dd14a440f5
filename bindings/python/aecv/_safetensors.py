"""State dicts to safetensors files, by hand (numpy only: neither torch nor the safetensors
package is needed), for ``Autoencoder.from_torch``.

The file layout (what libaecv's importer reads): u64 little-endian header length N, N bytes of
JSON ``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__":
{...}}`` padded with spaces to a multiple of 8, then the little-endian float32 data.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._typing import PathArg

__all__ = ["state_dict_arrays", "write_safetensors"]

_LE_F32 = np.dtype("<f4")


def _to_numpy(name: str, value: Any) -> np.ndarray:
    """A state_dict value (torch tensor, numpy array or nested list) as a float32 ndarray."""
    if isinstance(value, np.ndarray):
        array = value
    elif hasattr(value, "detach"):  # a torch.Tensor (torch is imported by whoever made it)
        tensor = value.detach().cpu()
        try:
            array = tensor.numpy()
        except (RuntimeError, TypeError):  # bfloat16, or a torch built without numpy
            array = np.asarray(tensor.float().tolist(), dtype=np.float32).reshape(
                tuple(tensor.shape))
    elif isinstance(value, (list, tuple, float, int)):
        array = np.asarray(value)
    else:
        raise TypeError(f"state_dict[{name!r}]: expected a torch tensor or a numpy array, got "
                        f"{type(value).__name__}")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"state_dict[{name!r}]: dtype {array.dtype} is not a real number type")
    return np.ascontiguousarray(array, dtype=_LE_F32)


def state_dict_arrays(module_or_state_dict: Any) -> list[tuple[str, np.ndarray]]:
    """(name, float32 array) pairs of a torch module (its ``state_dict()``), a state_dict, or
    any mapping of names to numpy arrays."""
    source = module_or_state_dict
    if not isinstance(source, Mapping):
        state_dict = getattr(source, "state_dict", None)
        if not callable(state_dict):
            raise TypeError(
                "from_torch: expected a torch.nn.Module, its state_dict(), or a dict of numpy "
                f"arrays keyed by state_dict names, got {type(source).__name__}")
        source = state_dict()
        if not isinstance(source, Mapping):
            raise TypeError(f"from_torch: state_dict() returned {type(source).__name__}, "
                            f"not a mapping")
    pairs = []
    for name, value in source.items():
        if not isinstance(name, str):
            raise TypeError(f"state_dict: names must be strings, got {name!r}")
        pairs.append((name, _to_numpy(name, value)))
    return pairs


def write_safetensors(path: PathArg, tensors: list[tuple[str, np.ndarray]],
                      metadata: dict[str, str] | None = None) -> None:
    """Writes float32 tensors as a safetensors file (F32, in the given order)."""
    header: dict[str, Any] = {"__metadata__": dict({"format": "pt"}, **(metadata or {}))}
    offset = 0
    for name, array in tensors:
        if name in header:
            raise ValueError(f"state_dict: duplicate or reserved name {name!r}")
        header[name] = {"dtype": "F32", "shape": [int(d) for d in array.shape],
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, array in tensors:
            f.write(array.astype(_LE_F32, copy=False).tobytes(order="C"))
