"""fastsvd on a Dask cluster: matrices held as row blocks on the workers.

A matrix that outgrows one machine is split into consecutive row blocks
(scipy.sparse CSR or dense), each loaded and kept on a Dask worker, where the
numba kernels work on it. The algorithms are the same code as in memory:
they see a :class:`DistributedOperator`, whose ``matmat`` is blockwise and
returns a :class:`TallBlocks` that stays on the workers, and whose
``rmatmat`` sums per-block products by a tree reduction. Tall-side
orthonormalisation (CholeskyQR2, with a TSQR fallback) reduces ``k x k`` Gram
matrices to the driver; only short-side blocks (``n x k``) and ``k x k``
matrices travel.

Entry points: :func:`fastsvd.svd`, :class:`fastsvd.PCA`,
:class:`fastsvd.TruncatedSVD` and :class:`fastsvd.SoftImpute` (``method="als"``)
accept a ``dask.array.Array`` chunked along rows or a :class:`RowBlocks`,
run on the active ``distributed.Client`` and return numpy results.

Reproducibility: random numbers are drawn on the driver, on the short side
only; every block computes deterministically and partial sums are added in a
fixed tree order, so the same seed gives the same bits on any cluster layout
of the same blocks, and the same result as in memory to rounding.

Needs ``pip install 'fastsvd[dask]'``.
"""

from __future__ import annotations

import operator
import threading

import numpy as np
import scipy.sparse as sp

try:
    import distributed
    from dask.delayed import Delayed, delayed
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("fastsvd.distributed needs dask and distributed: "
                      "pip install 'fastsvd[dask]'") from exc

from ._linalg import gram as _local_gram
from ._numba import threads
from ._operators import CenteredOperator, Operator

__all__ = ["DistributedOperator", "RowBlocks", "TallBlocks", "WorkerLostError", "read_blocks"]

# Arrays above this size are scattered to the workers once per call instead of
# travelling inside every task.
_SCATTER_BYTES = 1 << 16
# Partial sums gathered to the driver once a reduction is down to this many.
_DRIVER_SUM = 8
# A worker process runs one block task at a time: the numba kernels already use
# all its cores, and numba's default threading layer is not thread-safe.
_BLOCK_LOCK = threading.Lock()


class WorkerLostError(RuntimeError):
    """A worker holding part of the data was lost and the data could not be
    recomputed; the computation stopped instead of returning a wrong answer."""


# ----------------------------------------------------------------- the input
class RowBlocks:
    """A matrix held on Dask workers as consecutive row blocks.

    Each block is a 2-D numpy array or scipy.sparse matrix with the same number
    of columns; block ``i`` holds the rows after those of blocks ``0..i-1``.
    Build one with :meth:`from_dask`, :meth:`from_blocks` or
    :func:`read_blocks`; the driver never holds the whole matrix (unless it
    passes in-memory blocks itself).

    Attributes
    ----------
    futures : list of distributed.Future
        The blocks, on the workers.
    client : distributed.Client
    """

    def __init__(self, futures, client=None):
        self.client = _client(client)
        self.futures = list(futures)
        if not self.futures:
            raise ValueError("RowBlocks needs at least one block; got none.")

    @classmethod
    def from_dask(cls, array, client=None) -> RowBlocks:
        """The chunks of a 2-D ``dask.array.Array`` chunked along rows only
        (one chunk across the columns); computed on the workers."""
        if array.ndim != 2:
            raise ValueError(f"the dask array must be 2-dimensional, got {array.ndim} "
                             "dimension(s).")
        if array.numblocks[1] != 1:
            raise ValueError(f"the dask array is chunked along columns too ({array.numblocks[1]} "
                             "column chunks); fastsvd needs whole rows in each chunk: "
                             "pass array.rechunk({1: -1}).")
        client = _client(client)
        return cls(client.compute(list(array.to_delayed()[:, 0])), client)

    @classmethod
    def from_blocks(cls, blocks, client=None) -> RowBlocks:
        """Row blocks given as in-memory arrays (scattered to the workers),
        ``dask.delayed`` objects (computed there) or futures."""
        client = _client(client)
        blocks = list(blocks)
        futures = [None] * len(blocks)
        local = [i for i, b in enumerate(blocks) if isinstance(b, np.ndarray) or sp.issparse(b)]
        lazy = [i for i, b in enumerate(blocks) if isinstance(b, Delayed)]
        if local:
            scattered = client.scatter([blocks[i] for i in local], hash=False)
            futures = _place(futures, local, scattered)
        if lazy:
            futures = _place(futures, lazy, client.compute([blocks[i] for i in lazy]))
        for i, block in enumerate(blocks):
            if futures[i] is None:
                if not isinstance(block, distributed.Future):
                    raise TypeError(f"block {i} is a {type(block).__name__}; blocks must be numpy "
                                    "arrays, scipy.sparse matrices, dask.delayed objects or "
                                    "distributed futures.")
                futures[i] = block
        return cls(futures, client)


