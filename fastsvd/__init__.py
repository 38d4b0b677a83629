"""fastsvd: fast truncated SVD, PCA and low-rank matrix completion.

Numba kernels for sparse block products, one operator protocol, and the
algorithms written once against it: power iteration and deflation,
randomized range finding and randomized SVD, and block Krylov SVD; soft-impute
matrix completion over sparse ratings; the classic applications of the SVD.

The package, by layer (imports run downwards only):

- :mod:`fastsvd.algorithms`: the SVD functions and their algorithms;
- :mod:`fastsvd.impute`: soft-impute matrix completion (:class:`SoftImpute`);
- :mod:`fastsvd.ratings`: the :class:`Ratings` container, file loaders, metrics;
- :mod:`fastsvd.decomposition`: scikit-learn estimators (:class:`PCA`,
  :class:`TruncatedSVD`);
- :mod:`fastsvd.apps`: low-rank approximation, image compression, LSA, LoRA,
  least squares;
- :mod:`fastsvd.distributed`: the same algorithms on a Dask cluster;
- :mod:`fastsvd.operators`: the linear operators; :mod:`fastsvd.protocols`:
  the protocols they and the algorithms follow;
- :mod:`fastsvd.kernels`: the numba kernels;
- :mod:`fastsvd.benchmark`, :mod:`fastsvd.cli`, :mod:`fastsvd.datasets`.

``import fastsvd`` compiles nothing and does not import numba: kernels
compile on first use (and load from numba's disk cache in later processes).
"""

import importlib

from .algorithms import (
    ConvergenceWarning,
    SVDResult,
    deflation_pca,
    krylov_svd,
    power_iteration,
    randomized_range_finder,
    randomized_svd,
    svd,
)
from .operators import (
    CenteredOperator,
    CSROperator,
    DeflatedOperator,
    DenseOperator,
    LinearOperatorAdapter,
    Operator,
    TransposedOperator,
    as_operator,
)

__version__ = "0.1.0"

# Public names loaded on first use: they need numba (ratings, completion),
# scikit-learn (the estimators) or plotting and text helpers (the apps).
_LAZY = {
    "PCA": "decomposition", "TruncatedSVD": "decomposition",
    "Ratings": "ratings", "load_ratings": "ratings",
    "SoftImpute": "impute", "lambda0": "impute", "soft_impute_path": "impute",
    "LSA": "apps", "choose_rank": "apps", "compress_image": "apps",
    "factorize_layer": "apps", "lora_factorize": "apps", "lora_parameter_count": "apps",
    "low_rank_approximation": "apps", "lstsq": "apps", "pinv": "apps",
}
_SUBMODULES = ("apps", "benchmark", "datasets", "decomposition", "distributed", "impute",
               "kernels", "protocols", "ratings")


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'fastsvd' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


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
