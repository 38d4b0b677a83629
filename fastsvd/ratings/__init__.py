"""Observed ratings: the :class:`Ratings` container, file loaders and metrics.

- :class:`Ratings`: users, items and values with id maps, CSR/CSC views,
  splits, ``save``/``load`` (:mod:`fastsvd.ratings.container`);
- :func:`load_ratings` and :func:`detect_format`: MovieLens, Netflix-prize,
  CSV, TSV and Parquet files, with a binary cache (:mod:`fastsvd.ratings.io`);
- :func:`load_netflix_prize`: the Netflix-prize training set with its probe
  split and qualifying pairs (:mod:`fastsvd.ratings.netflix`);
- :func:`rmse` and :func:`mae` (:mod:`fastsvd.ratings.metrics`).
"""

from .container import Ratings
from .io import FORMATS, detect_format, load_ratings
from .metrics import mae, rmse
from .netflix import NetflixPrize, Pairs, load_netflix_prize

__all__ = ["FORMATS", "NetflixPrize", "Pairs", "Ratings", "detect_format",
           "load_netflix_prize", "load_ratings", "mae", "rmse"]