def read_blocks(paths, reader=sp.load_npz, client=None) -> RowBlocks:
    """Row blocks read from files on the workers, one block per path in
    order (``reader(path)`` returns the block; default
    ``scipy.sparse.load_npz``). The files must be readable from the workers."""
    reader = delayed(reader, pure=True)
    return RowBlocks.from_blocks([reader(str(path)) for path in paths], client)


def as_row_blocks(X, client=None) -> RowBlocks:
    """``X`` as :class:`RowBlocks` (a dask array is chunked along rows)."""
    if isinstance(X, RowBlocks):
        return X
    return RowBlocks.from_dask(X, client)


def matrix_operator(X, *, name="A") -> DistributedOperator:
    """The operator of a distributed matrix, each block validated on its worker
    (:func:`fastsvd._validation.as_operator`)."""
    return DistributedOperator.build(as_row_blocks(X), _matrix_block, name)


def ratings_operator(X) -> DistributedOperator:
    """The observed-ratings operator of blocks of sparse ratings (rows are
    users), each validated on its worker as :class:`fastsvd.ratings.Ratings`
    (duplicates are an error, every stored entry is a rating)."""
    return DistributedOperator.build(as_row_blocks(X), _ratings_block, "ratings")


# -------------------------------------------------------------- the operator
class DistributedOperator(Operator):
    """The operator protocol over row blocks on Dask workers.

    ``matmat(X)`` multiplies every block by ``X`` where it lies and returns a
    :class:`TallBlocks`; ``rmatmat(Y)`` sums the per-block products
    ``A_i^T Y_i`` by a tree reduction and returns a numpy array. Any other
    method of the blocks' local operators is reached the same way through
    :meth:`map_blocks` (row-side results) and :meth:`sum_blocks` (sums).
    """

    distributed = True

    def __init__(self, client, blocks, row_counts, n_cols, dtype, nnz):
        self.client = client
        self.blocks = list(blocks)
        self.rows = [int(r) for r in row_counts]
        self.shape = (sum(self.rows), int(n_cols))
        self.dtype = np.dtype(dtype)
        self.nnz = int(nnz)
        self.first_rows = np.concatenate([[0], np.cumsum(self.rows)[:-1]]).astype(np.int64)

    @classmethod
    def build(cls, row_blocks, make_local, name):
        """Turn every block into a local operator on its worker and check that
        the blocks fit together."""
        client = row_blocks.client
        n = len(row_blocks.futures)
        blocks = _each(client, make_local, _PerBlock(row_blocks.futures),
                       _PerBlock(f"{name} block {i}" for i in range(n)))
        facts = _gather(client, _each(client, _describe, _PerBlock(blocks)))
        (_, n_cols, dtype, _), rows = facts[0], [f[0] for f in facts]
        for i, (_, cols, block_dtype, _) in enumerate(facts):
            if cols != n_cols:
                raise ValueError(f"{name} block {i} has {cols} columns but block 0 has {n_cols}: "
                                 "every row block needs the same columns.")
            if block_dtype != dtype:
                raise ValueError(f"{name} block {i} computes in {block_dtype} but block 0 in "
                                 f"{dtype}: give all blocks one dtype (e.g. astype(np.float32)).")
        return cls(client, blocks, rows, n_cols, dtype, sum(f[3] for f in facts))

    def _twin(self, blocks, nnz=None):
        return DistributedOperator(self.client, blocks, self.rows, self.shape[1], self.dtype,
                                   self.nnz if nnz is None else nnz)

    # ---- the protocol
    def matmat(self, X):
        return self.map_blocks("matmat", self._block(X), tail=(X.shape[1],), dtype=self.dtype)

    def rmatmat(self, Y):
        return self.sum_blocks("rmatmat", self.tall(Y))

    def column_sums(self):
        return self.sum_blocks("column_sums")

    def normal_matmat(self, X):
        """``A^T A X = sum_i A_i^T (A_i X)``: one task per block, nothing
        row-side leaves the workers."""
        return self.sum_blocks("normal_matmat", self._block(X))

    # ---- generic block access
    def map_blocks(self, method, *args, tail, dtype) -> TallBlocks:
        """``method`` of every block's local operator; the results form a tall
        block with per-block shape ``(rows_i,) + tail``."""
        return TallBlocks(self.client, self._submit(method, args), self.rows, tail, dtype)

    def sum_blocks(self, method, *args):
        """The sum over blocks of ``method`` of each local operator (arrays, or
        tuples of arrays and numbers), reduced pairwise in block order."""
        return _tree_sum(self.client, self._submit(method, args))

    def _submit(self, method, args):
        return _each(self.client, _call, _PerBlock(self.blocks), method, *args)

    def tall(self, Y) -> TallBlocks:
        """A row-side array as a :class:`TallBlocks` aligned with the blocks."""
        if isinstance(Y, TallBlocks):
            _check_aligned(self.rows, Y.rows)
            return Y
        Y = np.asarray(Y)
        if Y.shape[0] != self.shape[0]:
            raise ValueError(f"expected {self.shape[0]} rows, got {Y.shape[0]}.")
        pieces = np.split(Y, np.cumsum(self.rows)[:-1])
        return TallBlocks(self.client, self.client.scatter(pieces, hash=False), self.rows,
                          Y.shape[1:], Y.dtype)

    # ---- PCA support
    def centered(self, mean) -> DistributedOperator:
        """``A - 1 mean^T``, each block centred where it lies."""
        mean = np.asarray(mean, dtype=self.dtype)
        return self._twin(_each(self.client, CenteredOperator, _PerBlock(self.blocks), mean))

    def centred_squared_norm(self, mean) -> float:
        """``||A - 1 mean^T||_F^2`` (float64), never forming the centred blocks."""
        mean = np.asarray(mean, dtype=np.float64)
        parts = _each(self.client, _centred_squared_norm, _PerBlock(self.blocks), mean)
        return float(_tree_sum(self.client, parts))

    # ---- soft-impute's observed-ratings protocol (see CSROperator)
    def residual_times(self, own, other, mult, scale=None):
        """As :meth:`CSROperator.residual_times`; the squared residual is
        summed only when it is converted with ``float()`` (callers that ignore
        it cost no round trip)."""
        pairs = self._submit("residual_times", (self.tall(own), other, mult, scale))
        products = _each(self.client, operator.getitem, _PerBlock(pairs), 0)
        squares = _each(self.client, operator.getitem, _PerBlock(pairs), 1)
        return (TallBlocks(self.client, products, self.rows, (mult.shape[1],), self.dtype),
                _DeferredSum(self.client, squares))

    def factor_gram(self, own, other):
        return self.sum_blocks("factor_gram", self.tall(own), other)

    def residual_rtimes(self, own, other, mult, scale=None):
        return self.sum_blocks("residual_rtimes", self.tall(own), other, self.tall(mult), scale)

    def row_counts(self):
        return self.map_blocks("row_counts", tail=(), dtype=np.float64)

    def column_counts(self):
        return self.sum_blocks("column_counts")

    def value_range(self):
        ranges = _gather(self.client, self._submit("value_range", ()))
        return min(r[0] for r in ranges), max(r[1] for r in ranges)

    def offset_row_sums(self, row_offset, column_offset):
        return self.map_blocks("offset_row_sums", self._row_side(row_offset), column_offset,
                               tail=(), dtype=np.float64)

    def offset_column_sums(self, row_offset, column_offset):
        return self.sum_blocks("offset_column_sums", self._row_side(row_offset), column_offset)

    def minus_offsets(self, row_offset, column_offset):
        return self._twin(self._submit("minus_offsets", (self._row_side(row_offset),
                                                         column_offset)))

    def holdout(self, fraction, key):
        """Split every block as :meth:`CSROperator.holdout` (same entries as
        the whole matrix would give)."""
        first = _PerBlock(self.first_rows.tolist())
        pairs = self._submit("holdout", (fraction, key, first))
        parts = []
        for side in (0, 1):
            blocks = _each(self.client, operator.getitem, _PerBlock(pairs), side)
            nnz = _gather(self.client, _each(self.client, _nnz, _PerBlock(blocks)))
            parts.append(self._twin(blocks, sum(nnz)))
        return tuple(parts)

    def _row_side(self, value):
        return value if np.isscalar(value) else self.tall(value)

    def __repr__(self):
        m, n = self.shape
        return (f"<DistributedOperator {m}x{n} {self.dtype.name} in {len(self.blocks)} row "
                "blocks>")


