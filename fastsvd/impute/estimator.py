"""Matrix completion for rating data: the :class:`SoftImpute` estimator,
:func:`lambda0` and :func:`soft_impute_path`."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .. import _backends
from .._checks import (
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_random_state,
    check_real,
)
from .._threads import check_n_threads, thread_limits
from ..algorithms.tall import to_local
from ..protocols import ObservedEntries
from ..ratings import Ratings
from . import softimpute as _softimpute
from .observed import ObservedCSR

FORMAT_VERSION = 1
#: Fractions of lambda0 tried (largest first, warm-started) when ``lam="auto"``.
LAMBDA_FRACTIONS = (0.6, 0.5, 0.42, 0.35, 0.3, 0.25, 0.2, 0.16, 0.13, 0.1, 0.08, 0.065, 0.05,
                    0.04, 0.03, 0.024, 0.018, 0.013, 0.01)
#: Stopping tolerance of each fit on the ``lam="auto"`` path (the final refit
#: uses ``tol``): the validation RMSE needs only approximate solutions. On
#: MovieLens-100K and 1M synthetic ratings it halves the fit time and picks
#: the same lambda as 1e-5; 1e-3 picked a worse one.
PATH_TOL = 1e-4
#: Columns the ``lam="auto"`` path starts with; they double whenever a fit
#: uses them all (large ``lam`` gives low-rank solutions, which then cost
#: iterations of their own rank instead of ``rank``).
PATH_START_RANK = 8

class SoftImpute:
    """Low-rank matrix completion of sparse ratings (soft-impute), never densified.

    The model predicts ``mean + user_bias[u] + item_bias[i] + (U diag(d) V^T)[u, i]``.
    Biases are damped means, fitted first (``b_u = sum(x - mean - b_i) /
    (n_u + damping)``, alternating with the item biases); the low-rank part
    solves ``min_Z 1/2 ||P_Omega(X - biases - Z)||^2 + lam ||Z||_*`` with
    rank at most ``rank``.

    Parameters
    ----------
    rank : int
        Maximum rank of ``Z``.
    lam : float or "auto"
        Nuclear-norm weight. ``"auto"`` (default) holds out about
        ``validation_fraction`` of the training ratings (a seeded coin per
        rating), walks the warm-started path ``lam = f * lambda0`` for ``f``
        in :data:`LAMBDA_FRACTIONS` (``lambda0`` is the smallest ``lam``
        giving ``Z = 0``) with a rank that grows from
        :data:`PATH_START_RANK` as the solutions need it, until the validation
        RMSE (of unclipped predictions) first gets worse, and refits on all the
        ratings with the best fraction of their own ``lambda0``. (Waiting for
        a second worse step picked the same fraction on MovieLens-100K u1..u5
        and synthetic ratings from 0.9M to 89M: the curve is smooth.) Fits on
        the path stop at a relative change of :data:`PATH_TOL` (or ``tol`` if
        looser); the refit uses ``tol``. The test data are never looked at.
    method : {"als", "svd"}
        softImpute-ALS (faster; its half-steps are over-relaxed by a momentum
        of 0.7, switched off if it ever increases the objective) or the
        original soft-thresholded SVD iteration; both minimise the same
        objective.
    biases : bool
        Fit damped user and item biases (on by default: they carry most of the
        signal in rating data). ``False`` fits ``Z`` to the raw ratings.
    debias : bool
        Refit ``d`` by least squares on the observed ratings with ``U`` and
        ``V`` fixed (R's ``deBias``), undoing the nuclear norm's shrinkage of
        the singular values. With ``lam="auto"`` the path scores the refitted
        solutions, so the chosen ``lam`` is the best one for them.
    damping : float
        Shrinkage of the biases towards 0 for users/items with few ratings.
    tol : float
        Stop when ``||Z_new - Z||_F^2 / ||Z||_F^2 < tol`` (R's ``thresh``).
    max_iter : int
        Iteration cap per fit.
    clip : bool
        Clip predictions to the range of the training ratings.
    validation_fraction : float
        Held-out share of the ratings for ``lam="auto"``.
    random_state, n_threads
        As in :func:`fastsvd.svd`; the same seed gives the same model at any
        thread count.
    verbose : bool
        Print one line per iteration to stderr.
    callback : callable, optional
        ``callback(iteration, objective, change)`` after every iteration.

    Attributes
    ----------
    mean_, user_bias_, item_bias_ : the bias model.
    U_, d_, V_ : the low-rank part ``Z = U_ diag(d_) V_^T`` (``d_`` > 0;
        ``U_``, as tall as the ratings, in their dtype with ``method="als"``).
    lam_, lambda0_ : the ``lam`` used and ``lambda0`` of the training data.
    history_ : objective per iteration of the final fit (non-increasing).
    n_iter_, converged_ : iterations of the final fit and whether it met ``tol``.
    validation_ : for ``lam="auto"``, ``{fraction: validation RMSE}``.
    user_ids_, item_ids_ : raw ids of rows and columns (index order).

    Examples
    --------
    >>> import numpy as np
    >>> from fastsvd import SoftImpute
    >>> from fastsvd.datasets import make_netflix_ratings
    >>> from fastsvd.ratings import rmse
    >>> ratings, info = make_netflix_ratings(0.002, random_state=0)
    >>> train, test = ratings.split(0.1, random_state=0)
    >>> model = SoftImpute(rank=10, random_state=0).fit(train)
    >>> predictions = model.predict(test.user_ids[test.users], test.item_ids[test.items])
    >>> baseline = np.full(len(test), train.values.mean())
    >>> bool(rmse(test.values, predictions) < rmse(test.values, baseline))
    True
    """

    def __init__(self, rank=50, lam="auto", *, method="als", biases=True, debias=False,
                 damping=5.0, tol=1e-5, max_iter=200, clip=True, validation_fraction=0.1,
                 random_state=None, n_threads=None, verbose=False, callback=None):
        self.rank = rank
        self.lam = lam
        self.method = method
        self.biases = biases
        self.debias = debias
        self.damping = damping
        self.tol = tol
        self.max_iter = max_iter
        self.clip = clip
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.callback = callback

    # ------------------------------------------------------------------ fitting
    def fit(self, X):
        """Fit on observed ratings.

        ``X`` is a :class:`fastsvd.ratings.Ratings`, a pandas DataFrame with
        ``user``, ``item`` and ``rating`` columns, or a scipy.sparse matrix
        whose stored entries are the observed ratings (rows are users).
        Duplicate (user, item) pairs are an error.

        Ratings split into row blocks on a Dask cluster (a
        :class:`fastsvd.distributed.RowBlocks`, or a ``dask.array.Array``
        chunked along rows whose chunks are scipy.sparse matrices of ratings)
        are fitted there with ``method="als"``: the user factors and biases
        stay on the workers, and the model is then used like one fitted on a
        sparse matrix (rows and columns are indices). The same seed gives the
        same model as the matrix fitted in memory.
        """
        data = _training_data(X)
        self._check_params(data.observed)
        rng = check_random_state(self.random_state)
        with thread_limits(check_n_threads(self.n_threads), blas=1):
            fraction, start = self._choose_lambda(data.observed, rng) if self.lam == "auto" \
                else (None, None)
            observed, bias = self._centred(data.observed)
            lam0 = _softimpute.lambda0(observed, rng)
            lam = float(self.lam) if fraction is None else fraction * lam0
            factors = self._refit_d(observed, self._fit(observed, lam, rng, start, self.tol))
        self._set_state(data, bias, lam, lam0, factors)
        return self

    def _set_state(self, data, bias, lam, lam0, factors):
        m, _ = data.observed.shape
        mean, user_bias, item_bias = bias
        self.input_kind_ = data.input_kind
        self.mean_, self.item_bias_ = float(mean), item_bias
        self.user_bias_ = np.zeros(m) if np.isscalar(user_bias) else to_local(user_bias)
        self.lam_, self.lambda0_ = float(lam), float(lam0)
        self.U_, self.d_, self.V_ = to_local(factors.U), factors.d, factors.V
        self.history_, self.n_iter_, self.converged_ = (list(factors.history), factors.n_iter,
                                                        factors.converged)
        self.user_ids_, self.item_ids_ = data.user_ids, data.item_ids
        self.rating_range_ = data.rating_range

    def _centred(self, observed):
        """The ratings minus the bias model, and the biases."""
        if self.biases:
            return _softimpute.fit_biases(observed, self.damping)
        return observed, (0.0, 0.0, np.zeros(observed.shape[1]))

    def _fit(self, observed, lam, rng, start, tol, rank=None):
        return _softimpute.fit(observed, rank or self.rank, lam, method=self.method, tol=tol,
                               max_iter=self.max_iter, rng=rng, start=start,
                               callback=self._report)

    def _refit_d(self, observed, factors):
        return _softimpute.debias(observed, factors) if self.debias else factors

    def _fit_growing(self, observed, lam, rng, start, tol, rank):
        """Fit with at most ``rank`` columns, doubling them (warm-started, up
        to ``self.rank``) while the solution uses them all: the result is the
        rank-``self.rank`` solution, at the cost of the rank it needs."""
        while True:
            factors = self._fit(observed, lam, rng, start, tol, rank)
            if factors.d.size < rank or rank == self.rank:
                return factors, rank
            start, rank = factors, min(self.rank, 2 * rank)

    def _choose_lambda(self, observed, rng):
        """Pick a fraction of lambda0 on held-out ratings of the training data.

        Each rating is held out with probability ``validation_fraction`` by a
        seeded coin that depends only on its (user, item) position, so ratings
        split into row blocks are held out exactly as the whole matrix is.
        """
        from ..kernels.random import stream_key  # loads numba: not at import time

        key = stream_key(int(rng.integers(2**63)), 0)
        train, held_out = observed.holdout(self.validation_fraction, key)
        if held_out.nnz == 0 or train.nnz == 0:
            raise ValueError(f"validation_fraction={self.validation_fraction} leaves no ratings "
                             f"to {'validate on' if held_out.nnz == 0 else 'train on'} among "
                             f"{observed.nnz}; pass a fixed lam or another validation_fraction.")
        train, bias = self._centred(train)
        held_out = held_out.minus_offsets(bias[1] + bias[0], bias[2])
        top = _softimpute.top_pair(train, rng)
        lam0 = float(top.d[0])
        self.validation_ = {}
        best, best_rmse, best_start = None, np.inf, None
        # Just below lambda0 the solution is the top pair shrunk by lam: start there.
        start = _softimpute.Factors(top.U, top.d * (1 - LAMBDA_FRACTIONS[0]), top.V)
        rank = min(self.rank, PATH_START_RANK)
        for fraction in LAMBDA_FRACTIONS:
            start, rank = self._fit_growing(train, fraction * lam0, rng, start,
                                            max(self.tol, PATH_TOL), rank)
            rmse = _softimpute.validation_rmse(held_out, self._refit_d(train, start))
            self.validation_[fraction] = rmse
            if best is not None and not rmse < best_rmse:
                break
            best, best_rmse, best_start = fraction, rmse, start
        return best, best_start

    def _report(self, iteration, value, change):
        if self.verbose:
            print(f"soft-impute {self.method}: iteration {iteration}, objective {value:.6g}, "
                  f"change {change:.2e}", file=sys.stderr)
        if self.callback is not None:
            self.callback(iteration, value, change)

    def _check_params(self, observed):
        """Check every parameter once, before any work (the estimator keeps
        them as given, as scikit-learn estimators do)."""
        check_choice(self.method, ("als", "svd"), name="method")
        if observed.distributed and self.method != "als":
            raise ValueError(f"method={self.method!r} runs in one process; ratings in row blocks "
                             "on a cluster are fitted with method='als'.")
        limit = min(observed.shape)
        check_int(self.rank, name="rank", low=1, high=limit,
                  hint=f"{observed.shape[0]} users x {observed.shape[1]} items have rank at most "
                  f"{limit}.")
        if not (isinstance(self.lam, str) and self.lam == "auto"):
            check_real(self.lam, name="lam", low=0.0, hint="Or pass lam='auto'.")
        check_bool(self.biases, name="biases")
        check_bool(self.debias, name="debias")
        check_real(self.damping, name="damping", low=0.0)
        check_fraction(self.tol, name="tol")
        check_int(self.max_iter, name="max_iter", low=1)
        check_fraction(self.validation_fraction, name="validation_fraction")
        check_random_state(self.random_state)
        check_n_threads(self.n_threads)
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable or None, got "
                            f"{type(self.callback).__name__}.")

    # --------------------------------------------------------------- prediction
    def predict(self, users, items) -> np.ndarray:
        """Predicted ratings for pairs ``(users[k], items[k])``.

        For a model fitted on a scipy.sparse matrix, ``users`` and ``items``
        are row and column indices; otherwise they are the raw ids seen in
        ``fit``. Unknown users or items (ids not seen, or indices out of
        range) get the bias model's fallback: ``mean + item_bias`` for an
        unknown user, ``mean + user_bias`` for an unknown item, ``mean`` for
        both.
        """
        self._check_fitted()
        rows = self._index(users, self.user_ids_, "users")
        cols = self._index(items, self.item_ids_, "items")
        if rows.shape != cols.shape:
            raise ValueError(f"users and items must have the same length, got {rows.size} and "
                             f"{cols.size}.")
        bias = (self.mean_, self.user_bias_, self.item_bias_)
        factors = _softimpute.Factors(self.U_, self.d_, self.V_)
        return _predict(bias, factors, rows, cols, self.rating_range_ if self.clip else None)

    def _index(self, ids, known, name):
        ids = np.asarray(ids).ravel()
        if self.input_kind_ == "sparse":
            if ids.dtype.kind not in "iu":
                raise TypeError(f"{name} must be integer indices for a model fitted on a "
                                "sparse matrix.")
            return np.where((ids >= 0) & (ids < known.size), ids, -1).astype(np.int64)
        order = np.argsort(known)
        found = np.searchsorted(known, ids, sorter=order)
        found = np.minimum(found, known.size - 1)
        match = known[order[found]] == ids
        return np.where(match, order[found], -1).astype(np.int64)

    def transform(self, X) -> np.ndarray:
        """Latent vectors of new users from their ratings, without refitting.

        ``X`` holds the new users' ratings over the fitted items (same kinds
        of input as ``fit``; items are raw ids, or column indices for sparse
        input). Each user's vector ``a`` solves the ridge problem
        ``min ||x - b_u - (mean + item_bias) - a (V sqrt(d))^T||^2 + lam ||a||^2``
        over the items it rated, the row update of softImpute-ALS; its bias
        ``b_u`` is the damped mean. Returns ``(biases, vectors)``: the
        prediction for item ``i`` is ``mean + b_u + item_bias[i] + vectors @
        (V sqrt(d))[i]``.
        """
        self._check_fitted()
        ratings = as_ratings(X)
        items = self._index(ratings.item_ids[ratings.items], self.item_ids_, "items") \
            if self.input_kind_ != "sparse" else ratings.items.astype(np.int64)
        known = items >= 0
        users, items, values = ratings.users[known], items[known], ratings.values[known]
        n = ratings.shape[0]
        residual = values - self.mean_ - self.item_bias_[items]
        counts = np.bincount(users, minlength=n)
        biases = (np.bincount(users, residual, minlength=n) / (counts + self.damping)
                  if self.biases else np.zeros(n))
        B = self.V_ * np.sqrt(self.d_)
        target = residual - biases[users]
        vectors = np.zeros((n, self.d_.size))
        order = np.argsort(users, kind="stable")
        bounds = np.searchsorted(users[order], np.arange(n + 1))
        for u in range(n):
            rows = order[bounds[u]:bounds[u + 1]]
            Bu = B[items[rows]]
            vectors[u] = np.linalg.solve(Bu.T @ Bu + self.lam_ * np.eye(B.shape[1]),
                                         Bu.T @ target[rows])
        return biases, vectors

    # -------------------------------------------------------------- persistence
    def save(self, path):
        """Write the fitted model to ``path`` (an ``.npz`` archive, written at
        exactly that path)."""
        self._check_fitted()
        meta = {"format": "fastsvd.SoftImpute", "version": FORMAT_VERSION,
                "params": {k: v for k, v in self.get_params().items() if k != "callback"},
                "lam_": self.lam_, "lambda0_": self.lambda0_, "n_iter_": self.n_iter_,
                "converged_": self.converged_, "rating_range_": self.rating_range_,
                "input_kind_": self.input_kind_, "history_": self.history_}
        with open(path, "wb") as file:  # exactly at ``path``: np.savez would add ".npz"
            np.savez(file, meta=np.array(json.dumps(meta)), mean=np.array(self.mean_),
                     user_bias=self.user_bias_, item_bias=self.item_bias_, U=self.U_,
                     d=self.d_, V=self.V_, user_ids=self.user_ids_, item_ids=self.item_ids_)

    @classmethod
    def load(cls, path) -> SoftImpute:
        """Read a model written by :meth:`save`; other files fail with ValueError."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {name: data[name] for name in data.files if name != "meta"}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{str(path)!r} is not a readable SoftImpute model file "
                             f"(truncated or not written by SoftImpute.save): {exc}") from None
        if meta.get("format") != "fastsvd.SoftImpute":
            raise ValueError(f"{str(path)!r} is not a SoftImpute model file.")
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{str(path)!r} was written by model format version "
                             f"{meta.get('version')}; this fastsvd reads version "
                             f"{FORMAT_VERSION}. Refit and save the model again.")
        model = cls(**meta["params"])
        model.mean_ = float(arrays["mean"])
        model.user_bias_, model.item_bias_ = arrays["user_bias"], arrays["item_bias"]
        model.U_, model.d_, model.V_ = arrays["U"], arrays["d"], arrays["V"]
        model.user_ids_, model.item_ids_ = arrays["user_ids"], arrays["item_ids"]
        for name in ("lam_", "lambda0_", "n_iter_", "converged_", "input_kind_", "history_"):
            setattr(model, name, meta[name])
        model.rating_range_ = tuple(meta["rating_range_"])
        return model

    def get_params(self) -> dict:
        names = ("rank", "lam", "method", "biases", "debias", "damping", "tol", "max_iter", "clip",
                 "validation_fraction", "random_state", "n_threads", "verbose", "callback")
        return {name: getattr(self, name) for name in names}

    def _check_fitted(self):
        if not hasattr(self, "U_"):
            raise ValueError("this SoftImpute is not fitted yet; call fit(ratings) first.")

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items()
                           if k in ("rank", "lam", "method"))
        return f"SoftImpute({params})"


