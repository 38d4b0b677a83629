"""Row-block arrays on the workers: :class:`RowBlocks` (the input) and
:class:`TallBlocks` (an algorithm's long-side block, the
:class:`~fastsvd.protocols.TallBlock` protocol)."""

from __future__ import annotations

import operator

import distributed
import numpy as np
import scipy.sparse as sp
from dask.delayed import Delayed, delayed

from ..algorithms.tall import gram as local_gram
from ._cluster import (
    BlockArray,
    PerBlock,
    block_inner,
    block_qr,
    block_qr_product,
    check_aligned,
    client_of,
    each,
    empty_like,
    gather,
    hstack,
    locked,
    place,
    reversed_subtract,
    tree_sum,
)


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
        self.client = client_of(client)
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
        client = client_of(client)
        return cls(client.compute(list(array.to_delayed()[:, 0])), client)

    @classmethod
    def from_blocks(cls, blocks, client=None) -> RowBlocks:
        """Row blocks given as in-memory arrays (scattered to the workers),
        ``dask.delayed`` objects (computed there) or futures."""
        client = client_of(client)
        blocks = list(blocks)
        futures = [None] * len(blocks)
        local = [i for i, b in enumerate(blocks) if isinstance(b, np.ndarray) or sp.issparse(b)]
        lazy = [i for i, b in enumerate(blocks) if isinstance(b, Delayed)]
        if local:
            scattered = client.scatter([blocks[i] for i in local], hash=False)
            futures = place(futures, local, scattered)
        if lazy:
            futures = place(futures, lazy, client.compute([blocks[i] for i in lazy]))
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


class TallBlocks(BlockArray):
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
        sample = func(np.empty((0, *self.shape[1:]), self.dtype), *[empty_like(a) for a in args])
        futures = each(self.client, locked, func, self, *args)
        return TallBlocks(self.client, futures, self.rows, sample.shape[1:], sample.dtype)

    def _binary(self, func, other):
        if isinstance(other, TallBlocks):
            check_aligned(self.rows, other.rows)
        return self.map(func, other)

    def __add__(self, other):
        return self._binary(np.add, other)

    __radd__ = __add__

    def __sub__(self, other):
        return self._binary(np.subtract, other)

    def __rsub__(self, other):
        return self.map(reversed_subtract, other)

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
            check_aligned(self.rows, other.rows)
        return self.map(hstack, *others)

    def gram(self):
        """``Y^T Y`` in float64 on the driver, summed over blocks in order."""
        return tree_sum(self.client, each(self.client, locked, local_gram, self))

    def inner(self, other):
        """``Y^T Z`` in float64 on the driver, summed over blocks in order."""
        check_aligned(self.rows, other.rows)
        return tree_sum(self.client, each(self.client, locked, block_inner, self, other))

    def qr(self):
        """Thin QR by TSQR: local QRs, the QR of their stacked ``R`` factors on
        the driver, and the product back on the blocks. ``Q`` keeps the dtype,
        ``R`` is float64."""
        local = each(self.client, locked, block_qr, self)
        Rs = gather(self.client, each(self.client, operator.getitem, PerBlock(local), 1))
        Q_small, R = np.linalg.qr(np.vstack(Rs))
        ends = np.cumsum([r.shape[0] for r in Rs])
        pieces = np.split(Q_small, ends[:-1])
        futures = each(self.client, locked, block_qr_product, PerBlock(local),
                        PerBlock(pieces), self.dtype)
        return TallBlocks(self.client, futures, self.rows, self.shape[1:], self.dtype), R

    def to_numpy(self) -> np.ndarray:
        """Gather the blocks into one array on the driver."""
        return np.concatenate(gather(self.client, self.futures), axis=0)

    def __repr__(self):
        return f"<TallBlocks {self.shape} {self.dtype.name} in {len(self.futures)} blocks>"
