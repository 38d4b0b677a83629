"""Soft-impute: nuclear-norm regularised matrix completion over sparse ratings.

Solves ``min_Z 1/2 ||P_Omega(X - Z)||_F^2 + lam ||Z||_*`` for the observed
entries ``Omega`` of ``X`` (Mazumder, Hastie & Tibshirani 2010), with ``Z`` of
rank at most ``r`` kept as ``U diag(d) V^T`` (orthonormal ``U``, ``V``).

- ``"als"``: softImpute-ALS (Hastie, Mazumder, Lee & Zadeh 2015, Algorithm
  3.1). Each half-step solves a ridge problem for one factor against the
  completed matrix ``X* = P_Omega(X - Z) + Z``, over-relaxed by a momentum
  that a safeguard turns off if it ever increases the objective, and
  re-balances the factors by a small SVD.
- ``"svd"``: the original soft-impute: each iteration takes a rank-``r`` SVD of
  ``X*`` (the :class:`SparsePlusLowRankOperator` fed to the core's randomized
  subspace iteration, warm-started from the previous ``V``) and
  soft-thresholds its singular values by ``lam``.

Either way the residual at the observed entries is recomputed inside the
sparse products (one fused pass over the CSR per product), so no residual
array, no transposed copy and nothing ``m x n`` is stored.

Both decrease ``f(Z) = 1/2 ||P_Omega(X - Z)||^2 + lam ||Z||_*`` and share its
minimiser; ``history`` records ``f`` at every iteration.

The user side (``U``, user biases) is touched only through the tall-block
functions of :mod:`fastsvd.algorithms.tall` and the methods of the
:class:`~fastsvd.protocols.ObservedEntries` protocol, and
nothing here draws random numbers on that side. So the same code runs on a
:class:`ObservedEntries` in memory and on ratings split into row blocks on a Dask
cluster (:class:`fastsvd.distributed.DistributedObserved`), where ``U`` stays on the workers and
only the item side (``n x r``) and ``r x r`` matrices travel; the same seed
gives the same model either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..algorithms.randomized import subspace_iteration
from ..algorithms.tall import (
    add_scaled,
    column_stack,
    inner,
    orthonormalize,
    svd_of_tall,
    times_small,
    to_local,
)
from ..protocols import ObservedEntries
from .observed import SparsePlusLowRankOperator


@dataclass
class Factors:
    """``Z = U diag(d) V^T`` and the run's record."""

    U: np.ndarray
    d: np.ndarray
    V: np.ndarray
    history: list = field(default_factory=list)  # objective f(Z) per iteration
    n_iter: int = 0
    converged: bool = False

    def rank(self) -> int:
        return int(np.count_nonzero(self.d > 0))


def zero(observed: ObservedEntries) -> Factors:
    """The solution for ``lam >= lambda0``: ``Z = 0`` (rank 0)."""
    m, n = observed.shape
    return Factors(np.zeros((m, 0)), np.zeros(0), np.zeros((n, 0)), converged=True)


def objective(squared_residual: float, d: np.ndarray, lam: float) -> float:
    """``1/2 ||P_Omega(X - Z)||^2 + lam ||Z||_*`` from its two parts."""
    return 0.5 * float(squared_residual) + lam * float(np.sum(d))


def fit_biases(observed: ObservedEntries, damping: float, n_rounds: int = 10):
    """Damped bias model: ``mean``, then ``n_rounds`` alternations of
    ``b_u = sum(x - mean - b_i) / (n_u + damping)`` and
    ``b_i = sum(x - mean - b_u) / (n_i + damping)``.

    Returns the observed entries minus the model and ``(mean, user_bias,
    item_bias)``.
    """
    user_count, item_count = observed.row_counts(), observed.column_counts()
    mean = float(np.sum(observed.offset_column_sums(0.0, 0.0))) / float(np.sum(item_count))
    item_bias = np.zeros(observed.shape[1])
    for _ in range(n_rounds):
        user_bias = observed.offset_row_sums(mean, item_bias) / (user_count + damping)
        item_bias = observed.offset_column_sums(user_bias + mean, 0.0) / (item_count + damping)
    return observed.minus_offsets(user_bias + mean, item_bias), (mean, user_bias, item_bias)


def validation_rmse(held_out: ObservedEntries, factors: Factors) -> float:
    """RMSE of ``Z`` on held-out entries (their values already centred)."""
    zero = np.zeros((held_out.shape[1], 1))
    squares = float(held_out.residual_times(factors.U, factors.V, zero, factors.d)[1])
    return float(np.sqrt(squares / max(held_out.nnz, 1)))


def lambda0(observed: ObservedEntries, rng) -> float:
    """Smallest ``lam`` whose solution is ``Z = 0``: the largest singular value
    of ``P_Omega(X)``."""
    return float(top_pair(observed, rng).d[0])


