"""fastsvd: fast truncated SVD, PCA and low-rank matrix completion.

Numba kernels for sparse block products, one operator protocol, and the
algorithms written once against it: power iteration and deflation,
randomized range finding and randomized SVD, and block Krylov SVD; soft-impute
matrix completion over sparse ratings; the classic applications of the SVD.
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
from .impute import SoftImpute, lambda0, soft_impute_path

__version__ = "0.1.0"


def __getattr__(name):
    # Imported on first use: the estimators need scikit-learn, and the ratings
    # readers define numba kernels (numba's import alone takes ~0.1 s).
    if name in ("PCA", "TruncatedSVD"):
        from . import decomposition

        return getattr(decomposition, name)
    if name in ("Ratings", "load_ratings"):
        from . import ratings

        return getattr(ratings, name)
    if name in ("datasets", "ratings", "distributed"):  # submodules, importable as attributes
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
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
    "Ratings",
    "SVDResult",
    "SoftImpute",
    "TransposedOperator",
    "TruncatedSVD",
    "as_operator",
    "choose_rank",
    "compress_image",
    "deflation_pca",
    "factorize_layer",
    "krylov_svd",
    "lambda0",
    "load_ratings",
    "lora_factorize",
    "lora_parameter_count",
    "low_rank_approximation",
    "lstsq",
    "pinv",
    "power_iteration",
    "randomized_range_finder",
    "randomized_svd",
    "soft_impute_path",
    "svd",
]
