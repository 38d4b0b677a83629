"""Every algorithm against references: LAPACK on planted spectra, scipy svds on
sparse matrices; orthonormality, Eckart-Young, error estimates, dtypes."""

import warnings

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import RTOL, random_csr
from scipy.sparse.linalg import svds

import fastsvd
from fastsvd.datasets import make_netflix_like, planted_spectrum

ITERATIVE = ["krylov", "randomized", "power"]
METHODS = [*ITERATIVE, "lapack"]


def _planted(m, n, seed, dtype=np.float64, decay=0.8, rank=60):
    s = decay ** np.arange(min(rank, m, n))
    return planted_spectrum(m, n, s, random_state=seed, dtype=dtype)


def _subspace_gap(P, Q):
    """Sine of the largest principal angle between the column spaces of P and Q."""
    P, Q = np.linalg.qr(P.astype(np.float64))[0], np.linalg.qr(Q.astype(np.float64))[0]
    return np.linalg.norm(Q - P @ (P.T @ Q), 2)


def _assert_orthonormal(U, Vt, dtype):
    k = U.shape[1]
    atol = 50 * np.finfo(dtype).eps * max(U.shape)
    np.testing.assert_allclose(U.T.astype(np.float64) @ U, np.eye(k), atol=atol)
    np.testing.assert_allclose(Vt.astype(np.float64) @ Vt.T, np.eye(k), atol=atol)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_spectrum_matches_lapack(method, dtype, seed):
    A, U_true, s_true, Vt_true = _planted(120, 90, seed, dtype)
    k = 8
    result = fastsvd.svd(A, k, method=method, random_state=seed)
    U, s, Vt = result
    assert U.dtype == s.dtype == Vt.dtype == dtype
    assert U.shape == (120, k) and s.shape == (k,) and Vt.shape == (k, 90)
    np.testing.assert_allclose(s, s_true[:k], rtol=10 * RTOL[dtype])
    assert np.all(np.diff(s) <= 0)
    _assert_orthonormal(U, Vt, dtype)
    assert _subspace_gap(U, U_true[:, :k]) < 100 * RTOL[dtype] ** 0.5
    assert _subspace_gap(Vt.T, Vt_true[:k].T) < 100 * RTOL[dtype] ** 0.5


@pytest.mark.parametrize("method", ["krylov", "randomized"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_matches_svds(method, dtype):
    A = random_csr(400, 250, 0.05, seed=3, dtype=dtype)
    k = 6
    s_ref = svds(A.astype(np.float64), k=k, tol=0, random_state=0)[1][::-1]
    result = fastsvd.svd(A, k, method=method, random_state=0)
    np.testing.assert_allclose(result.s, s_ref, rtol=10 * fastsvd._checks.default_tol(dtype))
    _assert_orthonormal(result.U, result.Vt, dtype)


def test_netflix_like_matches_svds_with_float32_data():
    A = make_netflix_like(0.002, n_items=600)
    k = 10
    s_ref = svds(A.astype(np.float64), k=k, tol=0, random_state=0)[1][::-1]
    result = fastsvd.svd(A, k, tol=1e-5, random_state=0)
    assert result.s.dtype == np.float32
    assert np.max(np.abs(result.s - s_ref) / s_ref) < 1e-5


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(70, 50), (50, 70)])
def test_eckart_young(method, shape):
    rng = np.random.default_rng(7)
    A = rng.standard_normal(shape) * (0.9 ** np.arange(shape[1]))
    k = 5
    s_all = np.linalg.svd(A, compute_uv=False)
    optimal = np.sqrt(np.sum(s_all[k:] ** 2))
    U, s, Vt = fastsvd.svd(A, k, method=method, tol=1e-10, random_state=0)
    error = np.linalg.norm(A - (U * s) @ Vt)
    assert error >= optimal * (1 - 1e-12)
    assert error <= optimal * (1 + 1e-6)


@pytest.mark.parametrize("method", ["krylov", "randomized"])
@pytest.mark.parametrize("tol", [1e-3, 1e-6, 1e-9])
def test_converged_error_estimate_bounds_true_error(method, tol):
    """On a flat tail (where residual bounds are hardest), the estimate must
    not be optimistic and the result must meet ``tol``."""
    A = make_netflix_like(0.004, n_items=900).astype(np.float64)
    k = 12
    s_ref = svds(A, k=k, tol=0, random_state=0)[1][::-1]
    result = fastsvd.svd(A, k, method=method, tol=tol, max_iter=500, random_state=1)
    true = np.abs(result.s - s_ref) / s_ref
    assert result.converged
    assert np.max(true) <= tol
    assert np.all(true <= result.errors + 1e-13)


