"""The compiler settings of every fastsvd kernel, in one place.

Every kernel is decorated through :func:`jit`. Nothing here compiles anything:
kernels compile on first call and are cached on disk (``cache=True``), so a
second process starts warm. numba itself is imported on first use, which keeps
``import fastsvd`` fast.

Where the cache lives: numba writes it beside the source files when it can, and
otherwise in a per-user cache directory (``$NUMBA_CACHE_DIR`` if set, else the
platform's user cache folder, e.g. ``~/.cache/numba``), so a read-only install
still compiles each kernel once.
"""

from __future__ import annotations

import os

# Restricted fast-math: allow reassociation and contraction (vectorised sums,
# FMA) but never ``nnan``/``ninf``, which would compile NaN checks away.
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})


def jit(parallel: bool = False, inline: bool = False):
    """Decorator for a fastsvd kernel: nopython, cached, restricted fast-math.
    ``inline`` inlines a helper into its callers before typing, so constants
    of the caller (a tile width) reach its loops."""
    import numba

    return numba.njit(cache=True, nogil=True, parallel=parallel, fastmath=set(FASTMATH),
                      inline="always" if inline else "never")


def disable_jit() -> bool:
    """True when ``NUMBA_DISABLE_JIT`` is set (kernels run as plain Python)."""
    return os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")