# ------------------------------------------------------------ the tall side
class TallBlocks:
    """A row-side array (``m x k``, or ``m``) held as row blocks on the workers.

    Supports what the algorithms do with their long side (see
    :mod:`fastsvd._linalg`): ``@`` with a small matrix, elementwise arithmetic
    with scalars, short vectors and aligned ``TallBlocks``, column selection,
    ``gram``/``inner`` (reduced to the driver), ``qr`` (TSQR) and
    :meth:`to_numpy`.
    """

    __array_ufunc__ = None  # numpy defers: ndarray * TallBlocks -> TallBlocks.__rmul__

    def __init__(self, client, futures, rows, tail, dtype):
        self.client = client
        self.futures = list(futures)
        self.rows = list(rows)
        self.shape = (sum(self.rows), *tuple(tail))
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    def map(self, func, *args) -> TallBlocks:
        """``func(block_i, *args)`` for every block (``TallBlocks`` arguments
        give their block ``i``); the result's shape is found on empty blocks."""
        sample = func(np.empty((0, *self.shape[1:]), self.dtype), *[_empty_like(a) for a in args])
        futures = _each(self.client, _locked, func, self, *args)
        return TallBlocks(self.client, futures, self.rows, sample.shape[1:], sample.dtype)

    def _binary(self, func, other):
        if isinstance(other, TallBlocks):
            _check_aligned(self.rows, other.rows)
        return self.map(func, other)

    def __add__(self, other):
        return self._binary(np.add, other)

    __radd__ = __add__

    def __sub__(self, other):
        return self._binary(np.subtract, other)

    def __rsub__(self, other):
        return self.map(_reversed_subtract, other)

    def __mul__(self, other):
        return self._binary(np.multiply, other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self._binary(np.true_divide, other)

    def __matmul__(self, M):
        return self.map(np.matmul, np.asarray(M))

    def __getitem__(self, key):
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None)):
            raise IndexError("TallBlocks supports column selection only: Y[:, columns].")
        return self.map(operator.getitem, key)

    def astype(self, dtype, copy=True):
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        return self.map(np.asarray, np.dtype(dtype))

    def hstack(self, others):
        """``[self, *others]`` side by side (aligned blocks)."""
        for other in others:
            _check_aligned(self.rows, other.rows)
        return self.map(_hstack, *others)

    def gram(self):
        """``Y^T Y`` in float64 on the driver, summed over blocks in order."""
        return _tree_sum(self.client, _each(self.client, _locked, _local_gram, self))

    def inner(self, other):
        """``Y^T Z`` in float64 on the driver, summed over blocks in order."""
        _check_aligned(self.rows, other.rows)
        return _tree_sum(self.client, _each(self.client, _locked, _block_inner, self, other))

    def qr(self):
        """Thin QR by TSQR: local QRs, the QR of their stacked ``R`` factors on
        the driver, and the product back on the blocks. ``Q`` keeps the dtype,
        ``R`` is float64."""
        local = _each(self.client, _locked, _block_qr, self)
        Rs = _gather(self.client, _each(self.client, operator.getitem, _PerBlock(local), 1))
        Q_small, R = np.linalg.qr(np.vstack(Rs))
        ends = np.cumsum([r.shape[0] for r in Rs])
        pieces = np.split(Q_small, ends[:-1])
        futures = _each(self.client, _locked, _block_qr_product, _PerBlock(local),
                        _PerBlock(pieces), self.dtype)
        return TallBlocks(self.client, futures, self.rows, self.shape[1:], self.dtype), R

    def to_numpy(self) -> np.ndarray:
        """Gather the blocks into one array on the driver."""
        return np.concatenate(_gather(self.client, self.futures), axis=0)

    def __repr__(self):
        return f"<TallBlocks {self.shape} {self.dtype.name} in {len(self.futures)} blocks>"


