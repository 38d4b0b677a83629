"""Property tests of the SVD facade ``fastsvd.svd`` (hypothesis).

Random small matrices (1..60 x 1..60; float32, float64 and integer dtypes;
dense, or scipy CSR/CSC/COO with empty rows and columns, all-zero ones
included), every rank ``k`` and every method, checked against
``numpy.linalg.svd``: the singular values within a per-dtype tolerance,
orthonormal ``U`` and ``Vt``, an error estimate for each value, and the
documented errors for invalid ``k`` and ``tol``.

Found by these tests: a singular value that is zero in exact arithmetic (a rank-deficient
matrix with ``k`` above its rank) can come back with ``converged=True`` and a
relative error estimate far above ``tol`` (``errors`` of 6.4 for a 2 x 4 rank-1
CSR with k=2, 1.6e4 for a 49 x 59 one with k=39, method "krylov"): the
stopping rule accepts it because its residual is at the rounding level, but
``errors`` reports the ratio of two rounding errors. The values themselves
are right (within rounding of 0).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastsvd

DTYPES = [np.float32, np.float64, np.int64, np.int32]
LAYOUTS = ["dense", "csr", "csc", "coo"]
# Accuracy of the singular values relative to the largest one (the methods
# stop at tol=1e-4 for float32 and 1e-6 for float64, relative to each value;
# iterative values may also sit within tol of a neighbour of a close pair).
VALUE_TOL = {np.float32: 2e-3, np.float64: 1e-5}
ORTHO_TOL = {np.float32: 1e-3, np.float64: 1e-8}
SETTINGS = settings(max_examples=1000, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def matrices(draw):
    """``(A, dense float64 copy)`` of a random shape, dtype, density and layout."""
    m = draw(st.integers(1, 60))
    n = draw(st.integers(1, 60))
    dtype = draw(st.sampled_from(DTYPES))
    layout = draw(st.sampled_from(LAYOUTS))
    density = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    mask = rng.random((m, n)) < density
    if draw(st.booleans()):  # empty rows and columns
        mask[rng.random(m) < 0.3] = False
        mask[:, rng.random(n) < 0.3] = False
    if np.dtype(dtype).kind == "i":
        values = rng.integers(-5, 6, (m, n))
    else:
        values = rng.standard_normal((m, n)) * 10.0 ** draw(st.integers(-3, 3))
    dense = np.where(mask, values, 0).astype(dtype)
    if layout == "dense":
        return dense, dense.astype(np.float64)
    matrix = {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix}[layout](dense)
    return matrix, dense.astype(np.float64)


def run(A, k, method):
    """``fastsvd.svd`` with the warnings it may give recorded."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fastsvd.svd(A, k, method=method, random_state=0)
    unexpected = [w for w in caught if not issubclass(
        w.category, (fastsvd.ConvergenceWarning, sp.SparseEfficiencyWarning))]
    assert not unexpected, [str(w.message) for w in unexpected]
    converged = not any(issubclass(w.category, fastsvd.ConvergenceWarning) for w in caught)
    return result, converged


@SETTINGS
@given(data=st.data(), case=matrices())
def test_svd_matches_numpy(data, case):
    A, reference = case
    m, n = reference.shape
    k = data.draw(st.integers(1, min(m, n)), label="k")
    methods = ["auto", "krylov", "randomized"]
    if not sp.issparse(A):
        methods.append("lapack")
    if k <= 3:
        methods.append("power")
    method = data.draw(st.sampled_from(methods), label="method")
    work = np.float32 if np.dtype(A.dtype) == np.float32 else np.float64

    result, converged = run(A, k, method)
    U, s, Vt = result
    assert U.shape == (m, k) and s.shape == (k,) and Vt.shape == (k, n)
    assert U.dtype == s.dtype == Vt.dtype == work
    for array in (U, s, Vt, result.errors, result.residuals):
        assert np.isfinite(array).all()
    assert result.errors.shape == (k,) and (result.errors >= 0).all()
    assert result.converged == converged
    assert np.all(np.diff(s) <= 0) and (s >= 0).all()

    expected = np.linalg.svd(reference, compute_uv=False)[:k]
    scale = max(float(expected[0]), np.finfo(work).tiny)
    if converged:
        np.testing.assert_allclose(s, expected, rtol=0, atol=VALUE_TOL[work] * scale)
        # Converged: every value meets tol relatively, or absolutely the
        # rounding level of the products (the stopping rule's 1000 eps s_max,
        # with a margin: the final estimate comes after one more pass). Tiny
        # and zero values pass by the second rule; their relative estimate
        # can then be far above tol (see the module notes).
        tol = fastsvd._checks.default_tol(work)
        rounding = 1e4 * np.finfo(work).eps * scale
        absolute = result.errors * s.astype(np.float64)
        assert np.all((result.errors <= tol) | (absolute <= rounding)), (result.errors, s)
    ortho = ORTHO_TOL[work]
    np.testing.assert_allclose(U.T.astype(np.float64) @ U, np.eye(k), atol=ortho)
    np.testing.assert_allclose(Vt.astype(np.float64) @ Vt.T, np.eye(k), atol=ortho)
    if converged:  # the triplets reconstruct A's action on Vt's rows
        residual = reference @ Vt.T.astype(np.float64) - U * s.astype(np.float64)
        assert np.abs(residual).max() <= 50 * VALUE_TOL[work] * scale + 1e-12


