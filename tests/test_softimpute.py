"""Soft-impute against a dense plain-numpy twin, its guarantees (monotone
objective, ALS and SVD agree), the estimator API and bad input."""

import itertools

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_csr

from fastsvd.impute import SoftImpute, lambda0, soft_impute_path
from fastsvd.impute import softimpute as _softimpute
from fastsvd.impute.observed import ObservedCSR, SparsePlusLowRankOperator
from fastsvd.ratings import Ratings, load_ratings, rmse


def _planted(m=60, n=40, rank=3, density=0.5, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n))
    X = truth + noise * rng.standard_normal((m, n))
    mask = rng.random((m, n)) < density
    return X, mask, truth


def _observed(X, mask, dtype=np.float64):
    S = sp.csr_matrix((X[mask].astype(dtype), np.nonzero(mask)), shape=X.shape)
    return ObservedCSR.from_scipy(S)


def _dense(f):
    return (f.U * f.d) @ f.V.T


@pytest.mark.parametrize("method", ["als", "svd"])
def test_matches_dense_twin(method):
    X, mask, _ = _planted()
    lam = 2.0
    Z_ref = naive.soft_impute(X, mask, lam)
    fit = _softimpute.fit(_observed(X, mask), 10, lam, method=method, tol=1e-14, max_iter=5000,
                          rng=np.random.default_rng(0))
    assert fit.converged
    np.testing.assert_allclose(_dense(fit), Z_ref, atol=1e-5 * np.abs(Z_ref).max())
    assert naive.soft_impute_objective(X, mask, _dense(fit), lam) == pytest.approx(
        naive.soft_impute_objective(X, mask, Z_ref, lam), rel=1e-9)


@pytest.mark.parametrize("method", ["als", "svd"])
def test_objective_decreases_monotonically(method):
    X, mask, _ = _planted(80, 50, rank=5, density=0.3, noise=0.5, seed=1)
    fit = _softimpute.fit(_observed(X, mask), 15, 1.0, method=method, tol=1e-10, max_iter=500,
                          rng=np.random.default_rng(2))
    history = np.array(fit.history)
    assert history.size > 10
    assert np.all(np.diff(history) <= 1e-10 * history[0])


def test_als_momentum_gets_closer_to_the_optimum(monkeypatch):
    X, mask, _ = _planted(200, 120, rank=6, density=0.15, noise=0.3, seed=4)
    observed = _observed(X, mask)
    optimum = _softimpute.fit(observed, 10, 2.0, method="svd", tol=1e-11, max_iter=20000,
                              rng=np.random.default_rng(0))
    best = naive.soft_impute_objective(X, mask, _dense(optimum), 2.0)
    gaps = []
    for momentum in (0.0, _softimpute.ALS_MOMENTUM):
        monkeypatch.setattr(_softimpute, "ALS_MOMENTUM", momentum)
        fit = _softimpute.fit(observed, 10, 2.0, method="als", tol=1e-14, max_iter=80,
                              rng=np.random.default_rng(0))
        gaps.append(naive.soft_impute_objective(X, mask, _dense(fit), 2.0) - best)
    assert 0 <= gaps[1] < 0.5 * gaps[0]  # measured 0.24


