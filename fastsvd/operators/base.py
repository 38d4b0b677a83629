""":class:`Operator`: the base class of fastsvd's linear operators.

Every SVD algorithm is written once against the :class:`~fastsvd.protocols.
LinearOperator` protocol (``shape``, ``dtype``, ``matmat``, ``rmatmat``).
:class:`Operator` implements the protocol's optional methods with defaults,
so a subclass needs only the two products.

Operators compute in their own ``dtype`` (float32 stays float32): blocks of
another dtype are converted on the way in. They never copy or modify the
matrix they wrap, and one operator may be used from several threads at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Operator(ABC):
    """A real linear operator ``A`` of shape ``(m, n)``.

    Subclasses set ``shape`` and ``dtype`` and implement :meth:`matmat` and
    :meth:`rmatmat`; both take a 2-D block and return a new C-contiguous array
    of ``dtype``. The other methods have defaults that subclasses may
    override with faster versions.
    """

    shape: tuple[int, int]
    dtype: np.dtype
    #: Whether products run numba kernels (BLAS beside them is then kept on
    #: one thread, see :func:`fastsvd._threads.thread_limits`).
    uses_numba = False
    #: Whether the rows are held elsewhere (a cluster): ``matmat`` then
    #: returns a :class:`~fastsvd.protocols.TallBlock` that stays there, and
    #: the problem is never transposed.
    distributed = False

    @abstractmethod
    def matmat(self, X: np.ndarray) -> np.ndarray:
        """Return ``A @ X`` for a block ``X`` of shape ``(n, k)``."""

    @abstractmethod
    def rmatmat(self, Y: np.ndarray) -> np.ndarray:
        """Return ``A.T @ Y`` for a block ``Y`` of shape ``(m, k)``."""

    def normal_matmat(self, X: np.ndarray) -> np.ndarray:
        """Return ``A.T @ (A @ X)``; operators that can fuse the two override it."""
        return self.rmatmat(self.matmat(X))

    def release_scratch(self) -> None:
        """Free the buffers this thread kept from one product to the next (call
        when a run of products is over); later products allocate them again."""
        base = getattr(self, "base", None)
        if base is not None:
            base.release_scratch()

    def final_matmat(self, X: np.ndarray) -> np.ndarray:
        """``A @ X`` as the last product of a run: the scratch is released
        (:meth:`release_scratch`); operators that kept a tall buffer between
        products may write the result into its memory (the caller owns it)."""
        self.release_scratch()
        return self.matmat(X)

    def column_sums(self) -> np.ndarray:
        """``A.T @ 1`` in float64."""
        return self.rmatmat(np.ones((self.shape[0], 1), dtype=self.dtype))[:, 0].astype(
            np.float64)

    @property
    def T(self) -> Operator:
        """The transpose, as an operator (no data is copied)."""
        return TransposedOperator(self)

    def _block(self, X: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(X, dtype=self.dtype)

    def __repr__(self) -> str:
        m, n = self.shape
        return f"<{type(self).__name__} {m}x{n} {np.dtype(self.dtype).name}>"


class TransposedOperator(Operator):
    """``A.T`` for an operator ``A``."""

    def __init__(self, base: Operator):
        self.base = base
        self.shape = base.shape[::-1]
        self.dtype = base.dtype
        self.uses_numba = base.uses_numba

    def matmat(self, X):
        return self.base.rmatmat(X)

    def rmatmat(self, Y):
        return self.base.matmat(Y)

    @property
    def T(self):
        return self.base