def top_pair(observed: ObservedEntries, rng) -> Factors:
    """The top singular triplet of ``P_Omega(X)`` as rank-1 factors: ``d[0]``
    is ``lambda0``, and just below ``lambda0`` the solution is this pair with
    ``d`` shrunk by ``lam`` (a warm start for the top of a lambda path)."""
    result = subspace_iteration(observed, 1, n_oversamples=4, n_iter=30, normalizer="QR",
                                tol=1e-6, rng=rng)
    U = result.U if result.U.dtype == observed.dtype else result.U.astype(observed.dtype)
    return Factors(U, np.asarray(result.s, dtype=np.float64), np.asarray(result.V, np.float64))


def fit(observed: ObservedEntries, rank: int, lam: float, *, method: str, tol: float,
        max_iter: int, rng, start: Factors | None = None, callback=None) -> Factors:
    """Run soft-impute on the observed entries (a CSR operator) until the
    relative change of ``Z`` between iterations, ``||Z_new - Z||_F^2 /
    ||Z||_F^2``, is below ``tol`` (R's ``thresh``)."""
    factors = _initial(observed, rank, rng, start, method)
    step = _ALSSteps() if method == "als" else _svd_step
    for it in range(1, max_iter + 1):
        previous = (factors.U, factors.d, factors.V)
        factors.history.append(step(observed, factors, lam, rng))
        factors.n_iter = it
        change = _relative_change(previous, (factors.U, factors.d, factors.V))
        if callback is not None:
            callback(it, factors.history[-1], change)
        if change < tol:
            factors.converged = True
            break
    if method == "als":
        _als_finish(observed, factors, lam)
    return _drop_zeros(factors)


def _initial(observed, rank, rng, start, method):
    if start is not None:
        return _resize(observed, start, rank, rng)
    n = observed.shape[1]
    V = orthonormalize(rng.standard_normal((n, rank)))[0]
    # U spans X V for a random V (one randomized range-finder step), so the
    # random numbers are drawn on the item side only.
    U = orthonormalize(observed.matmat(V))[0]
    if method == "als":  # Hastie et al.: U orthonormal, D = I, V = 0
        return Factors(U, np.ones(rank), np.zeros((n, rank)))
    return Factors(U, np.zeros(rank), V)


def _resize(observed, start, rank, rng):
    """A warm start with ``rank`` columns: truncate, or pad with new
    directions (``X`` times random item-side directions for ``U``) whose
    ``d`` is the smallest kept value. ALS multiplies a column by its ``d``,
    so a column padded with ``d = 0`` would stay zero for ever."""
    U, d, V = start.U[:, :rank], start.d[:rank].copy(), start.V[:, :rank].copy()
    missing = rank - d.size
    if missing > 0:
        new = rng.standard_normal((V.shape[0], missing))
        U = orthonormalize(column_stack(U, [observed.matmat(new).astype(U.dtype)]))[0]
        V = orthonormalize(np.hstack([V, new]))[0]
        d = np.concatenate([d, np.full(missing, d.min() if d.size else 1.0)])
    return Factors(U, d, V)


#: Extrapolation weight of softImpute-ALS: each half-step moves its side to
#: ``new + ALS_MOMENTUM (new - old)`` instead of ``new``. On 10% Netflix-shaped
#: ratings (lam = 0.03 lambda0, rank 50, cold start), 100 iterations end 7,160
#: objective units above plain ALS's 300-iteration value without momentum,
#: 1,810 with 0.7 and 910 with 1.0; 1.5 diverges.
ALS_MOMENTUM = 0.7


class _ALSSteps:
    """softImpute-ALS iterations (Hastie et al. 2015, Algorithm 3.1) with
    momentum and a safeguard that keeps the objective non-increasing.

    Each half-step solves a ridge problem for one side against the completed
    matrix ``X* = P_Omega(X - Z) + Z`` and over-relaxes it by
    :data:`ALS_MOMENTUM` (a change of the ridge weights, so it costs
    nothing). Plain ALS never increases the objective; should an extrapolated
    iteration do so, the iteration is redone from where it started without
    momentum, which stays off for the rest of the fit.
    """

    def __init__(self):
        self.momentum = ALS_MOMENTUM
        self.accepted = None  # (U, d, V, X*^T U residual part, objective) at its start

    def __call__(self, observed, f, lam, rng):
        """One iteration (item side, then user side); returns the objective
        of ``Z`` as it was when the iteration started."""
        StU, squares = observed.residual_rtimes(f.U, f.V, f.U, f.d)
        value = objective(squares, f.d, lam)
        if self.accepted is not None and value > self.accepted[-1]:
            f.U, f.d, f.V, StU, value = self.accepted
            self.momentum = 0.0
        self.accepted = (f.U, f.d, f.V, StU.copy(), value)
        # Item side: with A = U sqrt(d) fixed, B = X*^T A (A^T A + lam)^-1. The
        # kernels apply the model's d row by row, so no long-side temporary
        # is formed, and the user side reads each row of V once (V is both
        # the model's factor and the multiplier).
        f.V, f.d, R = _balance(_scaled_ridge(StU, f.V, f.d, lam, self.momentum))
        f.U = times_small(f.U, R)
        # User side, symmetrically.
        SV, _ = observed.residual_times(f.U, f.V, f.V, f.d)
        f.U, f.d, R = _balance(_scaled_ridge(SV, f.U, f.d, lam, self.momentum))
        f.V = f.V @ R
        return value