def lambda0(X, *, biases=True, damping=5.0, random_state=None, n_threads=None) -> float:
    """The smallest ``lam`` for which soft-impute's low-rank part is zero (R's
    ``lambda0``): the largest singular value of the observed ratings after the
    bias model (``biases``, ``damping`` as in :class:`SoftImpute`) is removed.
    ``n_threads`` as in :func:`fastsvd.svd`."""
    model = SoftImpute(biases=biases, damping=damping)
    data = _training_data(X)
    model._check_params(data.observed)
    n_threads = check_n_threads(n_threads)
    with thread_limits(n_threads, blas=1):
        observed, _ = model._centred(data.observed)
        return _softimpute.lambda0(observed, check_random_state(random_state))


def soft_impute_path(X, lams=None, *, n_lambdas=10, min_ratio=0.05, **params):
    """Fit soft-impute along a decreasing path of ``lam``, warm-starting each
    fit from the previous one (cheap: solutions change little between steps).

    ``lams`` defaults to ``n_lambdas`` values spaced geometrically from
    ``lambda0`` down to ``min_ratio * lambda0``. ``params`` go to
    :class:`SoftImpute` (``lam`` excepted). Returns the fitted models in path
    order.
    """
    if "lam" in params:
        raise TypeError("soft_impute_path takes lams=..., not lam=.")
    template = SoftImpute(lam=0.0, **params)
    data = _training_data(X)
    template._check_params(data.observed)
    rng = check_random_state(template.random_state)
    models, start = [], None
    n_lambdas = check_int(n_lambdas, name="n_lambdas", low=1)
    min_ratio = check_real(min_ratio, name="min_ratio", low=0.0, high=1.0, low_open=True)
    if lams is not None:
        lams = [check_real(v, name="every entry of lams", low=0.0) for v in np.ravel(lams)]
    with thread_limits(check_n_threads(template.n_threads), blas=1):
        observed, bias = template._centred(data.observed)
        lam0 = _softimpute.lambda0(observed, rng)
        if lams is None:
            lams = lam0 * np.geomspace(1.0, min_ratio, n_lambdas)
        for lam in sorted((float(v) for v in lams), reverse=True):
            # At and above lambda0 the answer is known (zero); ALS would only
            # creep towards it, so the path does not spend iterations there.
            factors = (_softimpute.zero(observed) if lam >= lam0
                       else template._fit(observed, lam, rng, start, template.tol))
            start = factors if factors.d.size else None
            model = SoftImpute(lam=lam, **params)
            model._set_state(data, bias, lam, lam0, factors)
            models.append(model)
    return models