def test_als_safeguard_keeps_an_unstable_momentum_monotone(monkeypatch):
    """A momentum far too large (it diverges alone) is caught by the
    safeguard: the objective never increases and the fit still reaches the
    optimum."""
    monkeypatch.setattr(_softimpute, "ALS_MOMENTUM", 3.0)
    X, mask, _ = _planted(120, 70, rank=4, density=0.25, noise=0.3, seed=3)
    observed = _observed(X, mask)
    fit = _softimpute.fit(observed, 20, 1.5, method="als", tol=1e-12, max_iter=20000,
                          rng=np.random.default_rng(4))
    history = np.array(fit.history)
    assert np.all(np.diff(history) <= 0)
    reference = _softimpute.fit(observed, 20, 1.5, method="svd", tol=1e-12, max_iter=20000,
                                rng=np.random.default_rng(4))
    assert naive.soft_impute_objective(X, mask, _dense(fit), 1.5) == pytest.approx(
        naive.soft_impute_objective(X, mask, _dense(reference), 1.5), rel=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rank_zero_model_leaves_the_values_as_residual(dtype):
    X, mask, _ = _planted(40, 30, rank=2, density=0.4, seed=9)
    observed = _observed(X, mask, dtype)
    S = sp.csr_matrix((X[mask], np.nonzero(mask)), shape=X.shape)
    no_rows, no_cols = np.zeros((40, 0)), np.zeros((30, 0))
    rng = np.random.default_rng(0)
    row_mult, col_mult = rng.standard_normal((30, 3)), rng.standard_normal((40, 3))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(observed.residual(no_rows, no_cols), X[mask], rtol=rtol)
    product, squares = observed.residual_times(no_rows, no_cols, row_mult)
    np.testing.assert_allclose(product, S @ row_mult, rtol=rtol, atol=rtol)
    assert squares == pytest.approx(np.sum(X[mask] ** 2), rel=rtol)
    rproduct, rsquares = observed.residual_rtimes(no_rows, no_cols, col_mult)
    np.testing.assert_allclose(rproduct, S.T @ col_mult, rtol=rtol, atol=rtol)
    assert rsquares == pytest.approx(squares, rel=rtol)


def test_lambda_path_survives_a_zero_first_solution():
    # On these ratings the svd method's first path point (0.6 lambda0) is Z = 0.
    from fastsvd.datasets import make_netflix_ratings

    train, _ = make_netflix_ratings(0.01, random_state=0)[0].split(0.1, random_state=0)
    model = SoftImpute(method="svd", random_state=0).fit(train)
    assert all(np.isfinite(list(model.validation_.values())))
    assert 0 < model.lam_ < model.lambda0_


def test_debias_refits_the_singular_values_by_least_squares():
    X, mask, _ = _planted(70, 45, rank=4, density=0.4, noise=0.3, seed=7)
    observed = _observed(X, mask)
    fit = _softimpute.fit(observed, 6, 3.0, method="als", tol=1e-10, max_iter=500,
                          rng=np.random.default_rng(0))
    refit = _softimpute.debias(observed, fit)
    rows, cols = np.nonzero(mask)
    features = fit.U[rows] * fit.V[cols]
    d_ref = np.linalg.lstsq(features, X[mask], rcond=None)[0]
    assert np.all(d_ref > 0)  # so the refit keeps every column and its order is by size
    order = np.argsort(-d_ref)
    np.testing.assert_allclose(refit.d, d_ref[order], rtol=1e-9)
    np.testing.assert_allclose(_dense(refit), (fit.U * d_ref) @ fit.V.T, atol=1e-10)
    assert np.all(refit.d > fit.d[order])  # the nuclear norm shrank every value
    assert np.all(np.diff(refit.d) <= 0)


def test_debias_flips_negative_coefficients_into_v():
    X, mask, _ = _planted(30, 20, rank=2, density=0.8, noise=0.0, seed=3)
    observed = _observed(X, mask)
    fit = _softimpute.fit(observed, 2, 0.5, method="als", tol=1e-12, max_iter=2000,
                          rng=np.random.default_rng(0))
    flipped = _softimpute.Factors(fit.U, fit.d, fit.V * np.array([1.0, -1.0]))
    refit = _softimpute.debias(observed, flipped)
    assert np.all(refit.d > 0)
    np.testing.assert_allclose(_dense(refit), _dense(_softimpute.debias(observed, fit)),
                               atol=1e-10)


def test_debias_option_scores_the_path_with_refitted_values():
    ratings, _ = _synthetic_ratings(5)
    plain = SoftImpute(rank=8, random_state=0).fit(ratings)
    debiased = SoftImpute(rank=8, debias=True, random_state=0).fit(ratings)
    assert debiased.get_params()["debias"] is True
    assert set(debiased.validation_) and debiased.validation_ != plain.validation_
    # d_ is the least-squares refit: shrinking it raises the training error.
    users, items = ratings.user_ids[ratings.users], ratings.item_ids[ratings.items]
    error = rmse(ratings.values, debiased.predict(users, items))
    debiased.d_ = debiased.d_ * 0.9
    assert rmse(ratings.values, debiased.predict(users, items)) > error


def test_growing_rank_reaches_the_full_rank_solution():
    X, mask, _ = _planted(90, 60, rank=6, density=0.5, noise=0.2, seed=4)
    observed = _observed(X, mask)
    lam = 4.0
    Z_ref = naive.soft_impute(X, mask, lam)
    s_ref = np.linalg.svd(Z_ref, compute_uv=False)
    true_rank = int(np.sum(s_ref > 1e-6 * s_ref[0]))
    assert 2 < true_rank < 16
    model = SoftImpute(rank=30, lam=lam, max_iter=20000)
    fit, rank = model._fit_growing(observed, lam, np.random.default_rng(0), None, 1e-16, 2)
    assert fit.d.size == true_rank < rank  # grew from 2 until the bound stopped binding
    assert rank < 30  # ... without going to the full rank
    assert naive.soft_impute_objective(X, mask, _dense(fit), lam) == pytest.approx(
        naive.soft_impute_objective(X, mask, Z_ref, lam), rel=1e-9)
    np.testing.assert_allclose(_dense(fit), Z_ref, atol=1e-5 * np.abs(Z_ref).max())


@pytest.mark.parametrize("n_blocks", [2, 5])
def test_holdout_is_the_same_for_row_blocks(n_blocks):
    from fastsvd.kernels.random import stream_key

    A = random_csr(300, 80, 0.2, seed=1)
    whole = ObservedCSR.from_scipy(A)
    key = stream_key(7, 0)
    kept, held = whole.holdout(0.25, key)
    assert kept.nnz + held.nnz == whole.nnz
    assert abs(held.nnz / whole.nnz - 0.25) < 0.03
    bounds = np.linspace(0, 300, n_blocks + 1).astype(int)
    pieces = [ObservedCSR.from_scipy(A[a:b]).holdout(0.25, key, first_row=a)[1]
              for a, b in itertools.pairwise(bounds)]
    def scipy_csr(observed):
        m = observed.matrix
        return sp.csr_matrix((m.data, m.indices, m.indptr), shape=m.shape)

    joined = sp.vstack([scipy_csr(p) for p in pieces]).tocsr()
    whole_held = scipy_csr(held)
    assert (joined != whole_held).nnz == 0 and joined.nnz == whole_held.nnz


def test_als_and_svd_agree_on_the_objective():
    X, mask, _ = _planted(120, 70, rank=4, density=0.25, noise=0.3, seed=3)
    observed = _observed(X, mask)
    values = []
    for method in ("als", "svd"):
        fit = _softimpute.fit(observed, 20, 1.5, method=method, tol=1e-12, max_iter=20000,
                              rng=np.random.default_rng(4))
        values.append(naive.soft_impute_objective(X, mask, _dense(fit), 1.5))
    assert values[0] == pytest.approx(values[1], rel=1e-7)


def test_lambda0_gives_the_zero_solution():
    X, mask, _ = _planted(seed=5)
    observed = _observed(X, mask)
    lam0 = _softimpute.lambda0(observed, np.random.default_rng(0))
    assert lam0 == pytest.approx(np.linalg.svd(np.where(mask, X, 0), compute_uv=False)[0],
                                 rel=1e-6)
    at = _softimpute.fit(observed, 5, lam0 * 1.001, method="als", tol=1e-9, max_iter=200,
                         rng=np.random.default_rng(0))
    below = _softimpute.fit(observed, 5, lam0 * 0.9, method="als", tol=1e-9, max_iter=200,
                            rng=np.random.default_rng(0))
    assert at.rank() == 0 and below.rank() >= 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_plus_low_rank_operator_matches_dense(dtype):
    X, mask, _ = _planted(50, 30, seed=6)
    rng = np.random.default_rng(7)
    U = np.linalg.qr(rng.standard_normal((50, 4)))[0]
    V = np.linalg.qr(rng.standard_normal((30, 4)))[0]
    d = np.array([5.0, 3.0, 1.0, 0.5])
    Z = (U * d) @ V.T
    dense = np.where(mask, X - Z, 0) + Z
    op = SparsePlusLowRankOperator(_observed(X, mask, dtype), U, d, V)
    B, C = rng.standard_normal((30, 3)), rng.standard_normal((50, 3))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(op.matmat(B), dense @ B, atol=tol * np.abs(dense).sum())
    np.testing.assert_allclose(op.rmatmat(C), dense.T @ C, atol=tol * np.abs(dense).sum())
    assert op.squared_residual == pytest.approx(np.sum((X - Z)[mask] ** 2), rel=tol)


def _synthetic_ratings(seed=0, density=0.2):
    rng = np.random.default_rng(seed)
    m, n = 400, 250
    P, Q = rng.standard_normal((m, 4)) * 0.6, rng.standard_normal((n, 4)) * 0.6
    mask = rng.random((m, n)) < density
    users, items = np.nonzero(mask)
    noise = 0.25
    values = (3.5 + 0.3 * rng.standard_normal(m)[users] + 0.4 * rng.standard_normal(n)[items]
              + np.sum(P[users] * Q[items], axis=1) + noise * rng.standard_normal(users.size))
    return Ratings.from_ids(users + 1000, items + 5000, values), noise


def test_planted_structure_is_recovered_near_the_noise_floor():
    # Half the entries observed: ~20 training ratings per free parameter. With
    # 20% observed the nuclear-norm shrinkage costs more (measured 1.37x noise).
    ratings, noise = _synthetic_ratings(density=0.5)
    train, test = ratings.split(0.2, random_state=0)
    model = SoftImpute(rank=20, random_state=0).fit(train)
    predictions = model.predict(test.user_ids[test.users], test.item_ids[test.items])
    assert rmse(test.values, predictions) < 1.15 * noise
    bias_only = SoftImpute(rank=1, lam=1e9, random_state=0).fit(train)
    assert rmse(test.values, bias_only.predict(test.user_ids[test.users],
                                               test.item_ids[test.items])) > 2 * noise
    assert model.converged_ and 0 < model.lam_ < model.lambda0_
    assert set(model.validation_) and model.d_.size <= 20


def test_methods_and_inputs_agree():
    ratings, _ = _synthetic_ratings(1)
    by_ratings = SoftImpute(lam=5.0, method="als", tol=1e-9, random_state=0).fit(ratings)
    by_svd = SoftImpute(lam=5.0, method="svd", tol=1e-9, random_state=0).fit(ratings)
    users, items = ratings.user_ids[ratings.users[:50]], ratings.item_ids[ratings.items[:50]]
    np.testing.assert_allclose(by_ratings.predict(users, items), by_svd.predict(users, items),
                               atol=1e-3)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"user": ratings.user_ids[ratings.users],
                          "item": ratings.item_ids[ratings.items], "rating": ratings.values})
    by_frame = SoftImpute(lam=5.0, tol=1e-9, random_state=0).fit(frame)
    np.testing.assert_allclose(by_frame.predict(users, items), by_ratings.predict(users, items))
    by_matrix = SoftImpute(lam=5.0, tol=1e-9, random_state=0).fit(ratings.csr)
    np.testing.assert_allclose(by_matrix.predict(ratings.users[:50], ratings.items[:50]),
                               by_ratings.predict(users, items))


