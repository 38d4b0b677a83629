""":class:`DenseOperator`: a dense array, products by BLAS."""

from __future__ import annotations

import numpy as np

from .base import Operator


class DenseOperator(Operator):
    """A dense array; products go to BLAS (near peak already: no numba here)."""

    def __init__(self, array: np.ndarray):
        self.array = array
        self.shape = array.shape
        self.dtype = array.dtype

    def matmat(self, X):
        return np.ascontiguousarray(self.array @ self._block(X))

    def rmatmat(self, Y):
        return np.ascontiguousarray(self.array.T @ self._block(Y))
