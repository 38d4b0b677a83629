"""fastsvd: fast truncated SVD, PCA and low-rank matrix completion.

Numba kernels for sparse block products, one operator protocol, and the
algorithms written once against it: power iteration and deflation,
randomized range finding and randomized SVD, and block Krylov SVD.
"""

from ._operators import (
    CenteredOperator,
    CSROperator,
    DeflatedOperator,
    DenseOperator,
    LinearOperatorAdapter,
    Operator,
    TransposedOperator,
)
from ._result import ConvergenceWarning, SVDResult
from ._svd import (
    deflation_pca,
    krylov_svd,
    power_iteration,
    randomized_range_finder,
    randomized_svd,
    svd,
)
from ._validation import as_operator
from .apps import (
    LSA,
    choose_rank,
    compress_image,
    factorize_layer,
    lora_factorize,
    lora_parameter_count,
    low_rank_approximation,
    lstsq,
    pinv,
)

__version__ = "0.1.0"


def __getattr__(name):
    # The estimators need scikit-learn; import it only when they are asked for.
    if name in ("PCA", "TruncatedSVD"):
        from . import decomposition

        return getattr(decomposition, name)
    raise AttributeError(f"module 'fastsvd' has no attribute {name!r}")

__all__ = [
    "LSA",
    "PCA",
    "CSROperator",
    "CenteredOperator",
    "ConvergenceWarning",
    "DeflatedOperator",
    "DenseOperator",
    "LinearOperatorAdapter",
    "Operator",
    "SVDResult",
    "TransposedOperator",
    "TruncatedSVD",
    "as_operator",
    "choose_rank",
    "compress_image",
    "deflation_pca",
    "factorize_layer",
    "krylov_svd",
    "lora_factorize",
    "lora_parameter_count",
    "low_rank_approximation",
    "lstsq",
    "pinv",
    "power_iteration",
    "randomized_range_finder",
    "randomized_svd",
    "svd",
]
