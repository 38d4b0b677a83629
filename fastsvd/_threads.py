"""The thread policy: one place that sets, and restores, every thread count.

fastsvd runs three kinds of parallel work: numba kernels (``prange`` loops),
BLAS calls from numpy/scipy, and the tall-block products of
:mod:`fastsvd.algorithms.tall`, which spread single-threaded BLAS calls over
row slabs on a pool of Python threads. All three follow the numba thread count
set by :func:`thread_limits`:

- ``thread_limits(n_threads)`` sets numba's count for the calling thread
  (numba keeps it per thread) and restores it on exit;
- ``thread_limits(..., blas=1)`` runs BLAS on one thread inside the block and
  restores it afterwards. Algorithms on numba operators ask for it: they do
  only small dense work between kernels, and idle OpenBLAS threads spinning
  on the cores the kernels need next slow a small sparse SVD several-fold.
  One BLAS thread also makes that dense work bit-identical whatever BLAS's own
  setting. Several threads may hold the same limit at once: the first sets it,
  the last restores it;
- :func:`map_in_parallel` runs a function over a fixed list of items on as
  many threads as numba uses now.

:data:`KERNEL_LOCK` serialises launches of parallel numba kernels that may
come from several Python threads at once (a shared operator, a Dask worker):
numba's threading layers are not all safe for concurrent launches.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

from ._checks import check_int

KERNEL_LOCK = threading.RLock()


def max_threads() -> int:
    """Number of threads numba was started with (``NUMBA_NUM_THREADS``)."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def active_threads() -> int:
    """Number of threads numba kernels use now in this thread."""
    import numba

    return int(numba.get_num_threads())


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
            import numba

            previous = numba.get_num_threads()
            numba.set_num_threads(n_threads)
            stack.callback(numba.set_num_threads, previous)
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
    over as many threads as numba uses now (the calling thread takes the
    first share). For functions that release the GIL (BLAS calls)."""
    items = list(items)
    workers = min(active_threads(), len(items))
    if workers <= 1:
        return [function(item) for item in items]
    shares = [items[i * len(items) // workers:(i + 1) * len(items) // workers]
              for i in range(workers)]
    pending = [_pool(workers - 1).submit(lambda share=share: [function(x) for x in share])
               for share in shares[1:]]
    results = [function(item) for item in shares[0]]
    for future in pending:
        results.extend(future.result())
    return results


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
