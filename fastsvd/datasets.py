"""Deterministic synthetic matrices: planted spectra and Netflix-shaped ratings."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from ._jit import jit
from ._threads import over_ranges
from .kernels import random as _random

NETFLIX_SHAPE = (480_189, 17_770)
NETFLIX_NNZ = 100_480_507
# make_netflix_ratings: global mean and the spread of user and item biases.
_PLANTED_MEAN, _USER_BIAS_STD, _ITEM_BIAS_STD = 3.6, 0.35, 0.45

# Shifted power laws w(r) = (r + c) ** -alpha over popularity rank r, fitted to
# the Netflix-prize degrees: items max/mean 41, median/mean 0.10; users
# max/mean 84, median/mean 0.46 (Bennett & Lanning 2007 statistics).
_ITEM_LAW = (1.94, 420.0)
_USER_LAW = (0.79, 341.0)


def planted_spectrum(m, n, singular_values, *, random_state=0, dtype=np.float64):
    """Dense ``m x n`` matrix ``U diag(singular_values) V^T`` with random
    orthonormal ``U`` and ``V``.

    Returns ``(A, U, s, Vt)`` where ``s`` is ``singular_values`` sorted in
    descending order, so tests can compare against the exact factors.
    """
    s = np.sort(np.asarray(singular_values, dtype=np.float64))[::-1]
    r = s.size
    if r > min(m, n):
        raise ValueError(f"singular_values has {r} entries; at most min(m, n) = {min(m, n)} fit.")
    rng = np.random.default_rng(random_state)
    U, _ = np.linalg.qr(rng.standard_normal((m, r)))
    V, _ = np.linalg.qr(rng.standard_normal((n, r)))
    A = (U * s) @ V.T
    return A.astype(dtype), U, s, V.T


def make_netflix_like(scale=1.0, *, n_items=NETFLIX_SHAPE[1], rank=10, random_state=0,
                      dtype=np.float32):
    """A Netflix-shaped sparse rating matrix, deterministic by seed.

    At ``scale=1`` the matrix is 480,189 users x 17,770 items with about 100M
    ratings, like the Netflix-prize data; ``scale`` multiplies the number of
    users and of ratings (items stay fixed, so every user's degree keeps the
    same distribution at any scale).

    Users and items get power-law degrees (shifted Zipf laws fitted to the
    Netflix statistics). Ratings are integers 1..5: a planted model
    ``3.6 + b_user + b_item + p_user . q_item + noise`` (``rank`` factors),
    rounded and clipped. The same arguments give the same matrix at any
    thread count.

    Returns
    -------
    scipy.sparse.csr_matrix of ``dtype`` with sorted indices and no duplicates.
    """
    indptr, indices, rng = _netflix_pattern(scale, n_items, random_state)
    n_users = indptr.size - 1
    latent = rng.standard_normal((n_users + n_items, rank)) * np.sqrt(0.35 / np.sqrt(rank))
    bias_scale = np.r_[np.full(n_users, 0.35), np.full(n_items, 0.45)]
    bias = rng.standard_normal(n_users + n_items) * bias_scale
    data = np.empty(indices.size, dtype=dtype)
    noise_key = _random.stream_key(int(rng.integers(1 << 62)), 2)
    over_ranges(lambda first, stop: _rate(indptr, indices, latent[:n_users], latent[n_users:],
                                          bias[:n_users], bias[n_users:], noise_key, 0.8, True,
                                          first, stop, data), n_users)
    return sp.csr_matrix((data, indices, indptr), shape=(n_users, n_items))


def make_netflix_ratings(scale=1.0, *, rank=50, noise=0.5, signal=0.6, n_items=NETFLIX_SHAPE[1],
                         random_state=0, dtype=np.float32):
    """Netflix-shaped ratings with a planted low-rank model and known noise.

    The same users, items and power-law degrees as :func:`make_netflix_like`;
    each observed rating is ``3.6 + b_user + b_item + p_user . q_item + noise
    * e`` with standard normal ``e`` (not rounded). The ``rank`` planted
    factors decay like rating data's spectrum (component ``t`` has variance
    proportional to ``1/t^2``) and their product has standard deviation
    ``signal``. The noise standard deviation (``info["noise"]``) is the RMSE
    of the planted model itself; no predictor learnt from the ratings reaches
    it, because users with few ratings leave their factors uncertain. With
    the defaults and a random 10% test split, the Bayes posterior mean of each
    user's bias and factors given the *true* item factors, item biases and
    prior (:func:`netflix_ratings_oracle`) scores 1.043x the noise at
    ``scale=0.1`` and 1.0425x at ``scale=1``: a floor for any method, which
    must learn the items as well.

    Returns
    -------
    (Ratings, info)
        ``info`` holds ``noise``, ``rank``, ``signal`` and the planted
        ``mean``.
    """
    from .ratings import Ratings  # loads numba kernels: not at import time

    model = _planted_model(scale, rank, signal, n_items, random_state)
    n_users = model.indptr.size - 1
    data = np.empty(model.indices.size, dtype=dtype)
    noise_key = _random.stream_key(int(model.rng.integers(1 << 62)), 3)
    over_ranges(lambda first, stop: _rate(model.indptr, model.indices, model.user_factors,
                                          model.item_factors, model.user_bias, model.item_bias,
                                          noise_key, noise, False, first, stop, data), n_users)
    users = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(model.indptr))
    ratings = Ratings(users, model.indices, data, shape=(n_users, n_items))
    return ratings, {"noise": float(noise), "rank": rank, "signal": float(signal),
                     "mean": _PLANTED_MEAN}


def netflix_ratings_oracle(train, test, scale=1.0, *, rank=50, noise=0.5, signal=0.6,
                           n_items=NETFLIX_SHAPE[1], random_state=0) -> np.ndarray:
    """Bayes-optimal predictions of ``test`` for ratings from
    :func:`make_netflix_ratings` (same arguments) split into ``train`` and
    ``test``: the planted item factors, item biases, prior and noise are
    known, each user's bias and factors are their posterior mean given the
    user's ``train`` ratings. No method that must learn the items too does
    better on average, so its RMSE is the floor to measure fits against.
    """
    model = _planted_model(scale, rank, signal, n_items, random_state)
    n_users = model.indptr.size - 1
    if train.shape != (n_users, n_items) or test.shape != train.shape:
        raise ValueError(f"train and test must be a split of make_netflix_ratings({scale}) with "
                         f"the same arguments: expected shape {(n_users, n_items)}, got "
                         f"{train.shape} and {test.shape}.")
    features = np.hstack([np.ones((n_items, 1)), model.item_factors])
    prior_precision = noise ** 2 / np.r_[_USER_BIAS_STD ** 2, model.factor_std ** 2]
    csr = train.csr
    residual = csr.data - _PLANTED_MEAN - model.item_bias[csr.indices]
    weights = np.empty((n_users, features.shape[1]))
    over_ranges(lambda first, stop: _posterior_means(csr.indptr, csr.indices, residual, features,
                                                     prior_precision, first, stop, weights),
                csr.shape[0])
    low_rank = np.sum(weights[test.users] * features[test.items], axis=1)
    return _PLANTED_MEAN + model.item_bias[test.items] + low_rank


@jit()
def _posterior_means(indptr, items, residual, features, prior_precision, first, stop, out):
    """Per row ``first <= u < stop``: the ridge solution ``(F^T F +
    diag(prior_precision))^-1 F^T y`` over its stored entries (``F`` the
    features of its items)."""
    k = features.shape[1]
    for u in range(first, stop):
        G = np.diag(prior_precision)
        b = np.zeros(k)
        for p in range(indptr[u], indptr[u + 1]):
            f = features[items[p]]
            for s in range(k):
                b[s] += residual[p] * f[s]
                for t in range(s, k):  # upper triangle, mirrored below
                    G[s, t] += f[s] * f[t]
        for s in range(k):
            for t in range(s):
                G[s, t] = G[t, s]
        out[u] = np.linalg.solve(G, b)


class _PlantedModel(NamedTuple):
    indptr: np.ndarray
    indices: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    factor_std: np.ndarray  # per component
    rng: np.random.Generator  # continues the stream: the noise key comes next


def _planted_model(scale, rank, signal, n_items, random_state) -> _PlantedModel:
    """The structure and planted model of :func:`make_netflix_ratings`."""
    indptr, indices, rng = _netflix_pattern(scale, n_items, random_state)
    n_users = indptr.size - 1
    # Component t of p . q has variance a_t^4 = c^2 / t^2; their sum is signal^2.
    strength = 1.0 / np.arange(1, rank + 1)
    factor_std = np.sqrt(signal * strength / np.sqrt(np.sum(strength ** 2)))
    latent = rng.standard_normal((n_users + n_items, rank)) * factor_std
    bias_std = np.r_[np.full(n_users, _USER_BIAS_STD), np.full(n_items, _ITEM_BIAS_STD)]
    bias = rng.standard_normal(n_users + n_items) * bias_std
    return _PlantedModel(indptr, indices, latent[:n_users], latent[n_users:], bias[:n_users],
                         bias[n_users:], factor_std, rng)


def _netflix_pattern(scale, n_items, random_state):
    """CSR structure (indptr, indices) of the Netflix-shaped matrix, and the
    generator to draw values with."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}.")
    n_users = max(1, round(NETFLIX_SHAPE[0] * scale))
    target_nnz = max(n_users, round(NETFLIX_NNZ * scale * n_items / NETFLIX_SHAPE[1]))
    rng = np.random.default_rng(random_state)

    user_w = _power_law(n_users, NETFLIX_SHAPE[0], *_USER_LAW)[rng.permutation(n_users)]
    degrees = np.maximum(1, np.round(user_w * (target_nnz / user_w.sum()))).astype(np.int64)
    np.minimum(degrees, max(1, n_items // 2), out=degrees)
    item_w = _power_law(n_items, NETFLIX_SHAPE[1], *_ITEM_LAW)[rng.permutation(n_items)]
    item_cdf = np.cumsum(item_w) / item_w.sum()

    key = _random.stream_key(int(rng.integers(1 << 62)), 1)
    slots = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(degrees, out=slots[1:])
    counts = np.empty(n_users, dtype=np.int64)
    indices = np.empty(slots[-1], dtype=np.int32)
    over_ranges(lambda first, stop: _sample_rows(slots, item_cdf, key, first, stop, indices,
                                                 counts), n_users)
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    compact = np.empty(indptr[-1], dtype=indices.dtype)
    over_ranges(lambda first, stop: _compact(slots, counts, indptr, indices, first, stop,
                                             compact), n_users)
    indices = compact
    if indptr[-1] < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    return indptr, indices, rng


def _power_law(n, reference_n, alpha, shift):
    """Weights of a shifted Zipf law sampled at ``n`` evenly spaced ranks of a
    population of ``reference_n`` (the same profile at any size)."""
    ranks = (np.arange(n) + 0.5) * (reference_n / n)
    return (ranks + shift) ** -alpha


@jit()
def _sample_rows(slots, item_cdf, key, first, stop, indices, counts):
    """Distinct items for each user ``first <= u < stop`` by inverse-CDF draws
    (rejecting repeats), sorted, written at ``indices[slots[u]:]``;
    ``counts[u]`` gets how many."""
    n_items = item_cdf.size
    seen = np.zeros(n_items, dtype=np.bool_)
    for u in range(first, stop):
        start = slots[u]
        want = slots[u + 1] - start
        got = 0
        t = 0
        while got < want and t < 8 * want + 64:
            j = np.searchsorted(item_cdf, _random.uniform(key, u, t))
            t += 1
            if j < n_items and not seen[j]:
                seen[j] = True
                indices[start + got] = j
                got += 1
        row = indices[start:start + got]
        row.sort()
        for p in range(got):
            seen[row[p]] = False
        counts[u] = got


@jit()
def _compact(slots, counts, indptr, indices, first, stop, out):
    for u in range(first, stop):
        out[indptr[u]:indptr[u + 1]] = indices[slots[u]:slots[u] + counts[u]]


@jit()
def _rate(indptr, indices, user_factors, item_factors, user_bias, item_bias, key, noise,
          integer, first, stop, data):
    """Planted-model ratings at the stored entries of rows ``first`` to
    ``stop``; ``integer`` rounds them to 1..5."""
    rank = user_factors.shape[1]
    for u in range(first, stop):
        for p in range(indptr[u], indptr[u + 1]):
            j = indices[p]
            score = _PLANTED_MEAN + user_bias[u] + item_bias[j] + noise * _random.normal(key, u, j)
            for r in range(rank):
                score += user_factors[u, r] * item_factors[j, r]
            data[p] = min(5.0, max(1.0, np.floor(score + 0.5))) if integer else score
