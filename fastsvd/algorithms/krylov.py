"""Block Krylov SVD: thick-restarted block Lanczos on ``A^T A``.

The Krylov basis lives on the short side (``n <= m``), in float64: it is small,
so it can be kept whole, fully reorthogonalised, and rotated at a restart.
The long side only ever holds one transient block. Every basis block ``X``
is stored with its image ``A^T A X``, which makes the projected matrix
``T = V^T A^T A V`` and the residual of every Ritz vector cheap short-side
products. Convergence is watched through the newest block's share of the
residuals (Lanczos's estimate) and confirmed with the residuals of the whole
basis, so rounding in float32 products cannot silently break it. A final
Rayleigh-Ritz step on the top Ritz vectors returns orthonormal ``U`` and ``V``
and singular values computed from ``A V`` directly (not squared).

Block Krylov methods reach a given accuracy in far fewer passes than subspace
(power) iteration when the spectrum decays slowly (Musco & Musco 2015).
"""

from __future__ import annotations

import numpy as np

from ..operators import Operator
from .estimates import converged, divide_or_zero, relative_errors
from .result import Solution
from .tall import inner, orthonormalize, svd_of_tall, times_small

# Memory the two short-side bases (V and A^T A V, float64) may take together.
_BASIS_BUDGET_BYTES = 512 * 2**20


_MIN_DEFAULT_BLOCK, _MAX_DEFAULT_BLOCK = 16, 128
# Largest overlap |V^T X| with the basis a new block may keep without a second
# Gram-Schmidt pass (see _next_block). A basis off orthonormal by ``e``
# perturbs the Ritz values relatively by about ``e``, and each one-pass block
# passes that on (times ||A^T A X|| / ||X||), so the bound is kept far below
# any tolerance (docs/design.md has the overlaps measured).
_ONE_PASS_LOSS = 1e-13


