"""The thread policy: one place that sets, and restores, every thread count.

fastsvd runs two kinds of parallel work: its own, on one persistent pool of
Python threads (:func:`map_in_parallel`, :func:`over_ranges`): the numba
kernels, which are serial and release the GIL, each over a range of row
chunks, and the tall-block products of :mod:`fastsvd.algorithms.tall`, which
spread single-threaded BLAS calls over row slabs; and BLAS calls of numpy and
scipy. :func:`thread_limits` sets both counts:

- ``thread_limits(n_threads)`` sets the number of threads fastsvd's work uses
  in the calling thread and restores it on exit (no kernel uses numba's own
  ``prange`` threads);
- ``thread_limits(..., blas=1)`` runs BLAS on one thread inside the block and
  restores it afterwards. Algorithms on numba operators ask for it: they do
  only small dense work between kernels, and idle OpenBLAS threads spinning
  on the cores the kernels need next slow a small sparse SVD several-fold.
  One BLAS thread also makes that dense work bit-identical whatever BLAS's own
  setting. Several threads may hold the same limit at once: the first sets it,
  the last restores it;
- :func:`map_in_parallel` runs a function over a fixed list of items on that
  many threads.

Results never depend on the thread count: work is split into pieces fixed by
the data (row chunks, slabs), and each piece's result is combined in piece
order.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from ._checks import check_int

_setting = threading.local()  # this thread's count (``n``) and whether it is a pool thread


def max_threads() -> int:
    """The most threads fastsvd uses: ``NUMBA_NUM_THREADS`` (default: the
    number of CPUs)."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def active_threads() -> int:
    """Number of threads fastsvd's parallel work uses now, in this thread."""
    return getattr(_setting, "n", None) or max_threads()


def check_n_threads(n_threads, *, name: str = "n_threads") -> int | None:
    """``None`` (all threads) or an integer in ``[1, NUMBA_NUM_THREADS]``."""
    if n_threads is None:
        return None
    limit = max_threads()
    return check_int(n_threads, name=name, low=1, high=limit,
                     hint=f"Pass None to use all {limit} threads (NUMBA_NUM_THREADS).")


@contextlib.contextmanager
def thread_limits(n_threads: int | None = None, *, blas: int | None = None):
    """Run the block with ``n_threads`` numba threads and ``blas`` BLAS threads.

    ``None`` leaves a count as it is. Both are restored on exit, also when the
    block raises. ``n_threads`` must already be checked
    (:func:`check_n_threads`).
    """
    with contextlib.ExitStack() as stack:
        if blas is not None:
            stack.enter_context(_blas.limit(blas))
        if n_threads is not None:
            stack.callback(setattr, _setting, "n", getattr(_setting, "n", None))
            _setting.n = n_threads
        yield


class _BlasLimit:
    """threadpoolctl's BLAS limit, shared by the threads that ask for it.

    threadpoolctl changes a process-wide setting: two threads that each set
    and restore it could restore in the wrong order. Here the first thread to
    ask for a limit sets it and the last one to leave restores it.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._holders = 0
        self._value = None
        self._controller = None

    @contextlib.contextmanager
    def limit(self, n: int):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # threadpoolctl is optional: BLAS threads stay as they are
            yield
            return
        with self._lock:
            shared = self._holders > 0 and self._value == n
            if shared or self._holders == 0:
                if not shared:
                    self._controller = threadpool_limits(limits=n, user_api="blas")
                    self._value = n
                self._holders += 1
                nested = None
            else:  # another limit is held: apply this one on top, for this block only
                nested = threadpool_limits(limits=n, user_api="blas")
        try:
            yield
        finally:
            with self._lock:
                if nested is not None:
                    nested.restore_original_limits()
                else:
                    self._holders -= 1
                    if self._holders == 0:
                        self._controller.restore_original_limits()
                        self._controller = self._value = None


_blas = _BlasLimit()


def map_in_parallel(function, items) -> list:
    """``[function(item) for item in items]``, the items shared out in order
    over :func:`active_threads` threads (the calling thread takes the first
    share). For functions that release the GIL (numba kernels, BLAS calls).
    Called from one of the pool's own threads, it runs serially."""
    items = list(items)
    workers = min(active_threads(), len(items))
    if workers <= 1 or getattr(_setting, "in_pool", False):
        return [function(item) for item in items]
    shares = [items[i * len(items) // workers:(i + 1) * len(items) // workers]
              for i in range(workers)]
    pending = [_pool(workers - 1).submit(_run_share, function, share) for share in shares[1:]]
    results = [function(item) for item in shares[0]]
    for future in pending:
        results.extend(future.result())
    return results


def over_ranges(call, n_items: int) -> list:
    """``call(first, stop)`` for contiguous ranges of ``range(n_items)``, one
    per thread, in parallel; the results in range order."""
    workers = max(1, min(active_threads(), n_items))
    bounds = [i * n_items // workers for i in range(workers + 1)]
    return map_in_parallel(lambda span: call(*span), list(itertools.pairwise(bounds)))


def _run_share(function, share):
    _setting.in_pool = True
    return [function(item) for item in share]


_pool_lock = threading.Lock()
_pool_state: list = []  # [executor, its number of threads] once created


def _pool(workers: int) -> ThreadPoolExecutor:
    """The persistent pool of :func:`map_in_parallel`, grown to at least
    ``workers`` threads (threads start once, not at every call)."""
    with _pool_lock:
        if not _pool_state or _pool_state[1] < workers:
            if _pool_state:
                _pool_state[0].shutdown(wait=False)
            _pool_state[:] = [ThreadPoolExecutor(workers, thread_name_prefix="fastsvd"), workers]
        return _pool_state[0]