def test_unknown_users_and_items_fall_back_to_biases():
    ratings, _ = _synthetic_ratings(2)
    model = SoftImpute(lam=5.0, random_state=0, clip=False).fit(ratings)
    user, item = ratings.user_ids[0], ratings.item_ids[0]
    u, i = ratings.user_index(user), ratings.item_index(item)
    out = model.predict([user, -7, user, -7], [item, item, -9, -9])
    assert out[1] == pytest.approx(model.mean_ + model.item_bias_[i])
    assert out[2] == pytest.approx(model.mean_ + model.user_bias_[u])
    assert out[3] == pytest.approx(model.mean_)
    matrix_model = SoftImpute(lam=5.0, random_state=0, clip=False).fit(ratings.csr)
    assert matrix_model.predict([10**6], [0])[0] == pytest.approx(
        matrix_model.mean_ + matrix_model.item_bias_[0])


def test_predictions_are_clipped_to_the_training_range():
    ratings, _ = _synthetic_ratings(3)
    model = SoftImpute(lam=1.0, random_state=0).fit(ratings)
    low, high = ratings.values.min(), ratings.values.max()
    everything = model.predict(np.repeat(ratings.user_ids, 3)[:600],
                               np.tile(ratings.item_ids, 3)[:600])
    assert everything.min() >= low and everything.max() <= high


