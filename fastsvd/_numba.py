"""Numba settings shared by every kernel, and thread control.

Every kernel in fastsvd is decorated through :func:`jit`, so the compiler
options live in one place. Nothing here compiles anything: kernels compile on
first call and are cached on disk (``cache=True``), so a second process starts
warm. numba itself is imported on first use, which keeps ``import fastsvd``
fast.
"""

from __future__ import annotations

import contextlib
import numbers
import os

# Restricted fast-math: allow reassociation and contraction (vectorised sums,
# FMA) but never ``nnan``/``ninf``, which would compile NaN checks away.
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})


def jit(parallel: bool = False):
    """Decorator for a fastsvd kernel: nopython, cached, restricted fast-math."""
    import numba

    return numba.njit(cache=True, nogil=True, parallel=parallel, fastmath=set(FASTMATH))


def max_threads() -> int:
    """Number of threads numba was started with (``NUMBA_NUM_THREADS``)."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def active_threads() -> int:
    """Number of threads numba kernels use now (``numba.get_num_threads``)."""
    import numba

    return int(numba.get_num_threads())


def check_n_threads(n_threads) -> int | None:
    """Validate an ``n_threads`` argument; ``None`` means all available threads."""
    if n_threads is None:
        return None
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be an integer or None, got {type(n_threads).__name__}.")
    n_threads = int(n_threads)
    limit = max_threads()
    if not 1 <= n_threads <= limit:
        raise ValueError(
            f"n_threads must be between 1 and {limit} (NUMBA_NUM_THREADS), got {n_threads}. "
            "Pass None to use all threads."
        )
    return n_threads


@contextlib.contextmanager
def threads(n_threads: int | None, *, single_threaded_blas: bool = False):
    """Run the block with ``n_threads`` numba threads (``None``: leave the
    count alone) and restore the previous count afterwards.

    With ``single_threaded_blas`` (and threadpoolctl installed), BLAS runs on
    one thread inside the block. Algorithms on sparse operators do only small
    dense work between numba kernels, and idle OpenBLAS threads spin on the
    cores the kernels need next: on two cores that contention made a small
    sparse SVD ~7x slower. One BLAS thread also makes that dense work
    bit-identical whatever BLAS's own thread setting.

    BLAS threads are otherwise left alone (dense operators run on BLAS): set
    them with threadpoolctl or ``OPENBLAS_NUM_THREADS``.
    """
    with contextlib.ExitStack() as stack:
        if single_threaded_blas:
            stack.enter_context(_blas_limit(1))
        if n_threads is not None:
            import numba

            previous = numba.get_num_threads()
            numba.set_num_threads(n_threads)
            stack.callback(numba.set_num_threads, previous)
        yield


def _blas_limit(n):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def disable_jit() -> bool:
    """True when ``NUMBA_DISABLE_JIT`` is set (kernels run as plain Python)."""
    return os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")