@SETTINGS
@given(case=matrices(), method=st.sampled_from(["auto", "krylov", "randomized", "power"]))
def test_top_singular_value_of_any_matrix(case, method):
    """k=1 on every kind of input: no crash, the largest singular value."""
    A, reference = case
    result, converged = run(A, 1, method)
    expected = np.linalg.norm(reference, 2)
    work = np.float32 if np.dtype(A.dtype) == np.float32 else np.float64
    if converged:
        assert abs(float(result.s[0]) - expected) <= VALUE_TOL[work] * max(expected, 1e-300)


BAD_K_VALUE = st.one_of(st.integers(-5, 0), st.integers(61, 10**6), st.just(-(10**20)))
BAD_K_TYPE = st.one_of(st.floats(allow_nan=True), st.text(max_size=3), st.none(),
                       st.booleans(), st.just([1]), st.just(np.float64(2.0)))
BAD_TOL_VALUE = st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0),
                          st.just(float("nan")), st.just(float("inf")))
BAD_TOL_TYPE = st.one_of(st.text(max_size=4), st.booleans(), st.just([1e-3]),
                         st.just(1j), st.just(object()))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(k=st.one_of(BAD_K_VALUE, BAD_K_TYPE), shape=st.tuples(st.integers(1, 8),
                                                            st.integers(1, 8)),
       method=st.sampled_from(["auto", "krylov", "randomized", "power", "lapack"]),
       sparse=st.booleans())
def test_invalid_k_is_a_value_or_type_error(k, shape, method, sparse):
    A = np.ones(shape)
    if sparse:
        A = sp.csr_matrix(A)
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 1 <= k <= min(shape):
        return  # drawn valid by chance
    expected = (ValueError if isinstance(k, (int, np.integer)) and not isinstance(k, bool)
                else TypeError)
    with pytest.raises(expected):
        fastsvd.svd(A, k, method=method)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(tol=st.one_of(BAD_TOL_VALUE, BAD_TOL_TYPE),
       method=st.sampled_from(["auto", "krylov", "randomized", "power", "lapack"]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_invalid_tol_is_a_value_or_type_error(tol, method, dtype):
    A = np.arange(12, dtype=dtype).reshape(4, 3)
    is_number = isinstance(tol, (int, float)) and not isinstance(tol, bool)
    with pytest.raises(ValueError if is_number else TypeError):
        fastsvd.svd(A, 2, method=method, tol=tol)


# method="power" with k above the rank: once the deflated matrix is zero to
# rounding, the remaining values are zero (the smallest cases found; power
# deflation used to turn NaN there).
POWER_ABOVE_RANK = [
    pytest.param([[0, 0, 0, 0, 0], [0, 0, 5, -4, 0]], 2, id="2x5-rank1-k2-nan-warning"),
    pytest.param(np.eye(3, 59) * [[3], [0], [0]] + np.eye(3, 59, 40) * [[-4], [0], [0]], 3,
                 id="3x59-rank1-k3-eigh-fails"),
]


@pytest.mark.parametrize(("A", "k"), POWER_ABOVE_RANK)
def test_power_with_k_above_the_rank(A, k):
    A = np.asarray(A, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the NaN shows as a RuntimeWarning first
        result = fastsvd.svd(A, k, method="power", random_state=0)
    np.testing.assert_allclose(result.s, np.linalg.svd(A, compute_uv=False)[:k], atol=1e-12)
    assert result.converged
