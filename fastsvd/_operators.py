"""The operator protocol and its implementations.

Every algorithm in fastsvd is written once against :class:`Operator`: a shape,
a dtype and two block products, ``matmat(X) = A @ X`` and
``rmatmat(Y) = A.T @ Y``. Algorithms never look at what the matrix is, so
dense arrays, CSR matrices, implicitly centred or deflated matrices and any
``scipy.sparse.linalg.LinearOperator`` all run through the same code.

Operators compute in their own ``dtype`` (float32 stays float32): blocks of
another dtype are converted on the way in. They never copy or modify the
matrix they wrap.
"""

from __future__ import annotations

import itertools

import numpy as np

# Scratch memory the CSR transpose product may use for its per-chunk partial
# sums; it caps the number of chunks for very wide matrices.
_PARTIAL_BUDGET_BYTES = 256 * 2**20
_MATMAT_CHUNKS = 64
_RMATMAT_CHUNKS = (2, 8)
# Above this size of one partial sum (n_cols x k), the transpose product splits
# the columns among the threads instead (no partial sums). Netflix shape, 2
# threads, split vs tiled partial sums (median of 5): k=200 (14 MB) 0.76 vs
# 0.82 s; k=128 0.52 vs 0.41 s; k=100 (7 MB) 0.37 vs 0.40 s; k=50 (3.5 MB)
# 0.28 vs 0.19 s. (With the generic kernels: k=10 0.18 vs 0.14 s.)
_COLUMN_SPLIT_BYTES = 6 * 2**20


