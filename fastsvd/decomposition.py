"""scikit-learn compatible estimators: :class:`PCA` and :class:`TruncatedSVD`.

They need scikit-learn (``pip install fastsvd[sklearn]``); the rest of
fastsvd does not. Both run on :func:`fastsvd.svd`, so every method, the
thread control and the error estimates are available; PCA centres sparse
input implicitly and never densifies it.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

try:
    from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
    from sklearn.utils.sparsefuncs import mean_variance_axis
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("fastsvd.PCA and fastsvd.TruncatedSVD need scikit-learn: "
                      "pip install 'fastsvd[sklearn]'") from exc

from . import _backends
from ._checks import check_choice
from .algorithms.facade import METHODS, column_means, svd
from .operators import CenteredOperator, DenseOperator, as_operator


class _SVDTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared plumbing: input validation, the decomposition, projections."""

    def _validate(self, X, reset):
        return validate_data(self, X, accept_sparse=["csr", "csc"], reset=reset,
                             dtype=[np.float64, np.float32], ensure_min_samples=2 if reset else 1)

    def _data(self, X) -> _Data:
        """Validate ``X`` (in memory or on a Dask cluster) and measure what the
        fit needs; a matrix on a cluster is never gathered."""
        if _backends.accepts("matrix", X):
            op = as_operator(X, name="X")
            self.n_features_in_ = op.shape[1]
            mean = column_means(op)
            return _Data(op, mean, op.centred_squared_norm(mean), None)
        X = self._validate(X, reset=True)
        mean = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
        dense = None if sp.issparse(X) else X
        return _Data(as_operator(X, name="X"), mean, _centred_squared_norm(X, mean), dense)

    def _svd(self, A, k):
        method = check_choice(self._method, METHODS, name=self._method_name)
        result = svd(A, k, method=method, tol=self.tol, max_iter=self.max_iter,
                     random_state=self.random_state, n_threads=self.n_threads)
        self.n_iter_ = result.n_iter
        self.error_ = result.error
        return result

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class TruncatedSVD(_SVDTransformer):
    """Dimensionality reduction by truncated SVD (no centring), as in scikit-learn.

    Works on dense and sparse input (latent semantic analysis on term counts
    or tf-idf is the classic use). Fit computes ``X ~ U diag(s) Vt`` with
    :func:`fastsvd.svd`.

    Parameters
    ----------
    n_components : int, default=2
        Number of components, ``1 <= n_components <= min(X.shape)``.
    algorithm : {"auto", "krylov", "randomized", "power", "lapack"}, default="auto"
        The ``method`` of :func:`fastsvd.svd`.
    tol, max_iter, random_state, n_threads
        As in :func:`fastsvd.svd`.

    Attributes
    ----------
    components_ : ndarray (n_components, n_features)
        Right singular vectors (rows of ``Vt``).
    singular_values_ : ndarray (n_components,)
    explained_variance_ : ndarray (n_components,)
        Variance of each column of the transformed training data.
    explained_variance_ratio_ : ndarray (n_components,)
        ``explained_variance_`` over the total variance of ``X``.
    n_iter_ : int
        Iterations of the SVD method.
    error_ : float
        Its estimated largest relative error of the singular values.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from fastsvd import TruncatedSVD
    >>> X = sp.random(500, 80, density=0.05, format="csr", random_state=0)
    >>> svd = TruncatedSVD(n_components=5, random_state=0).fit(X)
    >>> svd.components_.shape
    (5, 80)
    >>> exact = np.linalg.svd(X.toarray(), compute_uv=False)[:5]
    >>> bool(np.allclose(svd.singular_values_, exact, rtol=1e-5))
    True
    """

    _method_name = "algorithm"

    def __init__(self, n_components=2, *, algorithm="auto", tol=None, max_iter=None,
                 random_state=None, n_threads=None):
        self.n_components = n_components
        self.algorithm = algorithm
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_threads = n_threads

    @property
    def _method(self):
        return self.algorithm

    def fit(self, X, y=None):
        """Fit on ``X`` (array-like or sparse, n_samples x n_features)."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit on ``X`` and return ``U * s`` (n_samples x n_components).

        ``X`` may also be a matrix on a Dask cluster (see :func:`fastsvd.svd`).
        """
        data = self._data(X)
        total_variance = data.squares / data.op.shape[0]
        U, s, Vt = self._svd(data.op, self.n_components)
        X_new = U * s
        self.components_ = Vt
        self.singular_values_ = s
        self.explained_variance_ = np.var(X_new, axis=0)
        self.explained_variance_ratio_ = self.explained_variance_ / total_variance
        return X_new

    def transform(self, X):
        """Project ``X`` on the components: ``X @ components_.T``."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return np.asarray(X @ self.components_.T)

    def inverse_transform(self, X):
        """Map transformed data back: ``X @ components_``."""
        check_is_fitted(self)
        return np.asarray(X) @ self.components_


class PCA(_SVDTransformer):
    """Principal component analysis, as in scikit-learn, for dense and sparse input.

    The data are centred implicitly (:class:`fastsvd.CenteredOperator`), so a
    sparse ``X`` is never densified; with ``svd_solver="lapack"`` a dense
    ``X`` is centred explicitly and decomposed exactly.

    Parameters
    ----------
    n_components : int, float or None, default=None
        Number of components; ``None`` keeps ``min(n_samples, n_features)``;
        a float in (0, 1) keeps the fewest components that explain more than
        that fraction of the variance (dense input, exact spectrum).
    whiten : bool, default=False
        Scale the transformed components to unit variance.
    svd_solver : {"auto", "krylov", "randomized", "power", "lapack"}, default="auto"
        The ``method`` of :func:`fastsvd.svd`.
    tol, max_iter, random_state, n_threads
        As in :func:`fastsvd.svd`.

    Attributes
    ----------
    components_, explained_variance_, explained_variance_ratio_,
    singular_values_, mean_, n_components_, n_samples_, noise_variance_
        As in :class:`sklearn.decomposition.PCA`; signs follow the same
        convention (largest entry of each component positive).
    n_iter_, error_
        Iterations and estimated largest relative error of the SVD.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from fastsvd import PCA
    >>> X = sp.random(400, 60, density=0.1, format="csr", random_state=0)
    >>> pca = PCA(n_components=3, random_state=0).fit(X)  # X stays sparse
    >>> centred = X.toarray() - X.toarray().mean(axis=0)
    >>> exact = np.linalg.svd(centred, compute_uv=False)[:3] ** 2 / (400 - 1)
    >>> bool(np.allclose(pca.explained_variance_, exact, rtol=1e-5))
    True
    """

    _method_name = "svd_solver"

    def __init__(self, n_components=None, *, whiten=False, svd_solver="auto", tol=None,
                 max_iter=None, random_state=None, n_threads=None):
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_threads = n_threads

    @property
    def _method(self):
        return self.svd_solver

    def fit(self, X, y=None):
        """Fit on ``X`` (array-like or sparse, n_samples x n_features, or a
        matrix on a Dask cluster: see :func:`fastsvd.svd`)."""
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit on ``X`` and return its projection on the components (numpy)."""
        U, s = self._fit(X)
        X_new = U * s
        if self.whiten:
            X_new /= np.sqrt(self.explained_variance_)
        return X_new

    def _fit(self, X):
        data = self._data(X)
        (m, n), dtype = data.op.shape, data.op.dtype
        k, fraction = self._n_components((m, n))
        self.mean_ = data.mean.astype(dtype)
        if self._method == "lapack" or fraction is not None:
            if data.dense is None:
                raise ValueError("svd_solver='lapack' and fractional n_components need the full "
                                 "spectrum of a dense matrix in memory; for sparse X or X on a "
                                 "Dask cluster pass an integer n_components and another "
                                 "svd_solver.")
            centred = DenseOperator(np.asarray(data.dense - self.mean_, dtype=dtype))
        elif data.op.distributed:
            centred = data.op.centered(self.mean_)  # each row block centred where it lies
        else:
            centred = CenteredOperator(data.op, self.mean_)
        total_var = data.squares / (m - 1)
        result = self._svd(centred, k)
        explained = result.s.astype(np.float64) ** 2 / (m - 1)
        if fraction is not None:
            k = int(np.searchsorted(np.cumsum(explained) / total_var, fraction, side="right")) + 1
            k = min(k, explained.size)
        self.n_samples_ = m
        self.n_components_ = k
        self.components_ = result.Vt[:k]
        self.singular_values_ = result.s[:k]
        self.explained_variance_ = explained[:k].astype(dtype)
        self.explained_variance_ratio_ = (explained[:k] / total_var).astype(dtype)
        rest = min(m, n) - k
        self.noise_variance_ = (float(total_var - explained[:k].sum()) / rest) if rest > 0 else 0.0
        return result.U[:, :k], result.s[:k]

    def _n_components(self, shape):
        """(rank to compute, variance fraction or None)."""
        limit = min(shape)
        nc = self.n_components
        if nc is None:
            return limit, None
        if isinstance(nc, numbers.Integral) and not isinstance(nc, bool):
            if not 1 <= nc <= limit:
                raise ValueError(f"n_components={nc} must be between 1 and min(n_samples, "
                                 f"n_features)={limit}.")
            return int(nc), None
        if isinstance(nc, numbers.Real) and 0 < nc < 1:
            return limit, float(nc)
        raise ValueError(f"n_components={nc!r} must be None, an int in [1, {limit}] or a float "
                         "in (0, 1).")

    def transform(self, X):
        """Project centred ``X`` on the components."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        X_new = np.asarray(X @ self.components_.T) - self.mean_ @ self.components_.T
        if self.whiten:
            X_new /= np.sqrt(self.explained_variance_)
        return X_new

    def inverse_transform(self, X):
        """Map transformed data back to the original space."""
        check_is_fitted(self)
        X = np.asarray(X)
        if self.whiten:
            X = X * np.sqrt(self.explained_variance_)
        return X @ self.components_ + self.mean_


class _Data(NamedTuple):
    op: object  # the operator of X
    mean: np.ndarray  # column means, float64
    squares: float  # ||X - 1 mean^T||_F^2
    dense: np.ndarray | None  # X itself when it is a dense array in memory


def _centred_squared_norm(X, mean) -> float:
    """``||X - 1 mean^T||_F^2`` for dense or sparse ``X`` (never densified)."""
    if sp.issparse(X):
        variances = mean_variance_axis(X, axis=0)[1].astype(np.float64)
        return float(variances.sum() * X.shape[0])
    return float(np.var(X, axis=0, dtype=np.float64).sum() * X.shape[0])
