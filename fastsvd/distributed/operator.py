"""Operators over row blocks on Dask workers: :class:`DistributedOperator` for
the SVD algorithms and :class:`DistributedObserved` for soft-impute."""

from __future__ import annotations

import operator

import numpy as np
import scipy.sparse as sp

from ..impute.observed import ObservedCSR
from ..operators import CenteredOperator, Operator, as_operator
from ..ratings import Ratings
from ._cluster import (
    BLOCK_LOCK,
    DeferredSum,
    PerBlock,
    call,
    centred_squared_norm,
    check_aligned,
    describe,
    each,
    gather,
    nnz,
    tree_sum,
)
from .blocks import TallBlocks, as_row_blocks


def matrix_operator(X, *, name="A") -> DistributedOperator:
    """The operator of a distributed matrix, each block validated on its worker
    by :func:`fastsvd.as_operator`."""
    return DistributedOperator.build(as_row_blocks(X), _matrix_block, name)


def ratings_operator(X) -> DistributedObserved:
    """The observed entries of blocks of sparse ratings (rows are users), each
    validated on its worker as :class:`fastsvd.Ratings` (duplicates are an
    error, every stored entry is a rating)."""
    return DistributedObserved.build(as_row_blocks(X), _ratings_block, "ratings")


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
        blocks = each(client, make_local, PerBlock(row_blocks.futures),
                      PerBlock(f"{name} block {i}" for i in range(n)))
        facts = gather(client, each(client, describe, PerBlock(blocks)))
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
        """An operator of the same type over other blocks with the same rows."""
        return type(self)(self.client, blocks, self.rows, self.shape[1], self.dtype,
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
        return tree_sum(self.client, self._submit(method, args))

    def _submit(self, method, args):
        return each(self.client, call, PerBlock(self.blocks), method, *args)

    def tall(self, Y) -> TallBlocks:
        """A row-side array as a :class:`TallBlocks` aligned with the blocks."""
        if isinstance(Y, TallBlocks):
            check_aligned(self.rows, Y.rows)
            return Y
        Y = np.asarray(Y)
        if Y.shape[0] != self.shape[0]:
            raise ValueError(f"expected {self.shape[0]} rows, got {Y.shape[0]}.")
        pieces = np.split(Y, np.cumsum(self.rows)[:-1])
        return TallBlocks(self.client, self.client.scatter(pieces, hash=False), self.rows,
                          Y.shape[1:], Y.dtype)

    def _row_side(self, value):
        return value if np.isscalar(value) else self.tall(value)

    # ---- PCA support
    def centered(self, mean) -> DistributedOperator:
        """``A - 1 mean^T``, each block centred where it lies."""
        mean = np.asarray(mean, dtype=self.dtype)
        return self._twin(each(self.client, CenteredOperator, PerBlock(self.blocks), mean))

    def centred_squared_norm(self, mean) -> float:
        """``||A - 1 mean^T||_F^2`` (float64), never forming the centred blocks."""
        mean = np.asarray(mean, dtype=np.float64)
        parts = each(self.client, centred_squared_norm, PerBlock(self.blocks), mean)
        return float(tree_sum(self.client, parts))

    def __repr__(self):
        m, n = self.shape
        return (f"<{type(self).__name__} {m}x{n} {self.dtype.name} in {len(self.blocks)} row "
                "blocks>")


def _forwarded(name: str, combine: str, row_args: tuple = ()):
    """A method of :class:`~fastsvd.protocols.ObservedEntries` run on every
    block's :class:`~fastsvd.impute.ObservedCSR`: the arguments at
    ``row_args`` are row-side (split with the blocks), the others shared; the
    results are summed over blocks (``combine="sum"``) or form a row-side
    vector (``"rows"``)."""

    def method(self, *args):
        args = [self._row_side(a) if i in row_args else a for i, a in enumerate(args)]
        if combine == "sum":
            return self.sum_blocks(name, *args)
        return self.map_blocks(name, *args, tail=(), dtype=np.float64)

    method.__name__ = name
    method.__doc__ = (f"``ObservedEntries.{name}`` over the row blocks "
                      f"({'summed in block order' if combine == 'sum' else 'row-side'}).")
    return method


class DistributedObserved(DistributedOperator):
    """The :class:`~fastsvd.protocols.ObservedEntries` protocol over ratings in
    row blocks on Dask workers, each block an :class:`~fastsvd.impute.ObservedCSR`.

    Row-side results (the user side) stay on the workers as
    :class:`TallBlocks`; item-side results are summed over blocks in a fixed
    order. Most methods are forwarded by :func:`_forwarded`; the three below
    need more than a sum or a row-side vector.
    """

    residual_rtimes = _forwarded("residual_rtimes", "sum", row_args=(0, 2))
    factor_gram = _forwarded("factor_gram", "sum", row_args=(0,))
    row_counts = _forwarded("row_counts", "rows")
    column_counts = _forwarded("column_counts", "sum")
    offset_row_sums = _forwarded("offset_row_sums", "rows", row_args=(0,))
    offset_column_sums = _forwarded("offset_column_sums", "sum", row_args=(0,))

    def residual_times(self, own, other, mult, scale=None):
        """``(R @ mult, ||R||_F^2)``: the product stays on the workers and the
        squared residual is summed only when ``float()`` asks for it (callers
        that ignore it cost no round trip)."""
        pairs = self._submit("residual_times", (self.tall(own), other, mult, scale))
        products = each(self.client, operator.getitem, PerBlock(pairs), 0)
        squares = each(self.client, operator.getitem, PerBlock(pairs), 1)
        return (TallBlocks(self.client, products, self.rows, (mult.shape[1],), self.dtype),
                DeferredSum(self.client, squares))

    def value_range(self):
        ranges = gather(self.client, self._submit("value_range", ()))
        return min(r[0] for r in ranges), max(r[1] for r in ranges)

    def minus_offsets(self, row_offset, column_offset):
        return self._twin(self._submit("minus_offsets", (self._row_side(row_offset),
                                                         column_offset)))

    def holdout(self, fraction, key):
        """Split every block as :meth:`ObservedCSR.holdout` does, from the
        block's first row on: the same entries as the whole matrix gives."""
        first = PerBlock(self.first_rows.tolist())
        pairs = self._submit("holdout", (fraction, key, first))
        parts = []
        for side in (0, 1):
            blocks = each(self.client, operator.getitem, PerBlock(pairs), side)
            counts = gather(self.client, each(self.client, nnz, PerBlock(blocks)))
            parts.append(self._twin(blocks, sum(counts)))
        return tuple(parts)


# ------------------------------------------------- block constructors (on workers)
def _matrix_block(block, name):
    if not (isinstance(block, np.ndarray) or sp.issparse(block)):
        raise TypeError(f"{name} is a {type(block).__name__}; blocks must be numpy arrays or "
                        "scipy.sparse matrices.")
    with BLOCK_LOCK:
        return as_operator(block, name=name)


def _ratings_block(block, name):
    if not sp.issparse(block):
        raise TypeError(f"{name} is a {type(block).__name__}; ratings blocks must be "
                        "scipy.sparse matrices whose stored entries are the ratings.")
    if block.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {block.shape}); drop it or give it rows.")
    try:
        csr = Ratings.from_sparse(block).csr
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    return ObservedCSR.from_scipy(csr)
