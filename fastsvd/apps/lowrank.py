"""Best rank-k approximation (Eckart-Young) and choosing k."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._checks import check_choice, check_rank, check_real
from ..algorithms import svd
from ..operators import as_operator


@dataclass(frozen=True, eq=False)
class LowRankApproximation:
    """``A_k = U diag(s) Vt``, the best rank-``k`` approximation of ``A``.

    Attributes
    ----------
    U, s, Vt : the truncated SVD (``k`` columns / values / rows).
    shape : shape of ``A``.
    frobenius_norm : ``||A||_F``, from the entries of ``A``.
    optimal_frobenius_error : ``||A - A_k||_F = sqrt(||A||_F^2 - sum_{i<=k} s_i^2)``
        (Eckart-Young). It needs only the top ``k`` singular values and the
        Frobenius norm of ``A``, never the residual or the full spectrum; when
        the ``s_i`` come from an iterative method with relative error ``e``,
        the squared error is off by at most about ``2 e sum s_i^2``.
    spectral_error : ``||A - A_k||_2 = s_{k+1}`` (0 when ``k = min(m, n)``).
    """

    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray
    shape: tuple
    frobenius_norm: float
    optimal_frobenius_error: float
    spectral_error: float

    @property
    def k(self) -> int:
        return self.s.size

    @property
    def relative_error(self) -> float:
        """``||A - A_k||_F / ||A||_F``."""
        return self.optimal_frobenius_error / self.frobenius_norm if self.frobenius_norm else 0.0

    @property
    def storage(self) -> int:
        """Numbers stored for ``U``, ``s`` and ``Vt``: ``(m + n) k + k``."""
        m, n = self.shape
        return (m + n) * self.k + self.k

    @property
    def compression_ratio(self) -> float:
        """``m n`` (numbers in ``A``) over :attr:`storage`."""
        return self.shape[0] * self.shape[1] / self.storage

    def matrix(self) -> np.ndarray:
        """The dense ``m x n`` approximation ``U diag(s) Vt``."""
        return (self.U * self.s) @ self.Vt

    def frobenius_error(self, A) -> float:
        """``||A - A_k||_F`` measured against ``A`` (dense or sparse, not densified)."""
        A_k_norm_sq = float(np.sum(self.s.astype(np.float64) ** 2))
        cross = float(np.sum(self.s * np.einsum("ij,ij->j", self.U,
                                               np.asarray(A @ self.Vt.T))))
        return float(np.sqrt(max(self.frobenius_norm ** 2 - 2 * cross + A_k_norm_sq, 0.0)))


def low_rank_approximation(A, k, *, method="auto", tol=None, random_state=None):
    """The best rank-``k`` approximation of ``A`` in the Frobenius and spectral norms.

    Computes ``k + 1`` singular triplets (one more for the spectral error)
    with :func:`fastsvd.svd` and keeps ``k``.

    Examples
    --------
    >>> import numpy as np, fastsvd
    >>> approx = fastsvd.low_rank_approximation(np.array([[3.0, 0.0], [4.0, 5.0]]), 1)
    >>> approx.matrix()
    array([[1.5, 1.5],
           [4.5, 4.5]])
    >>> round(approx.optimal_frobenius_error ** 2, 12)  # sqrt(5) squared
    5.0
    """
    op = as_operator(A)
    k = check_rank(k, op.shape)
    extra = min(k + 1, min(op.shape))
    U, s, Vt = svd(op, extra, method=method, tol=tol, random_state=random_state)
    norm = _frobenius_norm(A)
    tail = max(norm ** 2 - float(np.sum(s[:k].astype(np.float64) ** 2)), 0.0)
    return LowRankApproximation(U[:, :k], s[:k], Vt[:k], op.shape, norm, float(np.sqrt(tail)),
                                float(s[k]) if extra > k else 0.0)


def _frobenius_norm(A) -> float:
    if sp.issparse(A):
        return float(np.sqrt(np.sum(A.data.astype(np.float64) ** 2)))
    return float(np.linalg.norm(np.asarray(A, dtype=np.float64)))


def choose_rank(singular_values, threshold, *, criterion="energy", total=None) -> int:
    """Smallest ``k`` whose leading singular values reach ``threshold`` of the total.

    Parameters
    ----------
    singular_values : array-like
        Singular values in descending order (all of them, unless ``total`` is given).
    threshold : float in (0, 1]
        Fraction to reach.
    criterion : {"energy", "sum"}
        ``"energy"``: ``sum_{i<=k} s_i^2 / sum s_i^2`` (variance explained; the
        Eckart-Young error is ``sqrt(1 - ratio) ||A||_F``). ``"sum"``:
        ``sum_{i<=k} s_i / sum s_i``, the plain ratio used in many lectures;
        it needs a larger ``k`` for the same threshold.
    total : float, optional
        The full sum (``||A||_F^2`` for "energy"), when only the leading values
        are known.

    Examples
    --------
    >>> choose_rank([4.0, 2.0, 1.0, 1.0], 0.9, criterion="energy")
    2
    >>> choose_rank([4.0, 2.0, 1.0, 1.0], 0.9, criterion="sum")
    4
    """
    criterion = check_choice(criterion, ("energy", "sum"), name="criterion")
    s = np.asarray(singular_values, dtype=np.float64)
    if s.ndim != 1 or s.size == 0 or np.any(s < 0) or not np.all(np.isfinite(s)):
        raise ValueError("singular_values must be a non-empty 1-d array of finite, "
                         "non-negative numbers.")
    if np.any(np.diff(s) > 0):
        raise ValueError("singular_values must be in descending order.")
    threshold = check_real(threshold, name="threshold", low=0.0, high=1.0, low_open=True)
    weights = s ** 2 if criterion == "energy" else s
    total = float(weights.sum()) if total is None else float(total)
    if total <= 0:
        raise ValueError("the total is zero: every singular value is 0.")
    reached = np.nonzero(np.cumsum(weights) >= threshold * total * (1 - 1e-12))[0]
    if reached.size == 0:
        raise ValueError(f"the given singular values reach only "
                         f"{weights.sum() / total:.3f} of the total, below threshold="
                         f"{threshold}; pass more of them.")
    return int(reached[0]) + 1