class Operator:
    """A real linear operator ``A`` of shape ``(m, n)``.

    Subclasses set ``shape`` and ``dtype`` and implement ``matmat`` and
    ``rmatmat``; both take a 2-D block and return a new C-contiguous array of
    ``dtype``.
    """

    shape: tuple[int, int]
    dtype: np.dtype
    #: Whether products run numba kernels (then BLAS work beside them is kept
    #: single-threaded, see :func:`fastsvd._numba.threads`).
    uses_numba = False
    #: Whether the rows are held elsewhere (a cluster): ``matmat`` then
    #: returns a tall block that stays there (see :mod:`fastsvd._linalg`) and
    #: the problem is never transposed.
    distributed = False

    def matmat(self, X: np.ndarray) -> np.ndarray:
        """Return ``A @ X`` for a block ``X`` of shape ``(n, k)``."""
        raise NotImplementedError

    def rmatmat(self, Y: np.ndarray) -> np.ndarray:
        """Return ``A.T @ Y`` for a block ``Y`` of shape ``(m, k)``."""
        raise NotImplementedError

    def normal_matmat(self, X: np.ndarray) -> np.ndarray:
        """Return ``A.T @ (A @ X)``; operators that can fuse the two override it."""
        return self.rmatmat(self.matmat(X))

    def release_scratch(self) -> None:
        """Free the buffers kept from one product to the next (call when a
        run of products is over); later products allocate them again."""
        base = getattr(self, "base", None)
        if base is not None:
            base.release_scratch()

    def final_matmat(self, X: np.ndarray) -> np.ndarray:
        """``A @ X`` as the last product of a run: the scratch is released
        (:meth:`release_scratch`) and operators that kept a tall buffer from
        one product to the next write the result into its memory (the
        caller owns it)."""
        self.release_scratch()
        return self.matmat(X)

    def column_sums(self) -> np.ndarray:
        """``A.T @ 1`` in float64."""
        return self.rmatmat(np.ones((self.shape[0], 1), dtype=self.dtype))[:, 0].astype(
            np.float64)

    @property
    def T(self) -> Operator:
        """The transpose, as an operator (no data is copied)."""
        return TransposedOperator(self)

    def _block(self, X: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(X, dtype=self.dtype)

    def __repr__(self) -> str:
        m, n = self.shape
        return f"<{type(self).__name__} {m}x{n} {np.dtype(self.dtype).name}>"


class DenseOperator(Operator):
    """A dense array; products go to BLAS."""

    def __init__(self, array: np.ndarray):
        self.array = array
        self.shape = array.shape
        self.dtype = array.dtype

    def matmat(self, X):
        return np.ascontiguousarray(self.array @ self._block(X))

    def rmatmat(self, Y):
        return np.ascontiguousarray(self.array.T @ self._block(Y))


class CSROperator(Operator):
    """A CSR matrix; products run in the parallel numba kernels.

    The structure must already be validated (see
    :func:`fastsvd._validation.as_operator`); the arrays are used in place
    (strided ones are copied: the kernels read rows as contiguous runs).
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
        self._scratch = None
        self._tall_buffer = None

    @classmethod
    def from_scipy(cls, matrix) -> CSROperator:
        return cls(matrix.indptr, matrix.indices, matrix.data, matrix.shape)

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def _row_chunks(self, n_chunks: int) -> np.ndarray:
        if n_chunks not in self._chunks:
            from ._kernels import balanced_row_chunks

            self._chunks[n_chunks] = balanced_row_chunks(self.indptr, n_chunks)
        return self._chunks[n_chunks]

    def matmat(self, X):
        X = self._block(X)
        return self._matmat_into(X, np.empty((self.shape[0], X.shape[1]), dtype=self.dtype))

    def normal_matmat(self, X):
        """``A.T @ (A @ X)``; the tall ``A @ X`` is written into one buffer
        kept from call to call (a fresh 61 MB block per Krylov step on the
        Netflix shape paid its page faults every time)."""
        X = self._block(X)
        return self.rmatmat(self._matmat_into(X, self._tall_block(X.shape[1])))

    def final_matmat(self, X):
        """:meth:`matmat` into the memory of :meth:`normal_matmat`'s tall
        buffer, grown in place to fit (its pages are mapped already: on the
        Netflix shape, k=50 after a Krylov run, 0.27-0.29 instead of
        0.33-0.37 s), which the result then owns; the rest of the scratch is
        released."""
        from ._kernels import aligned_nbytes, cache_aligned_view

        X = self._block(X)
        shape = (self.shape[0], X.shape[1])
        buffer, self._tall_buffer, self._scratch = self._tall_buffer, None, None
        if buffer is None:
            return self.matmat(X)
        try:  # refused while a view of the buffer is alive
            buffer.resize(max(buffer.size, aligned_nbytes(shape, self.dtype)))
        except ValueError:
            return self.matmat(X)
        return self._matmat_into(X, cache_aligned_view(buffer, shape, self.dtype))

    def release_scratch(self):
        self._scratch = self._tall_buffer = None

    def _tall_block(self, k):
        """A cache-aligned ``(n_rows, k)`` block in the tall buffer (grown when too small)."""
        from ._kernels import aligned_nbytes, cache_aligned_view

        shape = (self.shape[0], k)
        if self._tall_buffer is None or self._tall_buffer.size < aligned_nbytes(shape, self.dtype):
            self._tall_buffer = np.empty(aligned_nbytes(shape, self.dtype), dtype=np.uint8)
        return cache_aligned_view(self._tall_buffer, shape, self.dtype)

    def _matmat_into(self, X, out):
        from ._kernels import TILED_PRODUCTS, column_tiles, csr_matmat, tile_width

        chunks = self._row_chunks(_MATMAT_CHUNKS)
        width = tile_width(X.shape[1])
        if width is None:
            csr_matmat(self.indptr, self.indices, self.data, X, chunks, out)
        else:
            kernel = TILED_PRODUCTS[width].matmat
            kernel(self.indptr, self.indices, self.data, column_tiles(X, width), chunks, out)
        return out

    def rmatmat(self, Y):
        from ._kernels import TILED_PRODUCTS, csr_rmatmat, csr_rmatmat_by_columns, tile_width

        Y = self._block(Y)
        k = Y.shape[1]
        out = np.empty((self.shape[1], k), dtype=self.dtype)
        split = (self._column_split() if self.shape[1] * k * self.dtype.itemsize
                 > _COLUMN_SPLIT_BYTES else None)
        if split is not None:
            csr_rmatmat_by_columns(self.indptr, self.indices, self.data, Y, *split, out)
            return out
        width = tile_width(k)
        n_chunks = self._n_partials(k if width is None else -(-k // width) * width)
        if width is None:
            partial = self._partial_scratch((n_chunks, 1, self.shape[1], k))
            kernel = csr_rmatmat
        else:
            partial = self._partial_scratch((n_chunks, -(-k // width), self.shape[1], width))
            kernel = TILED_PRODUCTS[width].rmatmat
        kernel(self.indptr, self.indices, self.data, Y, self._row_chunks(n_chunks), partial, out)
        return out

    def _column_split(self):
        """``(column_bounds, segment_starts)``: the columns in one block per
        thread, of about equal nonzeros, and where each row's entries in each
        block start; None when some row's indices are unsorted. The result of
        the split product does not depend on the number of blocks."""
        from ._kernels import csr_segment_starts
        from ._numba import active_threads

        n_blocks = min(active_threads(), self.shape[1])
        if n_blocks not in self._column_splits:
            work = np.concatenate([[0], np.cumsum(self.column_counts())])
            bounds = np.searchsorted(work, np.linspace(0, work[-1], n_blocks + 1))
            bounds[0], bounds[-1] = 0, self.shape[1]
            bounds = np.maximum.accumulate(bounds).astype(np.int64)
            starts = np.empty((self.shape[0], n_blocks + 1), dtype=np.int64)
            unsorted = csr_segment_starts(self.indptr, self.indices, bounds, starts)
            self._column_splits[n_blocks] = None if unsorted else (bounds, starts)
        return self._column_splits[n_blocks]

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

    def value_range(self) -> tuple[float, float]:
        """Smallest and largest stored value."""
        return float(self.data.min()), float(self.data.max())

    def holdout(self, fraction: float, key: np.uint64, first_row: int = 0):
        """Split the stored entries into ``(kept, held_out)`` operators of the
        same shape. Entry ``(i, j)`` is held out with probability ``fraction``
        by a coin that depends only on ``(key, first_row + i, j)``, so a matrix
        split into row blocks (``first_row`` the block's first row) gives the
        same split as the whole."""
        from ._kernels import csr_holdout_mask

        mask = np.empty(self.nnz, dtype=np.bool_)
        held = np.empty(self.shape[0], dtype=self.indptr.dtype)
        csr_holdout_mask(self.indptr, self.indices, int(first_row), key, float(fraction), mask,
                         held)
        kept = np.diff(self.indptr) - held
        return self._select(~mask, kept), self._select(mask, held)

    def _select(self, keep, per_row):
        """The entries where ``keep`` is true (``per_row`` of them in each row)."""
        indptr = np.zeros(self.shape[0] + 1, dtype=self.indptr.dtype)
        np.cumsum(per_row, out=indptr[1:])
        return CSROperator(indptr, self.indices[keep], self.data[keep], self.shape)

    def offset_row_sums(self, row_offset, column_offset) -> np.ndarray:
        """Per-row sums of ``x_ij - row_offset[i] - column_offset[j]`` over the
        stored entries (offsets may be scalars)."""
        ones = np.ones((self.shape[1], 1))
        return self.residual_times(*self._offset_model(row_offset, column_offset), ones)[0][:, 0]

    def offset_column_sums(self, row_offset, column_offset) -> np.ndarray:
        """Per-column sums of ``x_ij - row_offset[i] - column_offset[j]``."""
        ones = np.ones((self.shape[0], 1))
        return self.residual_rtimes(*self._offset_model(row_offset, column_offset), ones)[0][:, 0]

    def minus_offsets(self, row_offset, column_offset) -> CSROperator:
        """The same entries with values ``x_ij - row_offset[i] - column_offset[j]``."""
        return self.with_values(self.residual(*self._offset_model(row_offset, column_offset)))

    def _offset_model(self, row_offset, column_offset):
        """``own @ other.T`` with entries ``row_offset[i] + column_offset[j]``."""
        m, n = self.shape
        own, other = np.ones((m, 2)), np.ones((n, 2))
        own[:, 0], other[:, 1] = row_offset, column_offset
        return own, other

    def residual(self, own: np.ndarray, other: np.ndarray) -> np.ndarray:
        """``x_p - own[i] . other[j]`` for every stored entry ``p = (i, j)``:
        the residual of the model ``own @ other.T`` on the stored entries."""
        from ._kernels import csr_residual

        own, _, other = self._model(own, other)  # scale: ones
        out = np.empty_like(self.data)
        csr_residual(self.indptr, self.indices, self.data, own, other,
                     self._row_chunks(_MATMAT_CHUNKS), out)
        return out

    def residual_times(self, own, other, mult, scale=None):
        """``(R @ mult, ||R||_F^2)`` for the residual ``R`` of the model
        ``own diag(scale) other^T`` (``scale`` defaults to ones) on the stored
        entries, in one pass and without storing ``R``. Passing ``other`` itself
        as ``mult`` halves the rows read per entry. The product is in the
        matrix's dtype (it is as tall as the data), the squared norm in
        float64."""
        from ._kernels import TILED_PRODUCTS, column_tiles, csr_residual_product

        own, scale, other_block = self._model(own, other, scale)
        same = mult is other and other.shape[1]
        mult = other_block if same else self._block(mult)
        out = np.empty((self.shape[0], mult.shape[1]), dtype=self.dtype)
        squares = np.empty(self.shape[0])
        chunks = self._row_chunks(_MATMAT_CHUNKS)
        width = _one_tile(own.shape[1], mult.shape[1])
        if width is None:
            csr_residual_product(self.indptr, self.indices, self.data, own, scale, other_block,
                                 mult, chunks, out, squares)
        else:
            other_tiles = column_tiles(other_block, width)
            mult_tiles = other_tiles if same else column_tiles(mult, width)
            kernel = TILED_PRODUCTS[width].residual_product
            kernel(self.indptr, self.indices, self.data, own, scale, other_tiles, mult_tiles,
                   chunks, out, squares)
        return out, float(squares.sum())

    def residual_rtimes(self, own, other, mult, scale=None):
        """``(R.T @ mult, ||R||_F^2)``, the transpose-side twin of
        :meth:`residual_times` (float64: it is short)."""
        from ._kernels import TILED_PRODUCTS, column_tiles, csr_residual_rproduct

        own_block, scale, other = self._model(own, other, scale)
        mult = own_block if mult is own and own.shape[1] else self._block(mult)
        k = mult.shape[1]
        width = _one_tile(own_block.shape[1], k)
        n_chunks = self._n_partials(k if width is None else width)
        partial = self._partial_scratch((n_chunks, 1, self.shape[1], width or k))
        out = np.empty((self.shape[1], k))
        squares = np.empty(n_chunks)
        chunks = self._row_chunks(n_chunks)
        if width is None:
            csr_residual_rproduct(self.indptr, self.indices, self.data, own_block, scale, other,
                                  mult, chunks, partial, out, squares)
        else:
            kernel = TILED_PRODUCTS[width].residual_rproduct
            kernel(self.indptr, self.indices, self.data, own_block, scale,
                   column_tiles(other, width), mult, chunks, partial, out, squares)
        return out, float(squares.sum())

    def factor_gram(self, own, other, chunk_entries=1 << 16):
        """``(G, b)``, float64: ``G = sum_p f_p f_p^T`` and ``b = sum_p x_p f_p``
        over the stored entries ``p = (i, j)``, for ``f_p = own[i] * other[j]``
        (elementwise). The normal equations of ``min_d sum_p (x_p - f_p . d)^2``:
        refitting the singular values of ``own diag(d) other^T`` to the data.
        Runs over row ranges of about ``chunk_entries`` entries in a fixed
        order (deterministic)."""
        r = own.shape[1]
        G, b = np.zeros((r, r)), np.zeros(r)
        bounds = self._row_chunks(max(1, -(-self.nnz // chunk_entries)))
        for first, stop in itertools.pairwise(bounds.tolist()):
            start, end = self.indptr[first], self.indptr[stop]
            rows = np.repeat(np.arange(first, stop), np.diff(self.indptr[first:stop + 1]))
            features = own[rows] * other[self.indices[start:end]]
            G += features.T @ features
            b += features.T @ self.data[start:end]
        return G, b

    def _model(self, own, other, scale=None):
        """The model ``own diag(scale) other^T`` as ``(own, scale, other)`` in
        the matrix's dtype (``scale`` defaults to ones); a rank-0 model (the
        zero model) gets one zero column, as the kernels read at least one."""
        if own.shape[1] == 0:
            zero = np.zeros(1, dtype=self.dtype)
            return (np.zeros((self.shape[0], 1), dtype=self.dtype), zero,
                    np.zeros((self.shape[1], 1), dtype=self.dtype))
        scale = np.ones(own.shape[1]) if scale is None else scale
        return self._block(own), self._block(scale), self._block(other)

    def _n_partials(self, k: int) -> int:
        """Row chunks of the transpose product: fixed by the matrix and ``k``
        (never by the thread count, which keeps results deterministic). Each
        chunk costs a partial sum of ``n_cols x k`` that is zeroed and reduced
        through memory, about as much as scattering 64 nonzeros per column:
        keep it within budget and small next to the ``nnz x k`` scatter. (With
        ``nnz / (4 n_cols)`` chunks, a 1M-nonzero Netflix-shaped matrix took
        0.077 ns per nonzero and column at k=200, twice the 100M figure; with
        ``nnz / (64 n_cols)`` it takes 0.040.)"""
        low, high = _RMATMAT_CHUNKS
        n_cols = self.shape[1]
        by_memory = _PARTIAL_BUDGET_BYTES // max(1, n_cols * k * self.dtype.itemsize)
        by_work = self.nnz // max(1, 64 * n_cols)
        return int(np.clip(min(by_memory, by_work), low, high))

    def _partial_scratch(self, shape):
        from ._kernels import cache_aligned_empty

        if self._scratch is None or self._scratch.shape != shape:
            self._scratch = cache_aligned_empty(shape, self.dtype)
        return self._scratch


def _one_tile(rank: int, k: int) -> int | None:
    """The tile width of the residual kernels for a model of ``rank`` and a
    multiplier of ``k`` columns, when one tile holds both (else ``None``)."""
    from ._kernels import tile_width

    width = tile_width(max(rank, k))
    return width if width is not None and max(rank, k) <= width else None


class LinearOperatorAdapter(Operator):
    """Any ``scipy.sparse.linalg.LinearOperator`` with ``matmat`` and ``rmatmat``."""

    def __init__(self, linear_operator, dtype):
        self.linear_operator = linear_operator
        self.shape = tuple(int(d) for d in linear_operator.shape)
        self.dtype = np.dtype(dtype)

    def matmat(self, X):
        return np.ascontiguousarray(self.linear_operator.matmat(self._block(X)), dtype=self.dtype)

    def rmatmat(self, Y):
        return np.ascontiguousarray(self.linear_operator.rmatmat(self._block(Y)), dtype=self.dtype)


class TransposedOperator(Operator):
    """``A.T`` for an operator ``A``."""

    def __init__(self, base: Operator):
        self.base = base
        self.shape = base.shape[::-1]
        self.dtype = base.dtype
        self.uses_numba = base.uses_numba

    def matmat(self, X):
        return self.base.rmatmat(X)

    def rmatmat(self, Y):
        return self.base.matmat(Y)

    @property
    def T(self):
        return self.base


class CenteredOperator(Operator):
    """``A - 1 mean^T``: ``A`` with ``mean`` subtracted from every row, never formed.

    This is what lets PCA run on sparse data without densifying it.
    """

    def __init__(self, base: Operator, mean: np.ndarray):
        self.base = base
        self.mean = np.asarray(mean, dtype=base.dtype)
        self.shape = base.shape
        self.dtype = base.dtype
        self.uses_numba = base.uses_numba

    def matmat(self, X):
        X = self._block(X)
        out = self.base.matmat(X)
        out -= self.mean @ X
        return out

    def rmatmat(self, Y):
        Y = self._block(Y)
        out = self.base.rmatmat(Y)
        out -= np.outer(self.mean, Y.sum(axis=0))
        return out


class DeflatedOperator(Operator):
    """``A - U diag(s) Vt``: ``A`` with known singular triplets removed, never formed."""

    def __init__(self, base: Operator, U: np.ndarray, s: np.ndarray, Vt: np.ndarray):
        self.base = base
        self.U = np.asarray(U, dtype=base.dtype)
        self.sVt = np.asarray(s[:, None] * Vt, dtype=base.dtype)
        self.shape = base.shape
        self.dtype = base.dtype
        self.uses_numba = base.uses_numba

    def matmat(self, X):
        X = self._block(X)
        out = self.base.matmat(X)
        out -= self.U @ (self.sVt @ X)
        return out

    def rmatmat(self, Y):
        Y = self._block(Y)
        out = self.base.rmatmat(Y)
        out -= self.sVt.T @ (self.U.T @ Y)
        return out


class SparsePlusLowRankOperator(Operator):
    """``P_Omega(X - Z) + Z`` for ``Z = U diag(d) V^T``: soft-impute's completed matrix.

    ``observed`` holds ``X`` at the observed entries ``Omega``. The sparse
    part (the residual of ``Z`` there) is never stored: both products
    recompute it on the fly from the stored values, fused with the product,
    and the low-rank part is applied through its factors. Nothing ``m x n``
    is formed. Each product also leaves ``||P_Omega(X - Z)||_F^2`` in
    ``squared_residual`` (soft-impute's loss, for free).
    """

    uses_numba = True

    def __init__(self, observed: CSROperator, U, d, V):
        self.observed = observed
        self.U = np.asarray(U, dtype=np.float64)
        self.d = np.asarray(d, dtype=np.float64)
        self.V = np.asarray(V, dtype=np.float64)
        self.shape = observed.shape
        self.dtype = observed.dtype

    def matmat(self, X):
        X = np.asarray(X, dtype=np.float64)
        sparse, self.squared_residual = self.observed.residual_times(self.U, self.V, X, self.d)
        return (sparse + self.U @ (self.d[:, None] * (self.V.T @ X))).astype(self.dtype)

    def rmatmat(self, Y):
        Y = np.asarray(Y, dtype=np.float64)
        sparse, self.squared_residual = self.observed.residual_rtimes(self.U, self.V, Y, self.d)
        return (sparse + self.V @ (self.d[:, None] * (self.U.T @ Y))).astype(self.dtype)
