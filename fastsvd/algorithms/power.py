"""Power iteration and deflation, written against the operator protocol."""

from __future__ import annotations

import numpy as np

from ..operators import DeflatedOperator, Operator
from .estimates import divide_or_zero
from .result import Solution
from .tall import orthonormalize, svd_of_tall


def power_triplet(op: Operator, *, tol: float, max_iter: int, rng: np.random.Generator,
                  floor: float = 0.0):
    """Top singular triplet of ``op`` by power iteration on ``A.T A``.

    Stops when the relative residual ``||A.T u - s v|| / s`` falls to ``tol``
    or after ``max_iter`` iterations. The returned triplet always satisfies
    ``A v = s u`` exactly (up to rounding), so the residual fully describes
    its accuracy. A value ``s <= floor`` counts as zero (the operator is zero
    to rounding: a deflated matrix of lower rank than asked for).

    Returns ``(u, s, v, n_iter, residual)`` with float64 vectors and the
    relative residual of the returned triplet.
    """
    m, n = op.shape
    v = rng.standard_normal(n)
    v /= np.linalg.norm(v)
    u, s, residual = np.zeros(m), 0.0, np.inf
    for it in range(1, max_iter + 1):
        y = op.matmat(v[:, None])[:, 0].astype(np.float64)
        s = float(np.linalg.norm(y))
        if s <= floor:  # v lies in the null space: A is zero (or v unluckily is)
            return np.zeros(m), 0.0, v, it, 0.0
        u = y / s
        z = op.rmatmat(u[:, None])[:, 0].astype(np.float64)
        residual = float(np.linalg.norm(z - s * v)) / s
        z_norm = float(np.linalg.norm(z))
        if residual <= tol or z_norm == 0.0:
            return u, s, v, it, residual
        v = z / z_norm
    return u, s, v, max_iter, residual


def deflation(op: Operator, k: int, *, tol: float, max_iter: int, rng: np.random.Generator):
    """Top ``k`` singular triplets by power iteration and deflation.

    Component ``i`` is the top triplet of ``A - U_i diag(s_i) V_i^T`` (the
    matrix with the first ``i`` components removed), applied implicitly
    through :class:`DeflatedOperator`; nothing is formed.

    A final Rayleigh-Ritz step on the span of the deflated right vectors makes
    ``U`` and ``V`` exactly orthonormal (deflation alone leaves them
    orthogonal only to about ``tol``) and can only improve the values.
    Returns a :class:`Solution` whose residuals are measured against ``A``
    itself.
    """
    m, n = op.shape
    U, s, V = np.zeros((m, k)), np.zeros(k), np.zeros((n, k))
    n_iter, converged = 0, True
    for i in range(k):
        deflated = DeflatedOperator(op, U[:, :i], s[:i], V[:, :i].T) if i else op
        # Below the rounding level of the products, what is left is zero.
        floor = 1000 * np.finfo(op.dtype).eps * s[0] if i else 0.0
        U[:, i], s[i], V[:, i], iters, residual = power_triplet(
            deflated, tol=tol, max_iter=max_iter, rng=rng, floor=floor)
        n_iter += iters
        converged &= residual <= tol
    V = orthonormalize(V)[0]
    U, s, Wt = svd_of_tall(op.matmat(V), overwrite=True)
    V = V @ Wt.T
    residuals = np.linalg.norm(op.rmatmat(U).astype(np.float64) - V * s, axis=0)
    relative = divide_or_zero(residuals, s)
    return Solution(U, s, V, relative, relative, n_iter, 2 * n_iter + 2, bool(converged))
