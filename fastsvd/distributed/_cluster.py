"""Talking to the Dask cluster: tasks per block, ordered reductions, and the
functions that run on the workers."""

from __future__ import annotations

import threading

import distributed
import numpy as np

from .._threads import thread_limits

# Arrays above this size are scattered to the workers once per call instead of
# travelling inside every task.
_SCATTER_BYTES = 1 << 16
# Partial sums gathered to the driver once a reduction is down to this many.
_DRIVER_SUM = 8
#: A worker process runs one block task at a time: the kernels of one task
#: already use all the cores the worker was given.
BLOCK_LOCK = threading.Lock()


class WorkerLostError(RuntimeError):
    """A worker holding part of the data was lost and the data could not be
    recomputed; the computation stopped instead of returning a wrong answer."""


class BlockArray:
    """Anything held as one future per row block (``futures``), with the
    ``shape`` and ``dtype`` of the whole."""

    futures: list
    shape: tuple
    dtype: np.dtype


class PerBlock(list):
    """A task argument with one value per block."""


class DeferredSum:
    """A sum over blocks, gathered when ``float()`` asks for it."""

    def __init__(self, client, futures):
        self.client, self.futures = client, futures

    def __float__(self):
        return float(tree_sum(self.client, self.futures))


# ------------------------------------------------- helpers run on the driver
def client_of(client):
    if client is not None:
        return client
    try:
        return distributed.default_client()
    except ValueError:
        raise ValueError("no distributed.Client is active: start one (e.g. "
                         "distributed.Client(cluster_address) or distributed.LocalCluster()) or "
                         "pass client=...") from None


def place(items, positions, values):
    items = list(items)
    for i, value in zip(positions, values, strict=True):
        items[i] = value
    return items


def each(client, func, *args):
    """``func`` once per block, submitted in one batch: a :class:`PerBlock`
    or :class:`TallBlocks` argument gives its value for the block, any other
    is shared (large arrays are sent to every worker once)."""
    columns = [PerBlock(a.futures) if isinstance(a, BlockArray) else a for a in args]
    n = max(len(c) for c in columns if isinstance(c, PerBlock))
    columns = [c if isinstance(c, PerBlock) else [_shared(client, c)] * n for c in columns]
    return client.map(func, *columns, pure=False)


def _shared(client, value):
    """Large arrays go to every worker once; other values travel with the tasks."""
    if isinstance(value, np.ndarray) and value.nbytes > _SCATTER_BYTES:
        return client.scatter(value, broadcast=True, hash=False)
    return value


def empty_like(value):
    if isinstance(value, BlockArray):
        return np.empty((0, *value.shape[1:]), value.dtype)
    return value


def check_aligned(rows, other_rows):
    if list(rows) != list(other_rows):
        raise ValueError("the two row-block arrays are split into different row blocks.")


def gather(client, futures):
    """``client.gather`` that turns the loss of data held only by a dead
    worker into a clear :class:`WorkerLostError`."""
    try:
        return client.gather(futures)
    except (distributed.client.FutureCancelledError, distributed.scheduler.KilledWorker) as exc:
        raise WorkerLostError(
            "a Dask worker holding part of the data was lost and the data could not be "
            f"recomputed ({type(exc).__name__}: {exc}). Blocks scattered from the driver live "
            "only on their worker; build the RowBlocks from a dask array, dask.delayed loaders "
            "or read_blocks so Dask can reload them, and run again.") from exc


def tree_sum(client, futures):
    """Sum the results pairwise, always in the same order: ``((0+1)+(2+3))+...``.

    The levels run on the workers until at most :data:`_DRIVER_SUM` partial
    sums remain; the driver gathers and finishes those (the same additions in
    the same order, so the same bits, with fewer scheduler round trips).
    """
    while len(futures) > _DRIVER_SUM:
        pairs = _pairs(futures)
        sums = each(client, add, PerBlock(p[0] for p in pairs if len(p) == 2),
                     PerBlock(p[1] for p in pairs if len(p) == 2))
        futures = sums + [p[0] for p in pairs if len(p) == 1]
    partials = gather(client, futures)
    while len(partials) > 1:
        partials = [add(*pair) if len(pair) == 2 else pair[0] for pair in _pairs(partials)]
    return partials[0]


def _pairs(items):
    return [items[i:i + 2] for i in range(0, len(items), 2)]


# ------------------------------------------------- functions run on workers
def locked(func, *args):
    with BLOCK_LOCK:
        return func(*args)


def call(local, method, *args):
    """``local.method(*args)`` on a worker, one block at a time, with BLAS on
    one thread beside the numba kernels (deterministic, no oversubscription)."""
    with BLOCK_LOCK, thread_limits(blas=1 if local.uses_numba else None):
        return getattr(local, method)(*args)



def describe(local):
    """(rows, columns, dtype, stored entries) of a local operator."""
    m, n = local.shape
    return m, n, np.dtype(local.dtype), getattr(local, "nnz", m * n)


def nnz(local):
    return local.nnz


def add(a, b):
    if isinstance(a, tuple):
        return tuple(add(x, y) for x, y in zip(a, b, strict=True))
    return a + b


def reversed_subtract(block, other):
    return other - block


def hstack(*blocks):
    return np.column_stack(blocks)


def block_inner(a, b):
    return np.asarray(a.T @ b, dtype=np.float64)


def block_qr(block):
    return np.linalg.qr(np.asarray(block, dtype=np.float64))


def block_qr_product(qr, piece, dtype):
    return (qr[0] @ piece).astype(dtype)


def centred_squared_norm(local, mean):
    """``||B - 1 mean^T||_F^2`` of a dense or CSR block, in float64."""
    rows = local.shape[0]
    if hasattr(local, "array"):
        return float(np.sum((local.array.astype(np.float64) - mean) ** 2))
    # stored entries contribute (x - mu_j)^2, the others mu_j^2
    stored_mean = mean[local.indices]
    return float(np.sum((local.data - stored_mean) ** 2) + rows * np.sum(mean ** 2)
                 - np.sum(stored_mean ** 2))
