"""Randomized range finding and randomized SVD (Halko, Martinsson & Tropp 2011)."""

from __future__ import annotations

import numpy as np

from ..operators import Operator
from .estimates import converged, divide_or_zero, relative_errors
from .result import Solution
from .tall import normalize, orthonormalize, svd_of_tall, times_small


def range_finder(op: Operator, size: int, *, n_iter: int, normalizer: str,
                 rng: np.random.Generator) -> np.ndarray:
    """Orthonormal ``Q`` (m x size) whose range approximates the range of ``op``.

    HMT Algorithm 4.4: ``Q = orth((A A^T)^n_iter A Omega)`` with a Gaussian
    ``Omega``, normalising the block after every product.
    """
    Y = op.matmat(rng.standard_normal((op.shape[1], size)))
    for _ in range(n_iter):
        Q = normalize(Y, normalizer)[0]
        Y = op.matmat(normalize(op.rmatmat(Q), normalizer)[0])
    return orthonormalize(Y)[0]


def subspace_iteration(op: Operator, k: int, *, n_oversamples: int, n_iter: int,
                       normalizer: str, tol: float | None, rng: np.random.Generator,
                       start: np.ndarray | None = None):
    """Randomized SVD of ``op`` (best with ``m >= n``: the ``n`` side is the cheap one).

    Each iteration applies ``A`` then ``A.T`` to a block of ``l = k +
    n_oversamples`` columns, so ``n_iter`` power iterations cost
    ``2 (n_iter + 1)`` passes, as in HMT Algorithm 4.4 followed by the SVD of
    ``B = Q^T A``.

    The error estimate comes for free: after ``Y = A X = Q R`` (``X``
    orthonormal) the SVD of ``R`` gives Ritz triplets of ``A`` on ``span(X)``,
    and the next product ``Z = A^T Q`` gives their residuals. The returned
    values (the SVD of ``Q^T A = Z^T``) lie between those Ritz values and the
    true ones, so the estimate bounds them too. With ``tol`` set, iteration
    stops as soon as the estimate reaches it (at most ``n_iter`` power
    iterations); the long-side block is then orthonormalised every iteration.

    ``start`` (n x l, optional) replaces the Gaussian start block: a warm
    start from a previous solution (soft-impute uses it).

    Returns a :class:`Solution` (``n_iter`` counts the power iterations run).
    """
    n = op.shape[1]
    if start is None:
        start = rng.standard_normal((n, min(k + n_oversamples, n)))
    X = orthonormalize(np.asarray(start, dtype=np.float64))[0]
    for it in range(n_iter + 1):
        check = tol is not None or it == n_iter
        Q, R = orthonormalize(op.matmat(X)) if check else normalize(op.matmat(X), normalizer)
        Z = op.rmatmat(Q).astype(np.float64)
        if check:
            U_small, s_ritz, Wt = np.linalg.svd(R)
            residual = Z @ U_small[:, :k] - X @ (Wt[:k].T * s_ritz[:k])
            residuals = np.linalg.norm(residual, axis=0)
            # The smallest Ritz value of the block stands for the spectrum outside it.
            errors = relative_errors(s_ritz[:k], residuals, s_ritz[-1])
            done = tol is not None and converged(errors, residuals, s_ritz[0], tol, op.dtype)
            if done:
                break
        if it < n_iter:
            X = orthonormalize(Z)[0]
    V_all, s, Ut_small = svd_of_tall(Z)
    U = times_small(Q, Ut_small[:k].T.astype(np.float64))
    return Solution(U, s[:k], V_all[:, :k], divide_or_zero(residuals, s_ritz[:k]), errors, it,
                    2 * (it + 1), tol is None or done)
