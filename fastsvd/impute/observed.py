"""The observed ratings in memory: :class:`ObservedCSR`, and soft-impute's
completed matrix :class:`SparsePlusLowRankOperator`.

:class:`ObservedCSR` implements the :class:`~fastsvd.protocols.ObservedEntries`
protocol over a :class:`~fastsvd.operators.CSROperator`: the fused residual
products of :mod:`fastsvd.kernels.residuals` (the residual of a low-rank model
at the observed entries is recomputed inside each pass, never stored), bias
sums, and the seeded hold-out split. Its twin on a Dask cluster is
:class:`fastsvd.distributed.DistributedObserved`.
"""

from __future__ import annotations

import itertools

import numpy as np

from .._threads import over_ranges
from ..kernels.layout import column_tiles, one_tile
from ..operators import CSROperator, Operator
from ..operators.csr import MATMAT_CHUNKS, reduce_partials


class ObservedCSR(Operator):
    """The observed entries of a ratings matrix held as a CSR (rows are users).

    ``matrix`` is a :class:`CSROperator` whose stored entries are the observed
    ratings (stored zeros included). Products with the observed matrix are its
    products; see :class:`~fastsvd.protocols.ObservedEntries` for the rest.
    """

    uses_numba = True

    def __init__(self, matrix: CSROperator):
        self.matrix = matrix
        self.shape = matrix.shape
        self.dtype = matrix.dtype

    @classmethod
    def from_scipy(cls, csr) -> ObservedCSR:
        """The stored entries of a validated scipy CSR matrix."""
        return cls(CSROperator.from_scipy(csr))

    @property
    def nnz(self) -> int:
        return self.matrix.nnz

    def matmat(self, X):
        return self.matrix.matmat(X)

    def rmatmat(self, Y):
        return self.matrix.rmatmat(Y)

    def release_scratch(self):
        self.matrix.release_scratch()

    # ---- counts and sums
    def row_counts(self) -> np.ndarray:
        return self.matrix.row_counts()

    def column_counts(self) -> np.ndarray:
        return self.matrix.column_counts()

    def value_range(self) -> tuple[float, float]:
        return float(self.matrix.data.min()), float(self.matrix.data.max())

    def offset_row_sums(self, row_offset, column_offset) -> np.ndarray:
        ones = np.ones((self.shape[1], 1))
        return self.residual_times(*self._offset_model(row_offset, column_offset), ones)[0][:, 0]

    def offset_column_sums(self, row_offset, column_offset) -> np.ndarray:
        ones = np.ones((self.shape[0], 1))
        return self.residual_rtimes(*self._offset_model(row_offset, column_offset), ones)[0][:, 0]

    def minus_offsets(self, row_offset, column_offset) -> ObservedCSR:
        own, other = self._offset_model(row_offset, column_offset)
        return ObservedCSR(self.matrix.with_values(self.residual(own, other)))

    def _offset_model(self, row_offset, column_offset):
        """``own @ other.T`` with entries ``row_offset[i] + column_offset[j]``."""
        m, n = self.shape
        own, other = np.ones((m, 2)), np.ones((n, 2))
        own[:, 0], other[:, 1] = row_offset, column_offset
        return own, other

    # ---- the split
    def holdout(self, fraction: float, key: np.uint64, first_row: int = 0):
        """``(kept, held_out)``: entry ``(i, j)`` is held out with probability
        ``fraction`` by a coin that depends only on ``(key, first_row + i, j)``,
        so a matrix split into row blocks (``first_row`` the block's first row)
        gives the same split as the whole."""
        from ..kernels import residuals

        A = self.matrix
        mask = np.empty(A.nnz, dtype=np.bool_)
        held = np.empty(A.shape[0], dtype=A.indptr.dtype)
        over_ranges(lambda first, stop: residuals.csr_holdout_mask(
            A.indptr, A.indices, int(first_row), key, float(fraction), first, stop, mask, held),
            A.shape[0])
        kept = np.diff(A.indptr) - held
        return self._select(~mask, kept), self._select(mask, held)

    def _select(self, keep, per_row) -> ObservedCSR:
        """The entries where ``keep`` is true (``per_row`` of them in each row)."""
        A = self.matrix
        indptr = np.zeros(A.shape[0] + 1, dtype=A.indptr.dtype)
        np.cumsum(per_row, out=indptr[1:])
        return ObservedCSR(CSROperator(indptr, A.indices[keep], A.data[keep], A.shape))

    # ---- residual products
    def residual(self, own: np.ndarray, other: np.ndarray) -> np.ndarray:
        """``x_p - own[i] . other[j]`` for every stored entry ``p = (i, j)``."""
        from ..kernels import residuals

        A = self.matrix
        own, _, other = self._model(own, other)  # scale: ones
        out = np.empty_like(A.data)
        over_ranges(lambda first, stop: residuals.csr_residual(
            A.indptr, A.indices, A.data, own, other, first, stop, out), A.shape[0])
        return out

    def residual_times(self, own, other, mult, scale=None):
        """``(R @ mult, ||R||_F^2)`` for the residual ``R`` of the model ``own
        diag(scale) other^T`` (``scale`` defaults to ones), in one pass and
        without storing ``R``. Passing ``other`` itself as ``mult`` halves the
        rows read per entry. The product is in the matrix's dtype (it is as
        tall as the data), the squared norm in float64."""
        from ..kernels import residuals

        A = self.matrix
        own, scale, other_block = self._model(own, other, scale)
        same = mult is other and other.shape[1]
        mult = other_block if same else A._block(mult)
        out = np.empty((A.shape[0], mult.shape[1]), dtype=A.dtype)
        squares = np.empty(A.shape[0])
        chunks = A.row_chunks(MATMAT_CHUNKS)
        width = one_tile(own.shape[1], mult.shape[1])
        if width is not None:
            other_block = column_tiles(other_block, width)[0]
            mult = other_block if same else column_tiles(mult, width)[0]
        kernel = residuals.residual_kernels(width or 0).product
        over_ranges(lambda first, stop: kernel(A.indptr, A.indices, A.data, own, scale,
                                               other_block, mult, chunks, first, stop, out,
                                               squares), MATMAT_CHUNKS)
        return out, float(squares.sum())

    def residual_rtimes(self, own, other, mult, scale=None):
        """``(R.T @ mult, ||R||_F^2)``, the transpose-side twin of
        :meth:`residual_times` (the product in float64: it is short)."""
        from ..kernels import residuals

        A = self.matrix
        own_block, scale, other = self._model(own, other, scale)
        mult = own_block if mult is own and own.shape[1] else A._block(mult)
        k = mult.shape[1]
        width = one_tile(own_block.shape[1], k)
        n_chunks = A.n_partials(k if width is None else width)
        partial = A.partial_scratch((n_chunks, 1, A.shape[1], width or k))
        out = np.empty((A.shape[1], k))
        squares = np.empty(n_chunks)
        chunks = A.row_chunks(n_chunks)
        if width is not None:
            other = column_tiles(other, width)[0]
        kernel = residuals.residual_kernels(width or 0).rproduct
        over_ranges(lambda first, stop: kernel(A.indptr, A.indices, A.data, own_block, scale,
                                               other, mult, chunks, first, stop, partial,
                                               squares), n_chunks)
        reduce_partials(partial, out)
        return out, float(squares.sum())

    def factor_gram(self, own, other, chunk_entries=1 << 16):
        """``(G, b)``, float64: ``G = sum_p f_p f_p^T`` and ``b = sum_p x_p f_p``
        over the stored entries ``p = (i, j)``, for ``f_p = own[i] * other[j]``
        (elementwise): the normal equations of refitting the singular values of
        ``own diag(d) other^T`` to the data. Runs over row ranges of about
        ``chunk_entries`` entries in a fixed order (deterministic)."""
        A = self.matrix
        r = own.shape[1]
        G, b = np.zeros((r, r)), np.zeros(r)
        bounds = A.row_chunks(max(1, -(-A.nnz // chunk_entries)))
        for first, stop in itertools.pairwise(bounds.tolist()):
            start, end = A.indptr[first], A.indptr[stop]
            rows = np.repeat(np.arange(first, stop), np.diff(A.indptr[first:stop + 1]))
            features = own[rows] * other[A.indices[start:end]]
            G += features.T @ features
            b += features.T @ A.data[start:end]
        return G, b

    def _model(self, own, other, scale=None):
        """The model ``own diag(scale) other^T`` as ``(own, scale, other)`` in
        the matrix's dtype (``scale`` defaults to ones); a rank-0 model (the
        zero model) gets one zero column, as the kernels read at least one."""
        block = self.matrix._block
        if own.shape[1] == 0:
            zero = np.zeros(1, dtype=self.dtype)
            return (np.zeros((self.shape[0], 1), dtype=self.dtype), zero,
                    np.zeros((self.shape[1], 1), dtype=self.dtype))
        scale = np.ones(own.shape[1]) if scale is None else scale
        return block(own), block(scale), block(other)


class SparsePlusLowRankOperator(Operator):
    """``P_Omega(X - Z) + Z`` for ``Z = U diag(d) V^T``: soft-impute's completed matrix.

    ``observed`` holds ``X`` at the observed entries ``Omega``. The sparse part
    (the residual of ``Z`` there) is never stored: both products recompute it
    on the fly, fused with the product, and the low-rank part is applied
    through its factors. Nothing ``m x n`` is formed. Each product also leaves
    ``||P_Omega(X - Z)||_F^2`` in ``squared_residual`` (soft-impute's loss,
    for free).
    """

    uses_numba = True

    def __init__(self, observed: ObservedCSR, U, d, V):
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