def default_block_size(k: int, n: int) -> int:
    """About ``(k + 10) / 2`` columns, rounded up to a multiple of 8 (the SIMD
    width: no scalar tails in the sparse kernels), between 16 and 128.

    Narrower blocks raise the Krylov degree faster per column processed, so
    they reach a tolerance with fewer products in all and a smaller projected
    matrix to diagonalise (docs/design.md, "Block size").
    """
    half = -(-(k + 10) // 16) * 8
    return min(n, max(_MIN_DEFAULT_BLOCK, min(_MAX_DEFAULT_BLOCK, half)))


def block_krylov(op: Operator, k: int, *, block_size: int, tol: float, max_iter: int,
                 max_basis: int | None, rng: np.random.Generator):
    """Top ``k`` singular triplets of ``op`` (shape ``m x n`` with ``n <= m``).

    Each iteration costs two passes (``A X`` then ``A^T (A X)`` for one block
    of ``block_size`` columns) and stops once every estimated relative error of
    the top ``k`` singular values is ``<= tol`` (or after ``max_iter``
    iterations). When the basis reaches ``max_basis`` columns it is restarted
    from its best Ritz vectors (thick restart), which bounds memory and the
    short-side work per iteration.

    Returns a :class:`Solution`.
    """
    n = op.shape[1]
    b = min(block_size, n)
    basis = _Basis(n, _capacity(n, k, b, max_basis), initial=2 * (k + 2 * b),
                   image_dtype=op.dtype)
    n_keep = min(basis.capacity - b, max(k + b // 2, 2 * k))
    X = orthonormalize(rng.standard_normal((n, b)))[0]
    restarted = False
    for it in range(1, max(max_iter, -(-k // b)) + 1):  # at least enough blocks for k
        GX = op.normal_matmat(X)
        projections = basis.append(X, GX)
        theta, Z = _ritz(basis.T)
        # GX - V V^T GX: the newest block's columns of GV - V T (to rounding),
        # and the first Gram-Schmidt pass of the next block.
        outside = GX - times_small(basis.V, projections)
        if basis.used >= k:
            s = np.sqrt(theta[:k])
            # The newest block was drawn from outside the previous basis: its
            # Rayleigh quotient stands for the spectrum not yet captured.
            newest = basis.T[-X.shape[1]:, -X.shape[1]:]
            s_outside = np.sqrt(max(np.linalg.eigvalsh(newest).max(), 0.0)) if it > 1 else None
            # Before any restart the older columns of GV - V T hold only
            # rounding (each older block's image was orthogonalised into the
            # basis), so the newest block gives the residuals (Lanczos's
            # estimate, no pass over the basis). Stopping is always decided
            # on the residuals of the whole basis.
            estimate = divide_or_zero(np.linalg.norm(
                times_small(outside, Z[-X.shape[1]:, :k]), axis=0), s)
            if (restarted or basis.used == n or it >= max_iter or converged(
                    relative_errors(s, estimate, s_outside), estimate, s[0], tol, op.dtype)):
                # ||A^T A v - s^2 v|| = s ||A^T u - s v|| for a Ritz vector v and u = A v / s.
                residuals = divide_or_zero(np.linalg.norm(
                    times_small(basis.GV, Z[:, :k]) - times_small(basis.V, Z[:, :k] * theta[:k]),
                    axis=0), s)
                errors = relative_errors(s, residuals, s_outside)
                done = converged(errors, residuals, s[0], tol, op.dtype) or basis.used == n
                if done or it >= max_iter:
                    break
        X = _next_block(outside, GX, basis.V, min(b, n - basis.used), rng)
        if basis.used + X.shape[1] > basis.capacity:
            basis.restart(Z[:, :n_keep], theta[:n_keep])
            restarted = True
    U, s_final, V_final = _rayleigh_ritz(op, times_small(basis.V, Z[:, :k]))
    return Solution(U, s_final, V_final, divide_or_zero(residuals, s), errors, it, 2 * it + 1,
                    done)


class _Basis:
    """The short-side basis ``V`` (orthonormal columns, float64), ``GV = A^T A
    V`` (in ``image_dtype``, the precision of the products that computed it:
    float32 products gain nothing from float64 storage) and the projected
    matrix ``T = V^T GV`` (float64), in column-major storage that grows as
    blocks arrive, up to ``capacity`` columns. It starts with room for
    ``initial`` columns and doubles in place (``ndarray.resize``: the columns
    in use are neither copied nor touched)."""

    def __init__(self, n, capacity, initial, image_dtype=np.float64):
        self.capacity = capacity
        self.used = 0
        size = min(capacity, initial)
        self._V = np.empty((n, size), order="F")
        self._GV = np.empty((n, size), dtype=np.result_type(image_dtype, np.float32), order="F")
        self._T = np.zeros((size, size))

    @property
    def V(self):
        return self._V[:, :self.used]

    @property
    def GV(self):
        return self._GV[:, :self.used]

    @property
    def T(self):
        return self._T[:self.used, :self.used]

    def append(self, X, GX):
        """Add block ``X`` with its image ``GX``; return ``[V, X]^T GX``, the
        projections that start the next orthogonalisation. ``T`` gets them
        with the newest diagonal block symmetrised (rounding in the products
        leaves ``X^T GX`` slightly unsymmetric; the projections keep it as
        computed, so ``GX`` minus them is orthogonal to ``X`` to float64
        rounding)."""
        own = X.T @ GX
        projections = np.vstack([inner(self.V, GX), own])
        start, stop = self.used, self.used + X.shape[1]
        self._reserve(stop)
        self._V[:, start:stop], self._GV[:, start:stop] = X, GX
        self._T[:start, start:stop] = projections[:start]
        self._T[start:stop, :start] = projections[:start].T
        self._T[start:stop, start:stop] = (own + own.T) / 2
        self.used = stop
        return projections

    def restart(self, Z, theta):
        """Keep only the Ritz vectors ``V Z`` (thick restart): ``T`` becomes diagonal."""
        keep = Z.shape[1]
        self._V[:, :keep] = times_small(self.V, Z)
        self._GV[:, :keep] = times_small(self.GV, Z)
        self._T[:keep, :keep] = np.diag(theta)
        self.used = keep

    def _reserve(self, columns):
        size = self._V.shape[1]
        if columns <= size:
            return
        size = min(self.capacity, max(columns, 2 * size))
        n = self._V.shape[0]
        for name in ("_V", "_GV"):
            try:  # in place (column-major: the columns in use stay where they are)
                getattr(self, name).resize((n, size))  # refused while a view of it is alive
            except ValueError:
                old = getattr(self, name)
                grown = np.empty((n, size), dtype=old.dtype, order="F")
                grown[:, :self.used] = old[:, :self.used]
                setattr(self, name, grown)
        T = np.zeros((size, size))
        T[:self.used, :self.used] = self.T
        self._T = T


def _capacity(n, k, b, max_basis):
    if max_basis is None:
        max_basis = max(_BASIS_BUDGET_BYTES // (16 * n), 2 * k + 2 * b)
    return int(min(n, max(max_basis, k + 2 * b)))


def _ritz(T):
    """Eigenpairs of the projected symmetric matrix, largest first, values >= 0."""
    theta, Z = np.linalg.eigh(T)
    return np.maximum(theta[::-1], 0.0), Z[:, ::-1]


def _next_block(outside, GX, V, size, rng):
    """Orthonormal block spanning ``outside = GX - V V^T GX`` (the first pass
    of block classical Gram-Schmidt, computed by the caller).

    The block's overlap with ``V`` after that pass is measured; the second
    pass (subtracting it, half the short-side work of an iteration) is made
    only when it exceeds ``_ONE_PASS_LOSS``. Directions that vanish (the
    Krylov space became invariant) are replaced by random ones.
    """
    X = outside[:, :size]
    lost = np.linalg.norm(X, axis=0) <= 1e-10 * np.maximum(np.linalg.norm(GX[:, :size], axis=0),
                                                           np.finfo(float).tiny)
    if lost.any():
        X[:, lost] = rng.standard_normal((X.shape[0], int(lost.sum())))
        X -= times_small(V, inner(V, X))
    Q, R = orthonormalize(X)
    weak = np.abs(np.diag(R)) <= 1e-10 * max(np.abs(np.diag(R)).max(), np.finfo(float).tiny)
    if weak.any():  # dependent columns inside the block: refill
        Q[:, weak] = rng.standard_normal((Q.shape[0], int(weak.sum())))
        Q = np.linalg.qr(Q - times_small(V, inner(V, Q)))[0]
    overlap = inner(V, Q)
    if np.abs(overlap).max() > _ONE_PASS_LOSS:
        Q = orthonormalize(Q - times_small(V, overlap))[0]
    return Q


def _rayleigh_ritz(op, V_k):
    """Best ``U diag(s) W^T`` of ``A`` on ``span(V_k)``: the SVD of ``A V_k``."""
    U, s, Wt = svd_of_tall(op.final_matmat(V_k), overwrite=True)
    return U, s, V_k @ Wt.T
