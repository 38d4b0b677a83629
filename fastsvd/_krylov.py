"""Block Krylov SVD: thick-restarted block Lanczos on ``A^T A``.

The Krylov basis lives on the short side (``n <= m``), in float64: it is small,
so it can be kept whole, fully reorthogonalised, and rotated at a restart.
The long side only ever holds one transient block. Every basis block ``X``
is stored with its image ``A^T A X``, which makes the projected matrix
``T = V^T A^T A V`` and the residual of every Ritz vector cheap short-side
products; nothing is assumed about the recurrence, so rounding in float32
products cannot silently break it. A final Rayleigh-Ritz step on the top Ritz
vectors returns orthonormal ``U`` and ``V`` and singular values computed from
``A V`` directly (not squared).

Block Krylov methods reach a given accuracy in far fewer passes than subspace
(power) iteration when the spectrum decays slowly (Musco & Musco 2015).
"""

from __future__ import annotations

import numpy as np

from ._linalg import converged, divide_or_zero, orthonormalize, relative_errors, svd_of_tall
from ._operators import Operator
from ._result import Solution

# Memory the two short-side bases (V and A^T A V, float64) may take together.
_BASIS_BUDGET_BYTES = 512 * 2**20


def default_block_size(k: int, n: int) -> int:
    """``k + 10`` rounded up to a multiple of 8: blocks whose width is a
    multiple of the SIMD width keep the sparse kernels free of scalar tails."""
    return min(n, -(-(k + 10) // 8) * 8)


def block_krylov(op: Operator, k: int, *, block_size: int, tol: float, max_iter: int,
                 max_basis: int | None, rng: np.random.Generator):
    """Top ``k`` singular triplets of ``op`` (shape ``m x n`` with ``n <= m``).

    Each iteration costs two passes (``A X`` then ``A^T (A X)`` for one block
    of ``block_size`` columns) and stops once every estimated relative error of
    the top ``k`` singular values is ``<= tol`` (or after ``max_iter``
    iterations). When the basis reaches ``max_basis`` columns it is restarted
    from its best Ritz vectors (thick restart), which keeps memory bounded.

    Returns a :class:`Solution`.
    """
    n = op.shape[1]
    b = min(block_size, n)
    capacity = _capacity(n, k, b, max_basis)
    n_keep = min(capacity - b, max(k + b // 2, 2 * k))
    # Column-major, so appending a block touches only the memory it fills.
    V = np.empty((n, capacity), order="F")
    GV = np.empty((n, capacity), order="F")
    T = np.zeros((capacity, capacity))
    X = orthonormalize(rng.standard_normal((n, b)))[0]
    used = 0
    for it in range(1, max(max_iter, -(-k // b)) + 1):  # at least enough blocks for k
        GX = op.rmatmat(op.matmat(X)).astype(np.float64)
        new = slice(used, used + X.shape[1])
        V[:, new], GV[:, new] = X, GX
        T[:used, new] = V[:, :used].T @ GX
        T[new, :used] = T[:used, new].T
        T[new, new] = (X.T @ GX + GX.T @ X) / 2
        used = new.stop
        theta, Z = _ritz(T[:used, :used])
        if used >= k:
            s = np.sqrt(theta[:k])
            # ||A^T A v - s^2 v|| = s ||A^T u - s v|| for a Ritz vector v and u = A v / s.
            residuals = divide_or_zero(np.linalg.norm(
                GV[:, :used] @ Z[:, :k] - V[:, :used] @ (Z[:, :k] * theta[:k]), axis=0), s)
            # The newest block was drawn from outside the previous basis: its
            # Rayleigh quotient stands for the spectrum not yet captured.
            s_outside = np.sqrt(max(np.linalg.eigvalsh(T[new, new]).max(), 0.0)) \
                if it > 1 else None
            errors = relative_errors(s, residuals, s_outside)
            done = converged(errors, residuals, s[0], tol, op.dtype) or used == n
            if done or it >= max_iter:
                break
        X = _next_block(GX, V[:, :used], min(b, n - used), rng)
        if used + X.shape[1] > capacity:
            V[:, :n_keep] = V[:, :used] @ Z[:, :n_keep]
            GV[:, :n_keep] = GV[:, :used] @ Z[:, :n_keep]
            T[:n_keep, :n_keep] = np.diag(theta[:n_keep])
            used = n_keep
    U, s_final, V_final = _rayleigh_ritz(op, V[:, :used] @ Z[:, :k])
    return Solution(U, s_final, V_final, divide_or_zero(residuals, s), errors, it, 2 * it + 1,
                    done)


def _capacity(n, k, b, max_basis):
    if max_basis is None:
        max_basis = max(_BASIS_BUDGET_BYTES // (16 * n), 2 * k + 2 * b)
    return int(min(n, max(max_basis, k + 2 * b)))


def _ritz(T):
    """Eigenpairs of the projected symmetric matrix, largest first, values >= 0."""
    theta, Z = np.linalg.eigh(T)
    return np.maximum(theta[::-1], 0.0), Z[:, ::-1]


def _next_block(GX, V, size, rng):
    """Orthonormal block spanning the part of ``GX`` orthogonal to ``V`` (block
    classical Gram-Schmidt, twice). Directions that vanish (the Krylov space
    became invariant) are replaced by random ones."""
    X = GX[:, :size]
    scale = np.linalg.norm(X, axis=0)
    for _ in range(2):
        X = X - V @ (V.T @ X)
    lost = np.linalg.norm(X, axis=0) <= 1e-10 * np.maximum(scale, np.finfo(float).tiny)
    if lost.any():
        X[:, lost] = rng.standard_normal((X.shape[0], int(lost.sum())))
        for _ in range(2):
            X = X - V @ (V.T @ X)
    Q, R = np.linalg.qr(X)
    weak = np.abs(np.diag(R)) <= 1e-10 * max(np.abs(np.diag(R)).max(), np.finfo(float).tiny)
    if weak.any():  # dependent columns inside the block: refill and redo once
        Q[:, weak] = rng.standard_normal((Q.shape[0], int(weak.sum())))
        Q = np.linalg.qr(Q - V @ (V.T @ Q))[0]
    return Q


def _rayleigh_ritz(op, V_k):
    """Best ``U diag(s) W^T`` of ``A`` on ``span(V_k)``: the SVD of ``A V_k``."""
    U, s, Wt = svd_of_tall(op.matmat(V_k))
    return U, s, V_k @ Wt.T