def test_fold_in_new_users():
    ratings, _noise = _synthetic_ratings(4)
    users = ratings.users
    old = users < 300
    model = SoftImpute(rank=10, random_state=0).fit(ratings.subset(old))
    new = ratings.subset(~old)
    seen, unseen = new.split(0.3, by="user", random_state=0)
    biases, vectors = model.transform(Ratings(seen.users - 300, seen.items, seen.values,
                                              shape=(100, ratings.shape[1]),
                                              item_ids=ratings.item_ids))
    rows = unseen.users - 300
    B = model.V_ * np.sqrt(model.d_)
    predicted = (model.mean_ + biases[rows] + model.item_bias_[unseen.items]
                 + np.sum(vectors[rows] * B[unseen.items], axis=1))
    bias_only = model.mean_ + biases[rows] + model.item_bias_[unseen.items]
    assert rmse(unseen.values, predicted) < 0.8 * rmse(unseen.values, bias_only)


def test_save_and_load_round_trip(tmp_path):
    ratings, _ = _synthetic_ratings(5)
    model = SoftImpute(lam=3.0, random_state=0).fit(ratings)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = SoftImpute.load(path)
    users, items = ratings.user_ids[ratings.users[:20]], ratings.item_ids[ratings.items[:20]]
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match="not a readable SoftImpute model file"):
        SoftImpute.load(truncated)
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.array('{"format": "fastsvd.SoftImpute", "version": 99}'))
    with pytest.raises(ValueError, match="format version 99"):
        SoftImpute.load(other)