def test_wide_and_tall_agree():
    A = random_csr(60, 200, 0.1, seed=9)
    k = 4
    tall = fastsvd.svd(A.T.tocsr(), k, random_state=0)
    wide = fastsvd.svd(A, k, random_state=0)
    np.testing.assert_allclose(tall.s, wide.s, rtol=1e-8)
    assert wide.U.shape == (60, k) and wide.Vt.shape == (k, 200)
    np.testing.assert_allclose(np.abs(wide.U.T @ tall.Vt.T), np.eye(k), atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_full_rank_and_rank_one_requests(method):
    A, _, s_true, _ = _planted(30, 12, 5, rank=12)
    assert fastsvd.svd(A, 12, method=method, tol=1e-10, random_state=0).s.shape == (12,)
    np.testing.assert_allclose(fastsvd.svd(A, 1, method=method, random_state=0).s, s_true[:1],
                               rtol=1e-6)


@pytest.mark.parametrize("method", ["krylov", "randomized", "lapack"])
def test_rank_deficient_matrix(method):
    A, _, s_true, _ = planted_spectrum(40, 30, [3.0, 2.0, 1.0], random_state=0)
    U, s, Vt = fastsvd.svd(A, 5, method=method, random_state=0)
    np.testing.assert_allclose(s[:3], s_true, rtol=1e-8)
    np.testing.assert_allclose(s[3:], 0, atol=1e-8)
    _assert_orthonormal(U, Vt, np.float64)


def test_zero_matrix():
    U, s, Vt = fastsvd.svd(sp.csr_matrix((20, 10)), 3, random_state=0)
    np.testing.assert_array_equal(s, 0)
    assert np.all(np.isfinite(U)) and np.all(np.isfinite(Vt))


def test_sign_convention_is_shared_by_all_methods():
    A, *_ = _planted(60, 40, 3)
    results = [fastsvd.svd(A, 4, method=m, tol=1e-10, random_state=0) for m in METHODS]
    for r in results:
        rows = np.arange(4)
        assert np.all(r.Vt[rows, np.abs(r.Vt).argmax(axis=1)] > 0)
        np.testing.assert_allclose(r.Vt, results[-1].Vt, atol=1e-6)
        np.testing.assert_allclose(r.U, results[-1].U, atol=1e-6)


def test_result_unpacks_and_reports():
    A, *_ = _planted(50, 40, 0)
    result = fastsvd.svd(A, 3, method="krylov", random_state=0)
    _U, s, _Vt = result
    assert result[1] is s and len(result) == 3
    assert result.method == "krylov" and result.converged
    assert result.n_passes == 2 * result.n_iter + 1
    assert result.errors.shape == (3,) and result.error == result.errors.max()
    assert "krylov" in repr(result)


def test_iteration_cap_warns_and_reports_not_converged():
    A = make_netflix_like(0.004, n_items=900)
    with pytest.warns(fastsvd.ConvergenceWarning, match="max_iter"):
        result = fastsvd.svd(A, 10, method="krylov", tol=1e-12, max_iter=2, random_state=0)
    assert not result.converged and result.n_iter == 2


def test_randomized_svd_follows_n_iter_and_normalizers():
    A, _, s_true, _ = _planted(200, 150, 1)
    for normalizer in ["auto", "QR", "LU", "none"]:
        result = fastsvd.randomized_svd(A, 5, n_iter=6, power_iteration_normalizer=normalizer,
                                        random_state=0)
        assert result.n_iter == 6 and result.n_passes == 14
        np.testing.assert_allclose(result.s, s_true[:5], rtol=1e-6)
    early = fastsvd.randomized_svd(A, 5, n_iter=50, tol=1e-3, random_state=0)
    assert early.n_iter < 50 and early.converged and early.error <= 1e-3


def test_randomized_range_finder_captures_the_range():
    A, _U_true, s_true, _ = _planted(300, 200, 2, decay=0.5)
    Q = fastsvd.randomized_range_finder(A, 15, n_iter=2, random_state=0)
    assert Q.shape == (300, 15)
    np.testing.assert_allclose(Q.T @ Q, np.eye(15), atol=1e-12)
    residual = np.linalg.norm(A - Q @ (Q.T @ A), 2)
    assert residual <= 10 * s_true[15]


def test_power_iteration_reports_iterations_and_residual():
    A, _U_true, s_true, Vt_true = _planted(80, 60, 4, decay=0.7)
    result = fastsvd.power_iteration(A, tol=1e-9, random_state=0)
    assert result.s.shape == (1,)
    np.testing.assert_allclose(result.s[0], s_true[0], rtol=1e-12)
    assert result.residuals[0] <= 1e-9 and result.converged
    # Convergence is geometric with ratio (s2/s1)^2 = 0.49: about 30 iterations.
    assert 10 < result.n_iter < 60
    np.testing.assert_allclose(np.abs(result.Vt[0] @ Vt_true[0]), 1, atol=1e-9)


def test_power_iteration_stops_at_cap():
    A, *_ = _planted(80, 60, 4, decay=0.999)
    with pytest.warns(fastsvd.ConvergenceWarning):
        result = fastsvd.power_iteration(A, tol=1e-12, max_iter=5, random_state=0)
    assert result.n_iter == 5 and not result.converged


@pytest.mark.parametrize("sparse", [False, True])
def test_deflation_pca_matches_centred_lapack(sparse):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 40)) * (0.85 ** np.arange(40)) + 3.0
    X[rng.random(X.shape) < 0.5] = 0
    Xc = X - X.mean(axis=0)
    _, s_ref, Vt_ref = naive.truncated_svd(Xc, 4)
    result = fastsvd.deflation_pca(sp.csr_matrix(X) if sparse else X, 4, tol=1e-10,
                                   random_state=0)
    np.testing.assert_allclose(result.s, s_ref, rtol=1e-7)
    np.testing.assert_allclose(np.abs(np.sum(result.Vt * Vt_ref, axis=1)), 1, atol=1e-7)
    uncentred = fastsvd.deflation_pca(X, 2, center=False, tol=1e-10, random_state=0)
    np.testing.assert_allclose(uncentred.s, np.linalg.svd(X, compute_uv=False)[:2], rtol=1e-7)


