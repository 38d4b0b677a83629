"""The result type shared by every SVD routine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


class ConvergenceWarning(UserWarning):
    """An iterative method stopped at its iteration cap before reaching ``tol``."""


class Solution(NamedTuple):
    """What an algorithm returns to the facade (``V`` not yet transposed)."""

    U: np.ndarray
    s: np.ndarray
    V: np.ndarray
    residuals: np.ndarray
    errors: np.ndarray
    n_iter: int
    n_passes: int
    converged: bool


@dataclass(frozen=True, eq=False)
class SVDResult:
    """A truncated SVD ``A ~ U @ diag(s) @ Vt`` with diagnostics.

    Unpacks like a tuple: ``U, s, Vt = fastsvd.svd(A, k)``.

    Attributes
    ----------
    U : ndarray (m, k)
        Left singular vectors, orthonormal columns.
    s : ndarray (k,)
        Singular values, descending.
    Vt : ndarray (k, n)
        Right singular vectors, orthonormal rows. Signs follow one convention
        for every method: the largest-magnitude entry of each row of ``Vt`` is
        positive.
    residuals : ndarray (k,)
        Relative residual of each triplet, ``||A.T u_i - s_i v_i|| / s_i``
        (for deflation, the norm of both residuals ``A v_i - s_i u_i`` and
        ``A.T u_i - s_i v_i``); zero for the exact LAPACK method.
    errors : ndarray (k,)
        Estimated relative error of each singular value, derived from the
        residuals (see :func:`fastsvd.svd`); zero for LAPACK.
    n_iter : int
        Iterations the method ran.
    n_passes : int
        Block products with ``A`` or ``A.T`` (each one pass over the matrix).
    converged : bool
        Whether the method reached the requested ``tol``.
    method : str
        The method that produced the result.
    """

    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray
    residuals: np.ndarray
    errors: np.ndarray
    n_iter: int = 0
    n_passes: int = 0
    converged: bool = True
    method: str = ""

    @property
    def error(self) -> float:
        """The largest estimated relative error of the singular values."""
        return float(np.max(self.errors)) if self.errors.size else 0.0

    def __iter__(self):
        return iter((self.U, self.s, self.Vt))

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index):
        return (self.U, self.s, self.Vt)[index]

    def __repr__(self) -> str:
        m, k = self.U.shape
        return (f"SVDResult(method={self.method!r}, shape=({m}, {self.Vt.shape[1]}), k={k}, "
                f"error={self.error:.2e}, converged={self.converged}, n_iter={self.n_iter}, "
                f"n_passes={self.n_passes})")


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
