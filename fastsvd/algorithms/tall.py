"""Dense linear algebra on tall-skinny blocks, shared by the algorithms.

Tall blocks (``m x l`` with ``m >> l``) are orthonormalised with CholeskyQR2
(Gram matrix + Cholesky, twice), which is BLAS-3 and costs a fraction of a
Householder QR; ill-conditioned or rank-deficient blocks fall back to
Householder. Gram matrices of float32 blocks are accumulated in float64 over
row slabs, so float32 data keeps its precision without a float64 copy of the
whole block.

The tall products (``Y @ M``, ``Y.T @ Y``, ``Y.T @ Z``) run over fixed slabs of
rows, one single-threaded BLAS call each, shared out over the numba thread
count (:func:`fastsvd._threads.map_in_parallel`); partial sums are added in
slab order. The slabs depend on ``m`` alone, never on the thread count, so
neither do the bits. Their number is a multiple of four and their sizes equal,
so two or four threads get equal shares.

Every function here takes numpy arrays and any
:class:`~fastsvd.protocols.TallBlock` (a block held as row blocks on a
cluster): the generic functions below dispatch on the block's type, numpy
arrays get the slab code, and other blocks their protocol methods.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.linalg

from .._threads import map_in_parallel

_ROW_SLAB = 1 << 13  # most rows per slab of the tall products
_SLAB_MULTIPLE = 4  # slab counts are multiples of this: 2 or 4 threads get equal shares
# CholeskyQR2 is accurate while cond(Y) < ~1/sqrt(eps64); fall back well before.
_MAX_CHOLESKY_COND = 1e6


# ---------------------------------------------------------------- dispatch
@functools.singledispatch
def to_local(Y) -> np.ndarray:
    """The block as a numpy array (gathered if it is held elsewhere)."""
    return Y.to_numpy()


@functools.singledispatch
def inner(Y, Z) -> np.ndarray:
    """``Y.T @ Z`` (float64) for two tall blocks with the same rows."""
    return Y.inner(Z)


@functools.singledispatch
def gram(Y) -> np.ndarray:
    """``Y.T @ Y`` in float64 (float32 ``Y`` goes through float64 one slab at
    a time)."""
    return Y.gram()


@functools.singledispatch
def times_small(Y, M: np.ndarray, *, overwrite: bool = False):
    """``Y @ M`` for a small float64 ``M``, in Y's dtype.

    For float32 ``Y`` this is a float32 product: its rounding error,
    ``eps32 |Y| |M|``, is of the order of the error the float32 products with
    ``A`` already put in ``Y``. With ``overwrite`` (and a square ``M``) the
    product may replace ``Y`` instead of taking new memory.
    """
    return Y @ M.astype(Y.dtype, copy=False)


@functools.singledispatch
def column_stack(Y, others):
    """``[Y, *others]`` side by side (blocks with the same rows)."""
    return Y.hstack(others)


@functools.singledispatch
def add_scaled(out, own, weight):
    """``out + own * weight`` (``weight`` per column); numpy blocks are updated
    in place, a slice of rows at a time, so no temporary as tall as the data
    is formed."""
    return out + own * weight


@functools.singledispatch
def householder(Y):
    """Thin QR ``Y = Q R`` by Householder reflections (TSQR for row blocks)."""
    return Y.qr()


@to_local.register
def _(Y: np.ndarray):
    return Y


@inner.register
def _(Y: np.ndarray, Z):
    parts = _over_slabs(lambda rows: np.asarray(Y[rows].T @ Z[rows], dtype=np.float64), Y)
    return _sum_in_order(parts)


@gram.register
def _(Y: np.ndarray):
    def slab_gram(rows):
        slab = Y[rows].astype(np.float64, copy=False)
        return slab.T @ slab

    return _sum_in_order(_over_slabs(slab_gram, Y))


@times_small.register
def _(Y: np.ndarray, M, *, overwrite=False):
    M = M.astype(Y.dtype, copy=False)
    if overwrite and M.shape[0] == M.shape[1]:
        out = Y
    else:
        out = np.empty((Y.shape[0], M.shape[1]), dtype=Y.dtype)
    # numpy copies a slab that overlaps its output before multiplying.
    _over_slabs(lambda rows: np.matmul(Y[rows], M, out=out[rows]), Y)
    return out


@column_stack.register
def _(Y: np.ndarray, others):
    return np.column_stack([Y, *[to_local(Z) for Z in others]])


@add_scaled.register
def _(out: np.ndarray, own, weight, rows_per_step=1 << 16):
    weight = weight.astype(out.dtype, copy=False)
    for start in range(0, out.shape[0], rows_per_step):
        out[start:start + rows_per_step] += own[start:start + rows_per_step] * weight
    return out


@householder.register
def _(Y: np.ndarray):
    Q, R = np.linalg.qr(Y.astype(np.float64, copy=False))
    return Q.astype(Y.dtype, copy=False), R


# ---------------------------------------------------------------- slabs
def _over_slabs(function, Y) -> list:
    """``function(rows)`` for the fixed slabs of Y's rows, in slab order."""
    return map_in_parallel(function, row_slabs(Y.shape[0]))


