"""The protocols fastsvd's algorithms are written against.

Three small interfaces keep each algorithm to one copy, whatever holds the
data:

- :class:`LinearOperator`: what the SVD algorithms need of a matrix. Any
  object with ``shape``, ``dtype``, ``matmat`` and ``rmatmat`` is accepted by
  :func:`fastsvd.svd` and friends (it is wrapped by
  :func:`fastsvd.as_operator`); :class:`fastsvd.Operator` adds optional,
  faster paths with defaults.
- :class:`ObservedEntries`: what soft-impute needs of the observed ratings.
  Implemented in memory by :class:`fastsvd.impute.ObservedCSR` and on a Dask
  cluster by :class:`fastsvd.distributed.DistributedObserved`.
- :class:`TallBlock`: what the algorithms do with a long-side block that is
  not a numpy array (a block held as row blocks on a cluster:
  :class:`fastsvd.distributed.TallBlocks`). The functions of
  :mod:`fastsvd.algorithms.tall` accept numpy arrays and any ``TallBlock``.

These are :class:`typing.Protocol` classes: an implementation need not
inherit from them. ``isinstance(obj, LinearOperator)`` checks that the
attributes exist (``runtime_checkable``), not their signatures.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class LinearOperator(Protocol):
    """A real ``m x n`` matrix known through its block products.

    Required:

    - ``shape``: ``(m, n)``, positive integers;
    - ``dtype``: a real floating dtype (float32 stays float32 in fastsvd;
      other dtypes compute in float64);
    - ``matmat(X)``: ``A @ X`` for an ``n x k`` block, an ``m x k`` array;
    - ``rmatmat(Y)``: ``A.T @ Y`` for an ``m x k`` block, an ``n x k`` array.

    Optional (:class:`fastsvd.Operator` gives defaults): ``normal_matmat(X)``
    (``A.T @ (A @ X)``, fused where possible), ``final_matmat(X)`` (the last
    ``A @ X`` of a run, which may reuse scratch memory), ``release_scratch()``,
    ``column_sums()``, ``T``, and two flags: ``uses_numba`` (products run numba
    kernels, so BLAS is kept to one thread beside them) and ``distributed``
    (the rows are held elsewhere: ``matmat`` returns a :class:`TallBlock`).
    """

    shape: tuple[int, int]
    dtype: np.dtype

    def matmat(self, X: np.ndarray) -> np.ndarray: ...

    def rmatmat(self, Y: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class TallBlock(Protocol):
    """An ``m x k`` (or length-``m``) array held as row blocks elsewhere.

    Required: ``shape``, ``dtype``, ``ndim``; ``Y @ M`` for a small numpy
    ``M``; elementwise ``+ - * /`` with scalars, short vectors and aligned
    tall blocks; column selection ``Y[:, columns]``; ``astype(dtype,
    copy=True)``; ``hstack(others)``; ``gram()`` (``Y.T @ Y``, float64 numpy);
    ``inner(Z)`` (``Y.T @ Z``, float64 numpy); ``qr()`` (thin QR: a tall ``Q``
    and a float64 numpy ``R``); ``to_numpy()``.
    """

    shape: tuple
    dtype: np.dtype

    def gram(self) -> np.ndarray: ...

    def inner(self, other) -> np.ndarray: ...

    def qr(self): ...

    def hstack(self, others): ...

    def to_numpy(self) -> np.ndarray: ...


@runtime_checkable
class ObservedEntries(Protocol):
    """The observed entries of an ``m x n`` ratings matrix (rows are users).

    Soft-impute touches the user side (``m``-long arrays) only through these
    methods and :mod:`fastsvd.algorithms.tall`, so the same algorithm runs in
    memory and on a cluster. A *model* is ``own diag(scale) other^T`` with
    ``own`` on the user side (``m x r``) and ``other`` on the item side
    (``n x r``); its *residual* ``R`` is ``x_ij - model_ij`` at the observed
    entries and 0 elsewhere. Row-side results are numpy arrays in memory and
    :class:`TallBlock` objects on a cluster.

    Attributes: ``shape``, ``dtype``, ``nnz`` (observed entries),
    ``distributed`` (bool).

    Methods:

    - ``matmat(X)``, ``rmatmat(Y)``: products with the observed matrix
      (unobserved entries are 0), as :class:`LinearOperator`;
    - ``residual_times(own, other, mult, scale=None)``: ``(R @ mult,
      ||R||_F^2)``; the product is row-side, the norm a float (or an object
      that ``float()`` converts);
    - ``residual_rtimes(own, other, mult, scale=None)``: ``(R.T @ mult,
      ||R||_F^2)`` with an ``n x k`` numpy product;
    - ``factor_gram(own, other)``: ``(G, b)`` with ``G = sum f f^T`` and ``b =
      sum x f`` over the observed entries, ``f = own[i] * other[j]``;
    - ``row_counts()`` (row-side) and ``column_counts()``: observed entries
      per row and per column, float64;
    - ``value_range()``: the smallest and largest observed value;
    - ``offset_row_sums(row_offset, column_offset)`` (row-side) and
      ``offset_column_sums(row_offset, column_offset)``: sums of ``x_ij -
      row_offset[i] - column_offset[j]`` per row and per column (offsets may
      be scalars);
    - ``minus_offsets(row_offset, column_offset)``: the same entries with
      those values, as another ``ObservedEntries``;
    - ``holdout(fraction, key)``: ``(kept, held_out)``, both
      ``ObservedEntries``: entry ``(i, j)`` is held out with probability
      ``fraction`` by a coin that depends only on ``(key, i, j)``.
    """

    shape: tuple[int, int]
    dtype: np.dtype
    nnz: int
    distributed: bool

    def matmat(self, X): ...

    def rmatmat(self, Y): ...

    def residual_times(self, own, other, mult, scale=None): ...

    def residual_rtimes(self, own, other, mult, scale=None): ...

    def factor_gram(self, own, other): ...

    def row_counts(self): ...

    def column_counts(self) -> np.ndarray: ...

    def value_range(self) -> tuple[float, float]: ...

    def offset_row_sums(self, row_offset, column_offset): ...

    def offset_column_sums(self, row_offset, column_offset) -> np.ndarray: ...

    def minus_offsets(self, row_offset, column_offset) -> ObservedEntries: ...

    def holdout(self, fraction: float, key) -> tuple[ObservedEntries, ObservedEntries]: ...
