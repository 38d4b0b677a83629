"""Progress reporting: a tqdm bar when tqdm is installed, plain lines otherwise.

:func:`progress` returns an object with ``update(n=1)``, ``set_postfix(**values)``
and ``close()`` (and works as a context manager). With ``enabled=False`` it
does nothing; without tqdm it writes one line to standard error at most every
``interval`` seconds, and a last line on ``close``.
"""

from __future__ import annotations

import sys
import time


def progress(*, total: int | None = None, desc: str = "", unit: str = "it",
             enabled: bool = True, interval: float = 1.0, scale: bool = False):
    """A progress bar over ``total`` units (``None``: unknown). ``scale``
    shows large counts with SI prefixes (bytes, ratings)."""
    if not enabled:
        return _Silent()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Lines(total, desc, unit, interval)
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=scale, leave=True,
                file=sys.stderr, dynamic_ncols=True)


class _Silent:
    def update(self, n=1):
        pass

    def set_postfix(self, **values):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Lines(_Silent):
    """One line per ``interval`` seconds: ``desc: n/total unit, key=value ...``."""

    def __init__(self, total, desc, unit, interval):
        self.total, self.desc, self.unit, self.interval = total, desc, unit, interval
        self.n, self.values, self._last = 0, {}, time.monotonic()

    def update(self, n=1):
        self.n += n
        if time.monotonic() - self._last >= self.interval:
            self._write()

    def set_postfix(self, **values):
        self.values = values

    def close(self):
        self._write()

    def _write(self):
        self._last = time.monotonic()
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        extra = ", ".join(f"{key}={_short(value)}" for key, value in self.values.items())
        print(f"{self.desc}: {done} {self.unit}" + (f", {extra}" if extra else ""),
              file=sys.stderr, flush=True)


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
