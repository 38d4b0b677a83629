"""Observed ratings: the :class:`Ratings` container, file loaders and metrics.

- :class:`Ratings`: users, items and values with id maps, CSR/CSC views,
  splits, ``save``/``load`` (:mod:`fastsvd.ratings.container`);
- :func:`load_ratings` and :func:`detect_format`: MovieLens, Netflix-prize,
  CSV, TSV and Parquet files, with a binary cache (:mod:`fastsvd.ratings.io`);
- :func:`rmse` and :func:`mae` (:mod:`fastsvd.ratings.metrics`).
"""

from .container import Ratings
from .io import FORMATS, detect_format, load_ratings
from .metrics import mae, rmse

__all__ = ["FORMATS", "Ratings", "detect_format", "load_ratings", "mae", "rmse"]
