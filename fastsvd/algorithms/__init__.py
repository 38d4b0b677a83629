"""The SVD algorithms, each written once against the operator protocol.

- :mod:`~fastsvd.algorithms.facade`: the public functions (:func:`svd`,
  :func:`krylov_svd`, :func:`randomized_svd`, :func:`randomized_range_finder`,
  :func:`power_iteration`, :func:`deflation_pca`): validation, then the
  private body;
- :mod:`~fastsvd.algorithms.krylov`: thick-restarted block Lanczos;
- :mod:`~fastsvd.algorithms.randomized`: range finder and subspace iteration;
- :mod:`~fastsvd.algorithms.power`: power iteration and deflation;
- :mod:`~fastsvd.algorithms.tall`: tall-skinny block linear algebra
  (CholeskyQR2, slab products), for numpy arrays and row blocks alike;
- :mod:`~fastsvd.algorithms.estimates`: error estimates and the stopping rule;
- :mod:`~fastsvd.algorithms.result`: :class:`SVDResult`.
"""

from .facade import (
    deflation_pca,
    krylov_svd,
    power_iteration,
    randomized_range_finder,
    randomized_svd,
    svd,
)
from .result import ConvergenceWarning, SVDResult

__all__ = [
    "ConvergenceWarning",
    "SVDResult",
    "deflation_pca",
    "krylov_svd",
    "power_iteration",
    "randomized_range_finder",
    "randomized_svd",
    "svd",
]