class _DeferredSum:
    """A sum over blocks, gathered when ``float()`` asks for it."""

    def __init__(self, client, futures):
        self.client, self.futures = client, futures

    def __float__(self):
        return float(_tree_sum(self.client, self.futures))


# ------------------------------------------------- helpers run on the driver
def _client(client):
    if client is not None:
        return client
    try:
        return distributed.default_client()
    except ValueError:
        raise ValueError("no distributed.Client is active: start one (e.g. "
                         "distributed.Client(cluster_address) or distributed.LocalCluster()) or "
                         "pass client=...") from None


def _place(items, positions, values):
    items = list(items)
    for i, value in zip(positions, values, strict=True):
        items[i] = value
    return items


class _PerBlock(list):
    """A task argument with one value per block."""



def _each(client, func, *args):
    """``func`` once per block, submitted in one batch: a :class:`_PerBlock`
    or :class:`TallBlocks` argument gives its value for the block, any other
    is shared (large arrays are sent to every worker once)."""
    columns = [_PerBlock(a.futures) if isinstance(a, TallBlocks) else a for a in args]
    n = max(len(c) for c in columns if isinstance(c, _PerBlock))
    columns = [c if isinstance(c, _PerBlock) else [_shared(client, c)] * n for c in columns]
    return client.map(func, *columns, pure=False)


