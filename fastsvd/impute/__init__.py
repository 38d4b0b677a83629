"""Matrix completion of sparse ratings by soft-impute.

- :mod:`~fastsvd.impute.estimator`: :class:`SoftImpute`, :func:`lambda0`,
  :func:`soft_impute_path` (validation, the lambda search, predictions,
  fold-in, persistence);
- :mod:`~fastsvd.impute.softimpute`: the algorithm (softImpute-ALS and the
  soft-thresholded SVD iteration), written against the
  :class:`~fastsvd.protocols.ObservedEntries` protocol;
- :mod:`~fastsvd.impute.observed`: the in-memory observed entries
  (:class:`ObservedCSR`) and the completed-matrix operator.
"""

from .estimator import SoftImpute, lambda0, soft_impute_path
from .observed import ObservedCSR, SparsePlusLowRankOperator

__all__ = ["ObservedCSR", "SoftImpute", "SparsePlusLowRankOperator", "lambda0",
           "soft_impute_path"]
