"""Peak memory of a block of code, whatever allocates it (numpy, numba, C
libraries): the resident set size sampled on a background thread."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """This process's resident set size (0 where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm") as file:
            return int(file.read().split()[1]) * _PAGE
    except OSError:
        return 0


def _release_free_memory():
    """Return the C heap's free pages to the system (glibc ``malloc_trim``), so
    that memory freed by earlier work does not hide the next peak."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


class PeakMemory:
    """``with PeakMemory() as m: ...`` leaves in ``m.peak`` the largest growth
    of the resident set size over its value on entry, sampled every
    ``interval`` seconds (a peak shorter than that can be missed)."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak = 0

    def __enter__(self):
        _release_free_memory()
        self._start = resident_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, resident_bytes() - self._start)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, resident_bytes() - self._start)
