"""Pseudo-inverse, minimum-norm least squares and ridge regression via the SVD."""

from __future__ import annotations

import numpy as np

from .._checks import check_rank, check_real
from ..algorithms import svd
from ..operators import DenseOperator, as_operator


def _factors(A, k, method, random_state):
    """SVD of ``A``: full (LAPACK) for dense ``A`` without ``k``, else rank ``k``."""
    op = as_operator(A)
    if k is None:
        if not isinstance(op, DenseOperator):
            raise ValueError("A is sparse (or an operator): pass k, the rank of the truncated "
                             "solution, since a full SVD would densify it.")
        return op, svd(op, min(op.shape), method="lapack")
    return op, svd(op, check_rank(k, op.shape), method=method, random_state=random_state)


def _filter(s, lam, rcond, shape):
    """Spectral filter: ``1/s`` above the cutoff (0 below), or ``s / (s^2 + lam)``."""
    s = s.astype(np.float64)
    if lam > 0:
        return s / (s * s + lam)
    cutoff = (max(shape) * np.finfo(float).eps if rcond is None else rcond) * (s[0] if s.size
                                                                              else 0.0)
    with np.errstate(divide="ignore"):
        return np.where(s > cutoff, 1.0 / s, 0.0)


def pinv(A, *, rcond=None, k=None, method="auto", random_state=None) -> np.ndarray:
    """Moore-Penrose pseudo-inverse ``V diag(1/s) U^T`` (dense ``n x m`` result).

    Singular values at or below ``rcond * s_max`` (default ``max(m, n) eps``,
    as scipy) count as zero. With ``k``, the rank-``k`` truncated
    pseudo-inverse from :func:`fastsvd.svd` (works for sparse ``A``).

    Examples
    --------
    >>> import numpy as np
    >>> np.allclose(pinv(np.array([[1.0, 2.0], [2.0, 4.0]])), np.linalg.pinv([[1, 2], [2, 4]]))
    True
    """
    op, (U, s, Vt) = _factors(A, k, method, random_state)
    return (Vt.T * _filter(s, 0.0, rcond, op.shape)) @ U.T


def lstsq(A, b, lam=0.0, k=None, *, rcond=None, method="auto", random_state=None):
    """Minimum-norm least-squares solution of ``A x ~ b``, or the ridge solution.

    - ``lam = 0``: ``x = V diag(1/s) U^T b`` over the singular values above
      ``rcond * s_max``: the least-squares solution of smallest norm (also for
      rank-deficient ``A``), as ``numpy.linalg.lstsq``.
    - ``lam > 0``: ``x = (A^T A + lam I)^-1 A^T b = V diag(s / (s^2 + lam)) U^T b``.
    - ``k``: use only the top ``k`` singular triplets (truncated SVD, a
      regularised solution); required for sparse ``A``, which is never
      densified.

    ``b`` is a vector of length ``m`` or an ``m x p`` matrix.
    """
    lam = check_real(lam, name="lam", low=0.0,
                     hint="0 gives the minimum-norm least-squares solution.")
    b = np.asarray(b)
    if b.dtype.kind not in "biuf":
        raise TypeError(f"b must hold real numbers, got dtype {b.dtype}.")
    op, (U, s, Vt) = _factors(A, k, method, random_state)
    if b.ndim not in (1, 2) or b.shape[0] != op.shape[0]:
        raise ValueError(f"b has shape {b.shape}, but A has {op.shape[0]} rows: b needs "
                         f"shape ({op.shape[0]},) or ({op.shape[0]}, p).")
    if not np.all(np.isfinite(b)):
        raise ValueError("b contains NaN or infinity.")
    coefficients = U.T.astype(np.float64) @ b.astype(np.float64)
    filtered = _filter(s, float(lam), rcond, op.shape)
    return Vt.T.astype(np.float64) @ (filtered[:, None] * coefficients if b.ndim == 2
                                      else filtered * coefficients)
