""":class:`CSROperator`: a CSR matrix whose products run in parallel numba kernels."""

from __future__ import annotations

import threading

import numpy as np

from .._threads import active_threads, over_ranges
from ..kernels.layout import (
    aligned_nbytes,
    balanced_row_chunks,
    cache_aligned_empty,
    cache_aligned_view,
    column_tiles,
    tile_width,
)
from .base import Operator

# Scratch memory the transpose product may use for its per-chunk partial sums;
# it caps the number of chunks for very wide matrices.
_PARTIAL_BUDGET_BYTES = 256 * 2**20
#: Row chunks of ``A @ X`` (chunks, not threads: the result never depends on
#: the thread count).
MATMAT_CHUNKS = 64
_RMATMAT_CHUNKS = (2, 8)
# Above this size of one partial sum (n_cols x k) the transpose product splits
# the columns among the threads instead (no partial sums; docs/design.md).
_COLUMN_SPLIT_BYTES = 6 * 2**20


class CSROperator(Operator):
    """A CSR matrix; products run in the parallel numba kernels of
    :mod:`fastsvd.kernels.products`.

    The structure must already be validated (:func:`fastsvd.as_operator`
    does it); the arrays are used in place (strided ones are copied: the
    kernels read rows as contiguous runs). Products keep scratch buffers from
    one call to the next, per thread, so one operator can serve several
    threads at once.
    """

    uses_numba = True

    def __init__(self, indptr, indices, data, shape):
        self.indptr = np.ascontiguousarray(indptr)
        indices = np.ascontiguousarray(indices)
        self.indices = indices.view(np.uint32 if indices.dtype.itemsize == 4 else np.uint64)
        self.data = np.ascontiguousarray(data)
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = data.dtype
        self._chunks = {}
        self._column_splits = {}
        self._local = threading.local()  # this thread's scratch and tall buffer

    def __getstate__(self):
        # Scratch is per thread and per process: it does not travel (Dask
        # moves operators between workers).
        return {key: value for key, value in self.__dict__.items() if key != "_local"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    @classmethod
    def from_scipy(cls, matrix) -> CSROperator:
        """Wrap a scipy CSR matrix whose structure is known to be valid."""
        return cls(matrix.indptr, matrix.indices, matrix.data, matrix.shape)

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def row_chunks(self, n_chunks: int) -> np.ndarray:
        """Row boundaries of ``n_chunks`` chunks of about equal work (cached)."""
        chunks = self._chunks.get(n_chunks)
        if chunks is None:
            chunks = self._chunks[n_chunks] = balanced_row_chunks(self.indptr, n_chunks)
        return chunks

    # ---- products
    def matmat(self, X):
        X = self._block(X)
        return self._matmat_into(X, np.empty((self.shape[0], X.shape[1]), dtype=self.dtype))

    def normal_matmat(self, X):
        """``A.T @ (A @ X)``; the tall ``A @ X`` is written into one buffer kept
        from call to call (a fresh block per Krylov step paid its page faults
        every time)."""
        X = self._block(X)
        return self.rmatmat(self._matmat_into(X, self._tall_block(X.shape[1])))

    def final_matmat(self, X):
        """:meth:`matmat` into the memory of :meth:`normal_matmat`'s tall
        buffer, grown in place to fit (its pages are mapped already), which the
        result then owns; the rest of the scratch is released."""
        X = self._block(X)
        shape = (self.shape[0], X.shape[1])
        buffer = getattr(self._local, "tall", None)
        self.release_scratch()
        if buffer is None:
            return self.matmat(X)
        try:  # refused while a view of the buffer is alive
            buffer.resize(max(buffer.size, aligned_nbytes(shape, self.dtype)))
        except ValueError:
            return self.matmat(X)
        return self._matmat_into(X, cache_aligned_view(buffer, shape, self.dtype))

    def release_scratch(self):
        self._local.partial = self._local.tall = None

    def rmatmat(self, Y):
        from ..kernels import products

        Y = self._block(Y)
        k = Y.shape[1]
        out = np.empty((self.shape[1], k), dtype=self.dtype)
        split = (self._column_split() if self.shape[1] * k * self.dtype.itemsize
                 > _COLUMN_SPLIT_BYTES else None)
        if split is not None:
            bounds, starts = split
            over_ranges(lambda first, stop: [
                products.csr_rmatmat_by_columns(self.indptr, self.indices, self.data, Y, bounds,
                                                block, starts, out)
                for block in range(first, stop)], bounds.size - 1)
            return out
        width = tile_width(k)
        n_chunks = self.n_partials(k if width is None else -(-k // width) * width)
        if width is None:
            partial = self.partial_scratch((n_chunks, 1, self.shape[1], k))
            kernel = products.csr_rmatmat
        else:
            partial = self.partial_scratch((n_chunks, -(-k // width), self.shape[1], width))
            kernel = products.tiled_products(width).rmatmat
        chunks = self.row_chunks(n_chunks)
        over_ranges(lambda first, stop: kernel(self.indptr, self.indices, self.data, Y, chunks,
                                               first, stop, partial), n_chunks)
        reduce_partials(partial, out)
        return out

    def _matmat_into(self, X, out):
        from ..kernels import products

        chunks = self.row_chunks(MATMAT_CHUNKS)
        width = tile_width(X.shape[1])
        if width is None:
            kernel = products.csr_matmat
        else:
            kernel, X = products.tiled_products(width).matmat, column_tiles(X, width)
        over_ranges(lambda first, stop: kernel(self.indptr, self.indices, self.data, X, chunks,
                                               first, stop, out), MATMAT_CHUNKS)
        return out

    def _tall_block(self, k):
        """A cache-aligned ``(n_rows, k)`` block in this thread's tall buffer
        (grown when too small)."""
        shape = (self.shape[0], k)
        buffer = getattr(self._local, "tall", None)
        if buffer is None or buffer.size < aligned_nbytes(shape, self.dtype):
            buffer = self._local.tall = np.empty(aligned_nbytes(shape, self.dtype),
                                                 dtype=np.uint8)
        return cache_aligned_view(buffer, shape, self.dtype)

    def _column_split(self):
        """``(column_bounds, segment_starts)``: the columns in one block per
        thread, of about equal nonzeros, and where each row's entries in each
        block start; None when some row's indices are unsorted. The result of
        the split product does not depend on the number of blocks."""
        from ..kernels import products

        n_blocks = min(active_threads(), self.shape[1])
        if n_blocks not in self._column_splits:
            work = np.concatenate([[0], np.cumsum(self.column_counts())])
            bounds = np.searchsorted(work, np.linspace(0, work[-1], n_blocks + 1))
            bounds[0], bounds[-1] = 0, self.shape[1]
            bounds = np.maximum.accumulate(bounds).astype(np.int64)
            starts = np.empty((self.shape[0], n_blocks + 1), dtype=np.int64)
            unsorted = sum(over_ranges(
                lambda first, stop: products.csr_segment_starts(self.indptr, self.indices, bounds,
                                                                first, stop, starts),
                self.shape[0]))
            self._column_splits[n_blocks] = None if unsorted else (bounds, starts)
        return self._column_splits[n_blocks]

    # ---- partial sums of the transpose products
    def n_partials(self, k: int) -> int:
        """Row chunks of a transpose product of ``k`` columns: fixed by the
        matrix and ``k`` (never by the thread count, which keeps results
        deterministic). Each chunk costs a partial sum of ``n_cols x k`` that
        is zeroed and reduced through memory, about as much as scattering 64
        nonzeros per column: keep it within budget and small next to the
        ``nnz x k`` scatter."""
        low, high = _RMATMAT_CHUNKS
        n_cols = self.shape[1]
        by_memory = _PARTIAL_BUDGET_BYTES // max(1, n_cols * k * self.dtype.itemsize)
        by_work = self.nnz // max(1, 64 * n_cols)
        return int(np.clip(min(by_memory, by_work), low, high))

    def partial_scratch(self, shape) -> np.ndarray:
        """This thread's cache-aligned scratch for partial sums of ``shape``."""
        scratch = getattr(self._local, "partial", None)
        if scratch is None or scratch.shape != shape:
            scratch = self._local.partial = cache_aligned_empty(shape, self.dtype)
        return scratch

    # ---- structure
    def with_values(self, values: np.ndarray) -> CSROperator:
        """The same sparsity structure with other stored values (shares chunking)."""
        twin = CSROperator(self.indptr, self.indices, values, self.shape)
        twin._chunks = self._chunks
        return twin

    def row_counts(self) -> np.ndarray:
        """Stored entries per row (float64)."""
        return np.diff(self.indptr).astype(np.float64)

    def column_counts(self) -> np.ndarray:
        """Stored entries per column (float64)."""
        signed = self.indices.view(np.int32 if self.indices.itemsize == 4 else np.int64)
        return np.bincount(signed, minlength=self.shape[1]).astype(np.float64)


def reduce_partials(partial: np.ndarray, out: np.ndarray) -> None:
    """``out = sum_c partial[c]`` (tiles laid out side by side, padding
    dropped), added in chunk order, over column blocks in parallel."""
    from ..kernels import products

    over_ranges(lambda first, stop: products.reduce_partials(partial, out, first, stop),
                out.shape[0])
