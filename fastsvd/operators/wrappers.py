"""Operators built on other operators, and the adapter for foreign ones.

:class:`CenteredOperator` and :class:`DeflatedOperator` apply a low-rank
correction implicitly (nothing ``m x n`` is formed), which is what makes
sparse PCA and deflation one operator each instead of copies of an algorithm.
:class:`LinearOperatorAdapter` wraps any object with ``shape``, ``dtype``,
``matmat`` and ``rmatmat`` (a ``scipy.sparse.linalg.LinearOperator``, or a
duck-typed class of the user's).
"""

from __future__ import annotations

import numpy as np

from .base import Operator


class LinearOperatorAdapter(Operator):
    """An object with ``shape``, ``matmat`` and ``rmatmat`` as an :class:`Operator`
    of ``dtype``: blocks go in in ``dtype``, and every product is checked for
    its shape and converted to a C-contiguous array of ``dtype``."""

    def __init__(self, linear_operator, dtype):
        self.linear_operator = linear_operator
        self.shape = tuple(int(d) for d in linear_operator.shape)
        self.dtype = np.dtype(dtype)

    def matmat(self, X):
        X = self._block(X)
        return self._checked(self.linear_operator.matmat(X), "matmat",
                             (self.shape[0], X.shape[1]))

    def rmatmat(self, Y):
        Y = self._block(Y)
        return self._checked(self.linear_operator.rmatmat(Y), "rmatmat",
                             (self.shape[1], Y.shape[1]))

    def _checked(self, product, method, shape):
        product = np.asarray(product)
        if product.shape != shape:
            raise ValueError(f"{type(self.linear_operator).__name__}.{method} returned an array "
                             f"of shape {product.shape}, expected {shape} for an operator of "
                             f"shape {self.shape}; fix its {method}.")
        return np.ascontiguousarray(product, dtype=self.dtype)


class LowRankUpdatedOperator(Operator):
    """``A - L R^T`` for an operator ``A`` and thin factors ``L`` (``m x r``)
    and ``R`` (``n x r``), never formed: each product costs the product with
    ``A`` plus ``O((m + n) r k)``."""

    def __init__(self, base: Operator, left: np.ndarray, right: np.ndarray):
        self.base = base
        self.left = np.asarray(left, dtype=base.dtype)
        self.right = np.asarray(right, dtype=base.dtype)
        self.shape = base.shape
        self.dtype = base.dtype
        self.uses_numba = base.uses_numba

    def matmat(self, X):
        X = self._block(X)
        out = self.base.matmat(X)
        out -= self.left @ (self.right.T @ X)
        return out

    def rmatmat(self, Y):
        Y = self._block(Y)
        out = self.base.rmatmat(Y)
        out -= self.right @ (self.left.T @ Y)
        return out


class CenteredOperator(LowRankUpdatedOperator):
    """``A - 1 mean^T``: ``A`` with ``mean`` subtracted from every row, never formed.

    This is what lets PCA run on sparse data without densifying it.
    """

    def __init__(self, base: Operator, mean: np.ndarray):
        self.mean = np.asarray(mean, dtype=base.dtype)
        super().__init__(base, np.ones((base.shape[0], 1)), self.mean[:, None])


class DeflatedOperator(LowRankUpdatedOperator):
    """``A - U diag(s) Vt``: ``A`` with known singular triplets removed, never formed."""

    def __init__(self, base: Operator, U: np.ndarray, s: np.ndarray, Vt: np.ndarray):
        super().__init__(base, U, (np.asarray(s)[:, None] * Vt).T)