def test_path_warm_starts_and_lambda0():
    ratings, _ = _synthetic_ratings(6)
    lam0 = lambda0(ratings, random_state=0)
    models = soft_impute_path(ratings, n_lambdas=5, rank=10, random_state=0)
    assert [m.lam_ for m in models] == sorted((m.lam_ for m in models), reverse=True)
    assert models[0].lam_ == pytest.approx(lam0) and models[0].d_.size == 0
    assert models[-1].d_.size > 0
    assert [m.d_.size for m in models] == sorted(m.d_.size for m in models)


def test_same_seed_same_model_at_any_thread_count():
    ratings, _ = _synthetic_ratings(7)
    one = SoftImpute(random_state=0, n_threads=1).fit(ratings)
    two = SoftImpute(random_state=0, n_threads=2).fit(ratings)
    assert one.U_.tobytes() == two.U_.tobytes() and one.lam_ == two.lam_


def test_bad_input():
    ratings, _ = _synthetic_ratings(8)
    with pytest.raises(ValueError, match=r"rank=300 is out of range; choose 1 <= rank <= 250"):
        SoftImpute(rank=300).fit(ratings)
    with pytest.raises(ValueError, match="lam=-1"):
        SoftImpute(lam=-1).fit(ratings)
    with pytest.raises(ValueError, match="method='nmf'"):
        SoftImpute(method="nmf").fit(ratings)
    with pytest.raises(TypeError, match="ratings must be"):
        SoftImpute().fit([[1, 2, 3]])
    with pytest.raises(ValueError, match="not fitted"):
        SoftImpute().predict([1], [2])
    with pytest.raises(ValueError):
        SoftImpute().fit(Ratings([0, 0], [1, 1], [3.0, 4.0]))  # duplicate pair
    with pytest.raises(ValueError):
        SoftImpute().fit(Ratings([0, 1], [1, 1], [3.0, np.nan]))
    matrix = random_csr(30, 20, 0.3, seed=0)
    before = matrix.data.copy()
    SoftImpute(rank=3, lam=1.0, random_state=0).fit(matrix)
    np.testing.assert_array_equal(matrix.data, before)


