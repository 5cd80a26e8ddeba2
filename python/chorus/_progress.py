"""Progress bars for chorus's jobs: tqdm's (Jupyter widget or terminal) when tqdm is installed,
else a plain line on stderr redrawn in place."""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Optional, Union

ProgressCallback = Callable[[str, int, int], None]


class _PlainBar:
    """A one-line text bar on stderr (no dependencies)."""

    def __init__(self) -> None:
        self._stage = ""
        self._start = time.monotonic()
        self._last = 0.0
        self._open = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self._stage:
            self.close()
            self._stage, self._start = stage, now
        elif now - self._last < 0.2 and done < total:
            return
        self._last = now
        elapsed = now - self._start
        if total <= 1 and done == 0:  # a stage without a measure: elapsed time
            text = f"chorus: {stage} ... {elapsed:.0f} s"
        else:
            frac = min(max(done / total, 0.0), 1.0) if total > 0 else 1.0
            filled = int(frac * 30)
            eta = (elapsed / frac - elapsed) if frac > 0 else float("nan")
            text = (f"chorus: {stage} [{'#' * filled}{'.' * (30 - filled)}] {100 * frac:5.1f}%"
                    f" {elapsed:.0f} s" + (f", ETA {eta:.0f} s" if frac < 1 and eta == eta else ""))
        sys.stderr.write("\r" + text.ljust(79))
        sys.stderr.flush()
        self._open = True

    def close(self) -> None:
        if self._open:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._open = False


class _TqdmBar:
    """tqdm.auto: a widget in Jupyter, a text bar in a terminal; one bar per stage."""

    def __init__(self, tqdm: Any) -> None:
        self._tqdm = tqdm
        self._bar: Any = None
        self._stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage or self._bar is None:
            self.close()
            self._stage = stage
            unit = "pairs" if stage == "score" else "steps"
            self._bar = self._tqdm(total=max(total, 1), desc=f"chorus {stage}", unit=unit,
                                   unit_scale=True, leave=False)
        self._bar.n = min(done, self._bar.total)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_progress(progress: Union[bool, ProgressCallback, None]) -> Any:
    """The progress reporter a job calls with (stage, done, total), or None for none.

    ``True``: a tqdm bar when tqdm is installed, else a plain text line on stderr. A callable
    is called as is (between units of work, with the GIL held)."""
    if progress is None or progress is False:
        return None
    if not isinstance(progress, bool):
        if not callable(progress):
            from ._core import InputError

            raise InputError("progress must be True, False or a callable (stage, done, total), "
                             f"not {progress!r}")
        return progress
    try:
        from tqdm.auto import tqdm  # optional dependency (pip install chorus[progress])
    except ImportError:
        return _PlainBar()
    return _TqdmBar(tqdm)


def close_progress(bar: Optional[Any]) -> None:
    close = getattr(bar, "close", None)
    if close is not None:
        close()
