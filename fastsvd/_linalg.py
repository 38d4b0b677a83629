"""Dense linear-algebra building blocks shared by the algorithms.

Tall-skinny blocks (``m x l`` with ``m >> l``) are orthonormalised with
CholeskyQR2 (Gram matrix + Cholesky, twice), which is BLAS-3 and costs a
fraction of a Householder QR; ill-conditioned or rank-deficient blocks fall
back to Householder. Gram matrices of float32 blocks are accumulated in
float64 over row slabs, so float32 data keeps its precision without a
float64 copy of the whole block.

The tall products (``Y @ M``, ``Y.T @ Y``, ``Y.T @ Z``) run over fixed slabs
of rows, one single-threaded BLAS call each, spread over the numba thread
count by one persistent thread pool; partial sums are added in slab order.
The slabs never depend on the thread count, so neither do the bits (BLAS's
own threads would change them). Their number is a multiple of four and their
sizes equal, so two or four threads get equal shares: the 17,770-row short
side of the Netflix shape used to be three slabs, two of them on one thread.
On a 480,189 x 50 float32 block ``Y @ M`` took 22 instead of 39 ms on 2
threads, and one softImpute-ALS iteration on the Netflix shape 1.01 instead
of 1.16-1.33 s.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.linalg

_ROW_SLAB = 1 << 13  # most rows per slab of the tall products
_SLAB_MULTIPLE = 4  # slab counts are multiples of this: 2 or 4 threads get equal shares
# CholeskyQR2 is accurate while cond(Y) < ~1/sqrt(eps64); fall back well before.
_MAX_CHOLESKY_COND = 1e6


def is_local(Y) -> bool:
    """Whether the block is an in-memory numpy array."""
    return isinstance(Y, np.ndarray)


def to_local(Y):
    """The block as a numpy array (gathered if it is held elsewhere)."""
    return Y if is_local(Y) else Y.to_numpy()


def column_stack(blocks):
    """Side-by-side concatenation of tall blocks with the same rows."""
    if all(is_local(Y) for Y in blocks):
        return np.column_stack(blocks)
    return blocks[0].hstack(blocks[1:])


def inner(Y: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """``Y.T @ Z`` (float64) for two tall blocks with the same rows."""
    if not is_local(Y):
        return Y.inner(Z)
    parts = _over_slabs(lambda rows: np.asarray(Y[rows].T @ Z[rows], dtype=np.float64), Y)
    return _sum_in_order(parts)


def gram(Y: np.ndarray) -> np.ndarray:
    """``Y.T @ Y`` in float64 (float32 ``Y`` goes through float64 one slab at
    a time)."""
    if not is_local(Y):
        return Y.gram()

    def slab_gram(rows):
        slab = Y[rows].astype(np.float64, copy=False)
        return slab.T @ slab

    return _sum_in_order(_over_slabs(slab_gram, Y))


def times_small(Y: np.ndarray, M: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """``Y @ M`` for a small float64 ``M``, in Y's dtype.

    For float32 ``Y`` this is a float32 product: its rounding error,
    ``eps32 |Y| |M|``, is of the order of the error the float32 products with
    ``A`` already put in ``Y``. With ``overwrite`` (and a square ``M``) the
    product replaces ``Y`` slab by slab instead of taking new memory.
    """
    M = M.astype(Y.dtype, copy=False)
    if not is_local(Y):
        return Y @ M
    if overwrite and M.shape[0] == M.shape[1]:
        out = Y
    else:
        out = np.empty((Y.shape[0], M.shape[1]), dtype=Y.dtype)
    # numpy copies a slab that overlaps its output before multiplying.
    _over_slabs(lambda rows: np.matmul(Y[rows], M, out=out[rows]), Y)
    return out


def _over_slabs(function, Y) -> list:
    """``function(rows)`` for the fixed slabs of Y's rows, in slab order, on
    as many threads as numba uses (the calling thread takes the first share)."""
    from ._numba import active_threads

    slabs = row_slabs(Y.shape[0])
    workers = min(active_threads(), len(slabs))
    if workers <= 1:
        return [function(rows) for rows in slabs]
    shares = [slabs[i * len(slabs) // workers:(i + 1) * len(slabs) // workers]
              for i in range(workers)]
    pending = [_slab_pool(workers - 1).submit(lambda share=share: [function(r) for r in share])
               for share in shares[1:]]
    results = [function(rows) for rows in shares[0]]
    for future in pending:
        results.extend(future.result())
    return results


def row_slabs(m: int) -> list[slice]:
    """Slabs of ``m`` rows: one if ``m <= _ROW_SLAB``, else a multiple of
    ``_SLAB_MULTIPLE`` of them, of equal size to a row, each at most
    ``_ROW_SLAB`` rows. They depend on ``m`` alone."""
    if m <= _ROW_SLAB:
        return [slice(0, m)]
    count = -(-m // _ROW_SLAB)
    count = -(-count // _SLAB_MULTIPLE) * _SLAB_MULTIPLE
    return [slice(i * m // count, (i + 1) * m // count) for i in range(count)]


_pool_lock = threading.Lock()
_pool: list = []  # [executor, its number of threads] once created


def _slab_pool(workers: int) -> ThreadPoolExecutor:
    """The thread pool of the slab products, grown to at least ``workers``
    threads (threads start once, not at every product)."""
    with _pool_lock:
        if not _pool or _pool[1] < workers:
            if _pool:
                _pool[0].shutdown(wait=False)
            _pool[:] = [ThreadPoolExecutor(workers, thread_name_prefix="fastsvd-slabs"), workers]
        return _pool[0]


def _sum_in_order(parts):
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


def orthonormalize(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thin QR of a tall block: ``Y = Q @ R``.

    Returns ``Q`` (orthonormal columns, Y's dtype) and upper-triangular float64
    ``R``. CholeskyQR2 when ``Y`` is well conditioned, Householder otherwise.
    """
    Q, R = Y, np.eye(Y.shape[1])
    for _ in range(2):
        R_step = _cholesky_factor(gram(Q))
        if R_step is None:
            return _householder(Y)
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


