"""Type aliases shared by the package's annotations (checked with ``mypy --strict aecv``)."""

from __future__ import annotations

import os
from typing import Union

import numpy as np
import numpy.typing as npt

__all__ = ["ArrayLike", "F32Array", "PathArg"]

#: Anything numpy turns into an array: ndarrays, nested sequences, scalars.
ArrayLike = npt.ArrayLike
#: What the library returns: float32 arrays.
F32Array = npt.NDArray[np.float32]
#: A file path: text or os.PathLike (pathlib.Path).
PathArg = Union[str, "os.PathLike[str]"]