def test_methods_accept_linear_operators():
    A, _, s_true, _ = _planted(90, 70, 6)
    lo = sp.linalg.aslinearoperator(A)
    for method in ITERATIVE:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_allclose(fastsvd.svd(lo, 3, method=method, random_state=0).s,
                                       s_true[:3], rtol=1e-6)


def test_auto_method_choice():
    small = np.random.default_rng(0).standard_normal((60, 50))
    assert fastsvd.svd(small, 3).method == "lapack"
    assert fastsvd.svd(sp.random(600, 600, 0.01, format="csr", random_state=0), 3).method \
        == "krylov"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cholesky_fails", [False, True])
def test_svd_of_tall_overwrite_gives_the_same_factors(dtype, cholesky_fails, monkeypatch):
    """``svd_of_tall(Y, overwrite=True)`` takes Y's memory for U (well
    conditioned Y) and returns the factors of the copy-making call, also on
    the Householder fallback (ill-conditioned Y and a failing Cholesky), which
    rebuilds Y from U first."""
    from fastsvd.algorithms import tall as _linalg

    if cholesky_fails:
        monkeypatch.setattr(_linalg, "_cholesky_factor", lambda G: None)
    decay = 0.3 if cholesky_fails else 0.9
    Y = _planted(3000, 12, seed=3, dtype=dtype, decay=decay)[0][:, :12].copy()
    expected = _linalg.svd_of_tall(Y.copy())
    got = _linalg.svd_of_tall(Y, overwrite=True)
    assert np.shares_memory(got[0], Y) != cholesky_fails
    rtol = RTOL[dtype]
    np.testing.assert_allclose(got[1], expected[1], rtol=rtol)
    np.testing.assert_allclose(got[0] * got[1], expected[0] * expected[1],
                               atol=rtol * expected[1][0])


@pytest.mark.parametrize("view_alive", [False, True])
def test_krylov_basis_growth_keeps_its_columns(view_alive):
    """The basis grows in place (``ndarray.resize``) or, while a view of it
    is alive, by copying; either way V, A^T A V and T keep what was added."""
    from fastsvd.algorithms import krylov as _krylov

    rng = np.random.default_rng(0)
    n, b = 60, 4
    basis = _krylov._Basis(n, capacity=40, initial=b)
    G = rng.standard_normal((n, n))
    G = G @ G.T
    V = np.linalg.qr(rng.standard_normal((n, 20)))[0]
    views = []
    for start in range(0, 20, b):
        X = V[:, start:start + b].copy()
        basis.append(X, G @ X)
        if view_alive:
            views.append(basis.V)
    assert basis._V.shape[1] >= 20
    np.testing.assert_array_equal(basis.V, V)
    np.testing.assert_allclose(basis.GV, G @ V, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(basis.T, V.T @ G @ V, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_krylov_basis_stays_orthonormal(dtype, monkeypatch):
    """Blocks keep one Gram-Schmidt pass only while their measured overlap
    with the basis is tiny; over many iterations (a slowly decaying spectrum,
    narrow blocks, thick restarts) the basis stays orthonormal to 1e-12."""
    from fastsvd.algorithms import krylov as _krylov
    from fastsvd.operators import DenseOperator

    worst = []
    append = _krylov._Basis.append

    def checked_append(self, X, GX):
        result = append(self, X, GX)
        worst.append(np.abs(self.V.T @ self.V - np.eye(self.used)).max())
        return result

    monkeypatch.setattr(_krylov._Basis, "append", checked_append)
    s = 1 / (1 + 0.01 * np.arange(400))
    A = planted_spectrum(600, 400, s, random_state=1, dtype=dtype)[0]
    solution = _krylov.block_krylov(DenseOperator(A), 10, block_size=4, tol=1e-15, max_iter=60,
                                    max_basis=80, rng=np.random.default_rng(0))
    assert solution.n_iter >= 20
    assert max(worst) < 1e-12