def _householder(Y):
    if not is_local(Y):
        return Y.qr()  # TSQR
    Q, R = np.linalg.qr(Y.astype(np.float64, copy=False))
    return Q.astype(Y.dtype, copy=False), R


def normalize(Y: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Factor ``Y = B @ C`` with a well-conditioned basis ``B``.

    ``method`` is ``"QR"`` (orthonormal ``B``), ``"LU"`` (``B`` a row-permuted
    unit lower-triangular factor, as scikit-learn uses between power
    iterations) or ``"none"`` (``B = Y``).
    """
    if method == "QR":
        return orthonormalize(Y)
    if method == "LU":
        if not is_local(Y):
            raise ValueError("power_iteration_normalizer='LU' needs the whole long-side block in "
                             "memory; use 'QR' (the default) for distributed input.")
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
    Q, R = _householder(Y)
    U_small, s, Wt = np.linalg.svd(R)
    return times_small(Q, U_small), s, Wt


def flip_signs(U: np.ndarray, Vt: np.ndarray) -> None:
    """Fix signs in place: each row of ``Vt`` has its largest-magnitude entry
    positive (the first one on ties), and ``U`` follows. This is
    scikit-learn's ``svd_flip(u_based_decision=False)`` convention."""
    if Vt.size == 0:
        return
    pivots = np.abs(Vt).argmax(axis=1)
    signs = np.sign(Vt[np.arange(Vt.shape[0]), pivots])
    signs[signs == 0] = 1
    Vt *= signs[:, None].astype(Vt.dtype)
    U *= signs[None, :].astype(U.dtype)


def divide_or_zero(residuals: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``residuals / s`` (float64), with 0 where ``s`` is 0 (an exact null direction)."""
    s = np.asarray(s, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0, np.asarray(residuals, dtype=np.float64) / s, 0.0)


def relative_errors(s: np.ndarray, residuals: np.ndarray, s_outside: float | None = None):
    """Estimated relative errors of Ritz values ``s`` from their residuals.

    For a Ritz triplet with ``A v = s u`` and residual ``r = ||A.T u - s v||``,
    some singular value lies within ``r`` of ``s`` (the linear bound). When
    ``s_outside``, an estimate of the largest singular value of ``A`` left
    outside the search space, is below ``s``, the Kato-Temple bound for
    ``A^T A`` gives ``sigma - s <= r**2 s / (2 (s**2 - s_outside**2))``; the
    estimate is twice that (``s_outside`` itself is estimated) whenever it is
    the smaller. Because the gap is to the spectrum outside the search space,
    not to the neighbouring Ritz values, clustered singular values do not
    make the estimate pessimistic.
    """
    s = np.asarray(s, dtype=np.float64)
    r = np.asarray(residuals, dtype=np.float64)
    linear = divide_or_zero(r, s)
    if s_outside is None:
        return linear
    with np.errstate(divide="ignore", invalid="ignore"):
        quadratic = divide_or_zero(r * r * s, s * (s * s - s_outside ** 2))
    return np.where(s > s_outside, np.minimum(linear, quadratic), linear)


def converged(errors: np.ndarray, residuals: np.ndarray, s_max: float, tol: float,
              dtype) -> bool:
    """Every value meets ``tol``, or its residual is down to the rounding level
    of products in ``dtype`` (``1000 eps s_max``), where iterating further
    cannot help: tiny or zero singular values are as exact as the arithmetic
    allows."""
    noise = 1000 * np.finfo(dtype).eps * s_max
    return bool(np.all((errors <= tol) | (np.asarray(residuals) <= noise)))
