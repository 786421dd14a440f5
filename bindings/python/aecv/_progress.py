"""Per-epoch progress bars for ``fit``: tqdm when it is installed, else a one-line bar on stderr."""

from __future__ import annotations

import sys
import time
from typing import IO, Protocol

try:  # optional dependency
    from tqdm.auto import tqdm as _tqdm
except ImportError:  # pragma: no cover - depends on the environment
    _tqdm = None


class ProgressBar(Protocol):
    def update(self, images: int, loss: float) -> None: ...

    def close(self) -> None: ...


class _Silent:
    def update(self, images: int, loss: float) -> None:
        pass

    def close(self) -> None:
        pass


class _TqdmBar:
    def __init__(self, total: int, desc: str):
        self._bar = _tqdm(total=total, desc=desc, unit="img", unit_scale=True, leave=True,
                          dynamic_ncols=True)

    def update(self, images: int, loss: float) -> None:
        self._bar.set_postfix(loss=f"{loss:.5g}", refresh=False)
        self._bar.update(images)

    def close(self) -> None:
        self._bar.close()


class _PlainBar:
    """``epoch 1/3 [#########-----------]  38400/60000 loss 0.01234  9,512 img/s``.

    Redrawn in place with a carriage return at most 10 times a second on a terminal; when stderr
    is not a terminal (logs, CI), only the final line of each epoch is written."""

    width = 24

    def __init__(self, total: int, desc: str, stream: IO[str] | None = None):
        self._stream = stream if stream is not None else sys.stderr
        self._total, self._desc = total, desc
        self._done, self._loss = 0, float("nan")
        self._start = self._last_draw = time.perf_counter()
        isatty = getattr(self._stream, "isatty", None)
        self._live = bool(isatty and isatty())

    def _line(self) -> str:
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        filled = self.width * self._done // max(self._total, 1)
        bar = "#" * filled + "-" * (self.width - filled)
        return (f"{self._desc} [{bar}] {self._done:>{len(str(self._total))}}/{self._total} "
                f"loss {self._loss:.5g}  {self._done / elapsed:,.0f} img/s")

    def update(self, images: int, loss: float) -> None:
        self._done += images
        self._loss = loss
        now = time.perf_counter()
        if self._live and now - self._last_draw >= 0.1:
            self._last_draw = now
            self._stream.write("\r" + self._line())
            self._stream.flush()

    def close(self) -> None:
        self._stream.write(("\r" if self._live else "") + self._line() + "\n")
        self._stream.flush()


def progress_bar(enabled: bool, total: int, desc: str) -> ProgressBar:
    """A bar with ``update(images, running_loss)`` and ``close()``."""
    if not enabled:
        return _Silent()
    if _tqdm is not None:
        return _TqdmBar(total, desc)
    return _PlainBar(total, desc)
