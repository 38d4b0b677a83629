"""Linear operators: the one interface every SVD algorithm is written against.

- :class:`Operator` (:mod:`~fastsvd.operators.base`): the base class, with
  defaults for the protocol's optional methods, and :class:`TransposedOperator`;
- :class:`DenseOperator` (BLAS) and :class:`CSROperator` (numba kernels);
- :class:`CenteredOperator`, :class:`DeflatedOperator` (implicit low-rank
  corrections) and :class:`LinearOperatorAdapter` (any object with ``shape``,
  ``dtype``, ``matmat`` and ``rmatmat``);
- :func:`as_operator` (:mod:`~fastsvd.operators.convert`): validation and
  conversion of the input of every public function.

See :class:`fastsvd.protocols.LinearOperator` for the protocol itself.
"""

from .base import Operator, TransposedOperator
from .convert import as_operator
from .csr import CSROperator
from .dense import DenseOperator
from .wrappers import (
    CenteredOperator,
    DeflatedOperator,
    LinearOperatorAdapter,
    LowRankUpdatedOperator,
)

__all__ = [
    "CSROperator",
    "CenteredOperator",
    "DeflatedOperator",
    "DenseOperator",
    "LinearOperatorAdapter",
    "LowRankUpdatedOperator",
    "Operator",
    "TransposedOperator",
    "as_operator",
]
