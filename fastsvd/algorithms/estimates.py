"""Error estimates of Ritz approximations, and the stopping rule."""

from __future__ import annotations

import numpy as np


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