def row_slabs(m: int) -> list[slice]:
    """Slabs of ``m`` rows: one if ``m <= _ROW_SLAB``, else a multiple of
    ``_SLAB_MULTIPLE`` of them, of equal size to a row, each at most
    ``_ROW_SLAB`` rows. They depend on ``m`` alone."""
    if m <= _ROW_SLAB:
        return [slice(0, m)]
    count = -(-m // _ROW_SLAB)
    count = -(-count // _SLAB_MULTIPLE) * _SLAB_MULTIPLE
    return [slice(i * m // count, (i + 1) * m // count) for i in range(count)]


def _sum_in_order(parts):
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


# ---------------------------------------------------------------- factorisations
def orthonormalize(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thin QR of a tall block: ``Y = Q @ R``.

    Returns ``Q`` (orthonormal columns, Y's dtype) and upper-triangular float64
    ``R``. CholeskyQR2 when ``Y`` is well conditioned, Householder otherwise.
    """
    Q, R = Y, np.eye(Y.shape[1])
    for _ in range(2):
        R_step = _cholesky_factor(gram(Q))
        if R_step is None:
            return householder(Y)
        Q = times_small(Q, scipy.linalg.lapack.dtrtri(R_step)[0])
        R = R_step @ R
    return Q, R


def _cholesky_factor(G: np.ndarray):
    """Upper Cholesky factor of a Gram matrix, or None when it is too ill-conditioned."""
    try:
        R = np.linalg.cholesky(G).T
    except np.linalg.LinAlgError:
        return None
    d = np.abs(np.diag(R))
    if d.size and not d.min() > d.max() / _MAX_CHOLESKY_COND:
        return None
    return R


def normalize(Y: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Factor ``Y = B @ C`` with a well-conditioned basis ``B``.

    ``method`` is ``"QR"`` (orthonormal ``B``), ``"LU"`` (``B`` a row-permuted
    unit lower-triangular factor, as scikit-learn uses between power
    iterations) or ``"none"`` (``B = Y``).
    """
    if method == "QR":
        return orthonormalize(Y)
    if method == "LU":  # numpy blocks only (the facade refuses it for row blocks)
        PL, U = scipy.linalg.lu(Y, permute_l=True, check_finite=False)
        return PL, U.astype(np.float64)
    return Y, np.eye(Y.shape[1])


def svd_of_tall(Y: np.ndarray, *, overwrite: bool = False):
    """Thin SVD ``Y = U diag(s) Wt`` of a tall block; ``U`` in Y's dtype.

    The eigendecomposition of the float64 Gram matrix gives ``s`` and ``Wt``
    and ``U = Y W diag(1/s)`` costs one product. Its loss of orthogonality is
    about ``eps cond(Y)^2`` (float64) or ``eps cond(Y)`` (float32); when that
    can exceed the dtype's rounding, ``U`` is checked and, if needed, a
    Cholesky pass restores it. Ill-conditioned or rank-deficient blocks go
    through Householder QR. With ``overwrite``, ``U`` takes Y's memory (a
    tall block's worth less at the peak; ``Y`` is then lost).
    """
    lam, W = np.linalg.eigh(gram(Y))
    lam, W = lam[::-1], W[:, ::-1]
    if lam[-1] > lam[0] / _MAX_CHOLESKY_COND ** 2:
        s = np.sqrt(lam)
        U = times_small(Y, W / s, overwrite=overwrite)
        if Y.dtype == np.float64 and lam[0] < 1e4 * lam[-1]:
            return U, s, W.T  # cond(Y) < 100: orthogonal to ~1e-12 already
        G = gram(U)
        if np.abs(G - np.eye(G.shape[0])).max() <= 64 * np.finfo(Y.dtype).eps:
            return U, s, W.T
        R = _cholesky_factor(G)  # U = Q R with Q orthonormal, so Y = Q (R diag(s) W^T)
        if R is not None:
            U_small, s, Wt_small = np.linalg.svd(R * s)
            return times_small(U, scipy.linalg.lapack.dtrtri(R)[0] @ U_small), s, Wt_small @ W.T
        if overwrite:  # Y was replaced by U: rebuild it (to rounding) for Householder
            Y = times_small(U, s[:, None] * W.T)
    Q, R = householder(Y)
    U_small, s, Wt = np.linalg.svd(R)
    return times_small(Q, U_small), s, Wt