def _shared(client, value):
    """Large arrays go to every worker once; other values travel with the tasks."""
    if isinstance(value, np.ndarray) and value.nbytes > _SCATTER_BYTES:
        return client.scatter(value, broadcast=True, hash=False)
    return value


def _empty_like(value):
    if isinstance(value, TallBlocks):
        return np.empty((0, *value.shape[1:]), value.dtype)
    return value


def _check_aligned(rows, other_rows):
    if list(rows) != list(other_rows):
        raise ValueError("the two row-block arrays are split into different row blocks.")


def _gather(client, futures):
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


def _tree_sum(client, futures):
    """Sum the results pairwise, always in the same order: ``((0+1)+(2+3))+...``.

    The levels run on the workers until at most :data:`_DRIVER_SUM` partial
    sums remain; the driver gathers and finishes those (the same additions in
    the same order, so the same bits, with fewer scheduler round trips).
    """
    while len(futures) > _DRIVER_SUM:
        pairs = _pairs(futures)
        sums = _each(client, _add, _PerBlock(p[0] for p in pairs if len(p) == 2),
                     _PerBlock(p[1] for p in pairs if len(p) == 2))
        futures = sums + [p[0] for p in pairs if len(p) == 1]
    partials = _gather(client, futures)
    while len(partials) > 1:
        partials = [_add(*pair) if len(pair) == 2 else pair[0] for pair in _pairs(partials)]
    return partials[0]


def _pairs(items):
    return [items[i:i + 2] for i in range(0, len(items), 2)]


# ------------------------------------------------- functions run on workers
def _locked(func, *args):
    with _BLOCK_LOCK:
        return func(*args)


def _call(local, method, *args):
    """``local.method(*args)`` on a worker, one block at a time, with BLAS on
    one thread beside the numba kernels (deterministic, no oversubscription)."""
    with _BLOCK_LOCK, threads(None, single_threaded_blas=local.uses_numba):
        return getattr(local, method)(*args)


def _matrix_block(block, name):
    from ._validation import as_operator

    if not (isinstance(block, np.ndarray) or sp.issparse(block)):
        raise TypeError(f"{name} is a {type(block).__name__}; blocks must be numpy arrays or "
                        "scipy.sparse matrices.")
    with _BLOCK_LOCK:
        return as_operator(block, name=name)


def _ratings_block(block, name):
    from ._operators import CSROperator
    from .ratings import Ratings

    if not sp.issparse(block):
        raise TypeError(f"{name} is a {type(block).__name__}; ratings blocks must be "
                        "scipy.sparse matrices whose stored entries are the ratings.")
    if block.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {block.shape}); drop it or give it rows.")
    try:
        csr = Ratings.from_sparse(block).csr
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    return CSROperator(csr.indptr, csr.indices, csr.data, csr.shape)


def _describe(local):
    """(rows, columns, dtype, stored entries) of a local operator."""
    m, n = local.shape
    return m, n, np.dtype(local.dtype), getattr(local, "nnz", m * n)


def _nnz(local):
    return local.nnz


def _add(a, b):
    if isinstance(a, tuple):
        return tuple(_add(x, y) for x, y in zip(a, b, strict=True))
    return a + b


def _reversed_subtract(block, other):
    return other - block


def _hstack(*blocks):
    return np.column_stack(blocks)


def _block_inner(a, b):
    return np.asarray(a.T @ b, dtype=np.float64)


def _block_qr(block):
    return np.linalg.qr(np.asarray(block, dtype=np.float64))


def _block_qr_product(qr, piece, dtype):
    return (qr[0] @ piece).astype(dtype)


def _centred_squared_norm(local, mean):
    """``||B - 1 mean^T||_F^2`` of a dense or CSR block, in float64."""
    rows = local.shape[0]
    if hasattr(local, "array"):
        return float(np.sum((local.array.astype(np.float64) - mean) ** 2))
    # stored entries contribute (x - mu_j)^2, the others mu_j^2
    stored_mean = mean[local.indices]
    return float(np.sum((local.data - stored_mean) ** 2) + rows * np.sum(mean ** 2)
                 - np.sum(stored_mean ** 2))