def as_ratings(X):
    """A :class:`fastsvd.ratings.Ratings` from the accepted input kinds."""
    if isinstance(X, Ratings):
        return X
    if sp.issparse(X):
        return Ratings.from_sparse(X)
    if type(X).__module__.startswith("pandas"):
        return Ratings.from_dataframe(X)
    raise TypeError(f"ratings must be a fastsvd.ratings.Ratings, a pandas DataFrame (user, "
                    f"item, rating columns) or a scipy.sparse matrix; got {type(X).__name__}.")


class _TrainingData(NamedTuple):
    observed: ObservedEntries  # in memory, or on a cluster
    user_ids: np.ndarray
    item_ids: np.ndarray
    rating_range: tuple[float, float]
    input_kind: str  # "sparse": predict takes indices; "ids": raw ids


def _training_data(X) -> _TrainingData:
    """The observed ratings as an operator (in memory, or in row blocks on a
    Dask cluster), with what the model keeps about them."""
    observed = _backends.convert("ratings", X)
    if observed is not None:
        m, n = observed.shape
        return _TrainingData(observed, np.arange(m), np.arange(n), observed.value_range(),
                             "sparse")
    ratings = as_ratings(X)
    observed = ObservedCSR.from_scipy(ratings.csr)
    return _TrainingData(observed, ratings.user_ids, ratings.item_ids, observed.value_range(),
                         "sparse" if sp.issparse(X) else "ids")


def _predict(bias, factors, rows, cols, clip, chunk=1 << 16):
    """Predictions for index pairs; -1 marks an unknown user or item."""
    mean, user_bias, item_bias = bias
    known_row, known_col = rows >= 0, cols >= 0
    out = np.full(rows.size, mean, dtype=np.float64)
    out[known_row] += user_bias[rows[known_row]]
    out[known_col] += item_bias[cols[known_col]]
    both = np.nonzero(known_row & known_col)[0]
    U = factors.U * factors.d
    for start in range(0, both.size, chunk):
        sel = both[start:start + chunk]
        out[sel] += np.einsum("ij,ij->i", U[rows[sel]], factors.V[cols[sel]])
    return np.clip(out, *clip) if clip else out