def _scaled_ridge(S_times_other, own, d, lam, momentum=0.0):
    """Rows of ``X* other (D^2 + lam)^-1 D^2`` for ``X* = S + own diag(d) other^T``
    (``other`` orthonormal): this side's ridge solution ``X* other (D^2 +
    lam)^-1 D`` times ``sqrt(d)``, ready for :func:`_balance`; with
    ``momentum`` b, ``new + b (new - own diag(d))``. Overwrites
    ``S_times_other`` (a fresh product)."""
    out = S_times_other
    shrink = d / (d + lam)
    out *= _weights((1 + momentum) * shrink, out)
    return add_scaled(out, own, ((1 + momentum) * shrink - momentum) * d)


def _weights(column_weights, block):
    """Per-column weights in the block's dtype (float32 blocks stay float32
    arithmetic instead of going through float64 temporaries)."""
    return column_weights.astype(block.dtype, copy=False)


def _balance(scaled):
    """SVD of ``scaled = W diag(d_new) R^T``: the new orthonormal side ``W``,
    the new ``d`` and the rotation ``R`` for the other side."""
    if scaled.shape[0] < 4 * scaled.shape[1]:  # not tall: a plain SVD
        W, d_new, Rt = np.linalg.svd(to_local(scaled), full_matrices=False)
    else:
        W, d_new, Rt = svd_of_tall(scaled)
    return W, d_new, Rt.T


def _als_finish(observed, f, lam):
    """Hastie et al.'s last step: ``M = X* V = U' diag(s) R^T``; then
    ``U = U'``, ``V = V R`` and ``d = max(s - lam, 0)``, the exact
    soft-thresholded SVD of ``X*`` on the converged row space."""
    SV, _ = observed.residual_times(f.U, f.V, f.V, f.d)
    U, s, Rt = svd_of_tall(add_scaled(SV, f.U, f.d))
    f.U, f.V, f.d = U, f.V @ Rt.T, np.maximum(s - lam, 0.0)


def _svd_step(observed, f, lam, rng):
    """One soft-impute iteration: rank-r SVD of the completed matrix by one
    warm-started subspace iteration, then soft-thresholding."""
    completed = SparsePlusLowRankOperator(observed, f.U, f.d, f.V)
    solution = subspace_iteration(completed, f.d.size, n_oversamples=0, n_iter=0,
                                  normalizer="QR", tol=None, rng=rng, start=f.V)
    value = objective(completed.squared_residual, f.d, lam)
    f.U = np.asarray(solution.U, dtype=np.float64)
    f.V = np.asarray(solution.V, dtype=np.float64)
    f.d = np.maximum(solution.s - lam, 0.0)
    return value


def debias(observed, factors: Factors) -> Factors:
    """``Z`` with ``d`` refitted by least squares on the observed entries,
    ``U`` and ``V`` fixed (R's ``deBias``): the nuclear norm shrinks every
    singular value by ``lam``, this undoes it on the chosen subspaces.

    ``d`` stays ``>= 0`` (a negative coefficient flips its column of ``V``)
    and sorted descending.
    """
    if factors.d.size == 0:
        return factors
    G, b = observed.factor_gram(factors.U, factors.V)
    d = np.linalg.lstsq(G, b, rcond=None)[0]
    order = np.argsort(-np.abs(d), kind="stable")
    signs = np.where(d[order] < 0, -1.0, 1.0)
    return _drop_zeros(Factors(factors.U[:, order], np.abs(d[order]), factors.V[:, order] * signs,
                               list(factors.history), factors.n_iter, factors.converged))


def _relative_change(old, new):
    """``||Z_old - Z_new||_F^2 / ||Z_old||_F^2`` from the factors (R's ``Frob``)."""
    U1, d1, V1 = old
    U2, d2, V2 = new
    denominator = float(np.sum(d1 ** 2))
    cross = float(np.sum((d1[:, None] * inner(U1, U2)) * ((V1.T @ V2) * d2[None, :])))
    numerator = max(denominator + float(np.sum(d2 ** 2)) - 2 * cross, 0.0)
    return numerator / max(denominator, 1e-300)


def _drop_zeros(f):
    keep = f.d > 0
    if not keep.all():
        f.U, f.d, f.V = f.U[:, keep], f.d[keep], f.V[:, keep]
    return f