def test_movielens_fold_1(shared_data):
    folder = shared_data / "movielens-100k"
    base = load_ratings(folder / "u1.base", format="movielens-100k", cache=False)
    test = load_ratings(folder / "u1.test", format="movielens-100k", cache=False)
    model = SoftImpute(rank=100, random_state=0).fit(base)
    error = rmse(test.values, model.predict(test.user_ids[test.users],
                                            test.item_ids[test.items]))
    assert error < 0.935  # bias-only is 0.955 on this fold


# --------------------------------------------------------------------------- synthetic floor


def test_netflix_ratings_oracle_matches_a_numpy_twin():
    from fastsvd.datasets import _planted_model, make_netflix_ratings, netflix_ratings_oracle

    args = dict(rank=4, n_items=300, random_state=2)
    ratings, info = make_netflix_ratings(0.0005, **args)
    train, test = ratings.split(0.2, random_state=0)
    predicted = netflix_ratings_oracle(train, test, 0.0005, **args)
    model = _planted_model(0.0005, args["rank"], info["signal"], args["n_items"], 2)
    features = np.hstack([np.ones((args["n_items"], 1)), model.item_factors])
    precision = np.diag(info["noise"] ** 2 / np.r_[0.35 ** 2, model.factor_std ** 2])
    expected = np.empty(len(test))
    for k, (u, i) in enumerate(zip(test.users, test.items, strict=True)):
        mine = train.users == u
        F = features[train.items[mine]]
        y = train.values[mine] - 3.6 - model.item_bias[train.items[mine]]
        w = np.linalg.solve(F.T @ F + precision, F.T @ y)
        expected[k] = 3.6 + model.item_bias[i] + features[i] @ w
    np.testing.assert_allclose(predicted, expected, rtol=1e-9)


def test_netflix_ratings_oracle_is_a_floor_for_soft_impute():
    from fastsvd.datasets import make_netflix_ratings, netflix_ratings_oracle

    args = dict(rank=5, n_items=1500, random_state=0)
    ratings, info = make_netflix_ratings(0.004, **args)
    train, test = ratings.split(0.1, random_state=0)
    oracle = rmse(test.values, netflix_ratings_oracle(train, test, 0.004, **args))
    model = SoftImpute(rank=10, random_state=0).fit(train)
    fitted = rmse(test.values, model.predict(test.user_ids[test.users],
                                             test.item_ids[test.items]))
    assert 0.95 * info["noise"] < oracle < fitted
    with pytest.raises(ValueError, match="split of make_netflix_ratings"):
        netflix_ratings_oracle(train, test, 0.005, **args)
