"""The contenders: one callable per (library, method), each with a ladder of
settings ordered from cheap to accurate.

"At matched accuracy" means: walk a contender's ladder and take the first
setting that reaches the accuracy (for scikit-learn's ``randomized_svd`` the
smallest ``n_iter``; for ``svds`` the loosest ``tol``). Every contender gets
the same matrix, the same ``k`` and the same thread settings.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from .. import algorithms
from .mkl import available as mkl_available
from .mkl import mkl_operator

N_ITER_LADDER = (0, 1, 2, 3, 4, 6, 8, 10, 12, 14, 16, 20, 24, 32, 40, 48, 64)
TOL_LADDER = (3e-1, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6, 1e-8, 1e-10)
SVDS_TOL_LADDER = (1.0, 0.5, 0.3, 0.1, 3e-2, 1e-2, 1e-3, 1e-4, 1e-6, 0.0)


@dataclass(frozen=True)
class Contender:
    """One way of computing a truncated SVD.

    ``run(A, k, setting, seed)`` returns ``(U, s, Vt)``; ``settings`` is the
    ladder (a single ``None`` for exact methods); ``requires`` names a module
    that must be importable and ``install`` the package that provides it;
    ``prepare(A)``, when given, builds the contender's input from the matrix
    once, outside the timed runs (an MKL operator); ``products`` says which
    products the contender runs on.
    """

    name: str
    library: str
    run: Callable
    settings: tuple
    setting_name: str = ""
    requires: str | None = None
    install: str | None = None
    dense_only: bool = False
    sparse_only: bool = False
    prepare: Callable | None = None
    products: str = ""
    extra_available: Callable | None = None

    def available(self) -> bool:
        if self.requires is not None and importlib.util.find_spec(self.requires) is None:
            return False
        return self.extra_available is None or self.extra_available()

    def label(self, setting) -> str:
        return self.name if setting is None else f"{self.name} [{self.setting_name}={setting}]"


def _fastsvd(method):
    def run(A, k, setting, seed):
        return algorithms.svd(A, k, method=method, tol=setting, max_iter=500,
                           random_state=seed)
    return run


def _fastsvd_randomized(A, k, n_iter, seed):
    return algorithms.randomized_svd(A, k, n_iter=n_iter, random_state=seed)


def _sklearn_randomized(A, k, n_iter, seed):
    from sklearn.utils.extmath import randomized_svd

    return randomized_svd(A, k, n_iter=n_iter, random_state=seed)


def _sklearn_truncated_svd(A, k, n_iter, seed):
    from sklearn.decomposition import TruncatedSVD

    model = TruncatedSVD(k, n_iter=n_iter, random_state=seed)
    US = model.fit_transform(A)
    s = model.singular_values_
    return US / s, s, model.components_


def _svds(solver):
    def run(A, k, tol, seed):
        U, s, Vt = svds(A, k=k, tol=tol, solver=solver, random_state=seed)
        order = np.argsort(s)[::-1]
        return U[:, order], s[order], Vt[order]
    return run


def _lapack(driver):
    def run(A, k, setting, seed):
        U, s, Vt = scipy.linalg.svd(A, full_matrices=False, lapack_driver=driver,
                                    check_finite=False)
        return U[:, :k], s[:k], Vt[:k]
    return run


def _primme(A, k, tol, seed):
    import primme

    rng = np.random.default_rng(seed)
    U, s, Vt = primme.svds(A, k, tol=tol, maxBlockSize=8, raise_for_unconverged=False,
                           v0=rng.standard_normal((A.shape[1], 1)).astype(A.dtype))
    order = np.argsort(s)[::-1]
    return U[:, order], s[order], Vt[order]


def _fbpca(A, k, n_iter, seed):
    import fbpca

    np.random.seed(seed)  # noqa: NPY002 - fbpca draws from numpy's global generator
    return fbpca.pca(A, k, raw=True, n_iter=n_iter, l=k + 10)


_OURS = "fastsvd kernels, all threads"
_SCIPY = "scipy.sparse (one thread)"
_MKL = "MKL, all threads (A.T as a CSR copy, built untimed)"

CONTENDERS = (
    Contender("fastsvd krylov", "fastsvd", _fastsvd("krylov"), TOL_LADDER, "tol",
              products=_OURS),
    Contender("fastsvd randomized", "fastsvd", _fastsvd_randomized, N_ITER_LADDER, "n_iter",
              products=_OURS),
    Contender("fastsvd power", "fastsvd", _fastsvd("power"), TOL_LADDER[:8], "tol",
              products=_OURS),
    Contender("sklearn randomized_svd", "scikit-learn", _sklearn_randomized, N_ITER_LADDER,
              "n_iter", requires="sklearn", install="scikit-learn", products=_SCIPY),
    Contender("sklearn TruncatedSVD", "scikit-learn", _sklearn_truncated_svd, N_ITER_LADDER,
              "n_iter", requires="sklearn", install="scikit-learn", products=_SCIPY),
    Contender("scipy svds arpack", "scipy", _svds("arpack"), SVDS_TOL_LADDER, "tol",
              products=_SCIPY),
    Contender("scipy svds propack", "scipy", _svds("propack"), SVDS_TOL_LADDER, "tol",
              products=_SCIPY),
    Contender("primme svds", "PRIMME", _primme, TOL_LADDER, "tol", requires="primme",
              install="primme (needs liblapack-dev libopenblas-dev)", products=_SCIPY),
    Contender("primme svds (MKL products)", "PRIMME", _primme, TOL_LADDER, "tol",
              requires="primme", install="primme sparse-dot-mkl mkl", prepare=mkl_operator,
              products=_MKL, extra_available=mkl_available, sparse_only=True),
    Contender("scipy svds arpack (MKL products)", "scipy", _svds("arpack"), SVDS_TOL_LADDER,
              "tol", requires="sparse_dot_mkl", install="sparse-dot-mkl mkl",
              prepare=mkl_operator, products=_MKL, extra_available=mkl_available,
              sparse_only=True),
    Contender("fbpca", "fbpca", _fbpca, N_ITER_LADDER, "n_iter", requires="fbpca",
              install="fbpca", products=_SCIPY),
    Contender("LAPACK gesdd", "scipy", _lapack("gesdd"), (None,), dense_only=True),
    Contender("LAPACK gesvd", "scipy", _lapack("gesvd"), (None,), dense_only=True),
)


def accuracy(s, s_ref):
    """Largest relative error of the top-k singular values."""
    s = np.sort(np.asarray(s, dtype=np.float64))[::-1]
    k = s.size
    return float(np.max(np.abs(s - s_ref[:k]) / s_ref[:k]))


def frobenius_excess(A, U, s, Vt, s_ref, frob_sq):
    """``||A - U diag(s) Vt||_F / optimum - 1`` (Eckart-Young optimum from the
    reference spectrum); computed with one product, never densifying ``A``."""
    U = np.asarray(U, dtype=np.float64)
    Vt = np.asarray(Vt, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    AV = np.asarray(A @ Vt.T, dtype=np.float64) if sp.issparse(A) else A @ Vt.T
    cross = np.sum(s * np.einsum("ij,ij->j", U, AV))
    model = np.sum((U.T @ U) * ((s[:, None] * (Vt @ Vt.T)) * s[None, :]))
    error_sq = max(frob_sq - 2 * cross + model, 0.0)
    optimum_sq = max(frob_sq - np.sum(s_ref[: s.size] ** 2), 0.0)
    if optimum_sq == 0:
        return float(np.sqrt(error_sq))
    return float(np.sqrt(error_sq / optimum_sq) - 1)
