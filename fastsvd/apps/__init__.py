"""The classic applications of the SVD, built on :func:`fastsvd.svd`.

- :mod:`~fastsvd.apps.lowrank`: best rank-k approximation (Eckart-Young), its
  errors and storage, choosing k by a threshold;
- :mod:`~fastsvd.apps.image`: image compression at several ranks;
- :mod:`~fastsvd.apps.lsa`: latent semantic analysis of a text collection;
- :mod:`~fastsvd.apps.lora`: LoRA-style low-rank factorisation of weights;
- :mod:`~fastsvd.apps.lstsq`: pseudo-inverse, least squares and ridge;
- :mod:`~fastsvd.apps.faces`: PCA galleries (eigenfaces, digits) with plots.
"""

from .faces import PCAGallery, pca_gallery
from .image import ImageCompression, compress_image
from .lora import LayerFactorization, factorize_layer, lora_factorize, lora_parameter_count
from .lowrank import LowRankApproximation, choose_rank, low_rank_approximation
from .lsa import LSA
from .lstsq import lstsq, pinv

__all__ = [
    "LSA", "ImageCompression", "LayerFactorization", "LowRankApproximation", "PCAGallery",
    "choose_rank", "compress_image", "factorize_layer", "lora_factorize", "lora_parameter_count",
    "low_rank_approximation", "lstsq", "pca_gallery", "pinv",
]
