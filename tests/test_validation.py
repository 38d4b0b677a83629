"""Bad input gets a clear error naming the argument; inputs are never modified
and sparse input is never densified."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from conftest import random_csr

import fastsvd

ALL = [
    lambda A, k, **kw: fastsvd.svd(A, k, **kw),
    lambda A, k, **kw: fastsvd.krylov_svd(A, k, **kw),
    lambda A, k, **kw: fastsvd.randomized_svd(A, k, **kw),
    lambda A, k, **kw: fastsvd.deflation_pca(A, k, **kw),
]


@pytest.mark.parametrize("call", ALL)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(call, bad):
    A = np.ones((5, 4))
    A[2, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        call(A, 2)
    S = sp.csr_matrix(np.eye(4))
    S.data[0] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        call(S, 2)


@pytest.mark.parametrize("A", [np.empty((0, 3)), np.empty((3, 0)), sp.csr_matrix((0, 4))])
def test_empty_matrix(A):
    with pytest.raises(ValueError, match="empty"):
        fastsvd.svd(A, 1)


def test_one_dimensional_and_three_dimensional_input():
    with pytest.raises(ValueError, match=r"2-dimensional.*reshape"):
        fastsvd.svd(np.ones(5), 1)
    with pytest.raises(ValueError, match="2-dimensional"):
        fastsvd.svd(np.ones((2, 2, 2)), 1)


def test_one_row_matrix_is_fine_for_k_1_only():
    A = np.array([[3.0, 4.0, 0.0]])
    for method in ["krylov", "randomized", "power", "lapack"]:
        np.testing.assert_allclose(fastsvd.svd(A, 1, method=method, random_state=0).s, [5.0])
    with pytest.raises(ValueError, match=r"k=2 is out of range.*1 <= k <= 1"):
        fastsvd.svd(A, 2)


@pytest.mark.parametrize("k", [0, -1, 6])
def test_k_out_of_range(k):
    with pytest.raises(ValueError, match=f"k={k} is out of range"):
        fastsvd.svd(np.ones((5, 7)), k)


@pytest.mark.parametrize("k", [2.0, "2", None, True])
def test_k_wrong_type(k):
    with pytest.raises(TypeError, match="k must be an integer"):
        fastsvd.svd(np.ones((5, 7)), k)


@pytest.mark.parametrize("A", [np.array([["a", "b"], ["c", "d"]]),
                               np.array([[1 + 1j, 0], [0, 1]]),
                               np.array([[object(), 1], [2, 3]], dtype=object)])
def test_non_numeric_dtypes(A):
    with pytest.raises(TypeError, match=r"numbers|complex|numeric"):
        fastsvd.svd(A, 1)


def test_integer_and_bool_input_become_float64():
    result = fastsvd.svd(np.array([[3, 0], [4, 5]]), 1)
    assert result.s.dtype == np.float64
    np.testing.assert_allclose(result.s, [np.sqrt(45)])
    assert fastsvd.svd(sp.csr_matrix(np.eye(3, dtype=bool)), 1).s.dtype == np.float64


def _compressed(cls, indptr, indices, data, shape):
    """A CSR/CSC matrix with arbitrary (possibly broken) arrays, bypassing scipy's checks."""
    A = cls(shape)
    A.indptr, A.indices, A.data = (np.asarray(indptr), np.asarray(indices, dtype=np.int32),
                                   np.asarray(data, dtype=float))
    return A


@pytest.mark.parametrize("indptr, indices, data, message", [
    ([0, 1, 2], [0, 5], [1.0, 2.0], "column indices lie outside"),
    ([0, 1, 2], [0, -1], [1.0, 2.0], "column indices lie outside"),
    ([0, 3, 2], [0, 1], [1.0, 2.0], "not non-decreasing"),
    ([0, 1, 2, 2], [0, 1], [1.0, 2.0], "expected 3"),
    ([0, 1, 3], [0, 1], [1.0, 2.0], "indptr\\[-1\\]=3"),
    ([0, 1, 2], [0, 1], [1.0], "len\\(data\\)=1"),
    ([1, 1, 2], [0, 1], [1.0, 2.0], "indptr\\[0\\] == 0"),
])
def test_malformed_csr(indptr, indices, data, message):
    with pytest.raises(ValueError, match=message):
        fastsvd.svd(_compressed(sp.csr_matrix, indptr, indices, data, (2, 3)), 1)
    with pytest.raises(ValueError, match=message):
        fastsvd.svd(_compressed(sp.csc_matrix, indptr, indices, data, (3, 2)), 1)


@pytest.mark.parametrize("tol", [0, -1e-3, 1, 2.0])
def test_tol_out_of_range(tol):
    with pytest.raises(ValueError, match=f"tol={tol} is out of range"):
        fastsvd.svd(np.eye(4), 1, method="krylov", tol=tol)


def test_tol_wrong_type():
    with pytest.raises(TypeError, match="tol must be a number"):
        fastsvd.svd(np.eye(4), 1, tol="small")


@pytest.mark.parametrize("name, kwargs", [
    ("n_iter", {"n_iter": -1}), ("n_oversamples", {"n_oversamples": -2}),
])
def test_randomized_counts_out_of_range(name, kwargs):
    with pytest.raises(ValueError, match=f"{name}=-[12] is out of range"):
        fastsvd.randomized_svd(np.eye(6), 2, **kwargs)


def test_iteration_caps_out_of_range():
    with pytest.raises(ValueError, match="max_iter=0 is out of range"):
        fastsvd.svd(np.eye(600), 1, method="krylov", max_iter=0)
    with pytest.raises(TypeError, match="n_iter must be an integer"):
        fastsvd.randomized_svd(np.eye(6), 2, n_iter=2.5)
    with pytest.raises(ValueError, match="block_size=0"):
        fastsvd.krylov_svd(np.eye(6), 2, block_size=0)


def test_bad_choices():
    with pytest.raises(ValueError, match="method='fast' is not supported; choose one of"):
        fastsvd.svd(np.eye(3), 1, method="fast")
    with pytest.raises(ValueError, match="power_iteration_normalizer='qr'"):
        fastsvd.randomized_svd(np.eye(3), 1, power_iteration_normalizer="qr")


def test_bad_random_state_and_threads():
    with pytest.raises(TypeError, match="random_state"):
        fastsvd.svd(np.eye(3), 1, random_state="seed")
    with pytest.raises(ValueError, match=r"n_threads=.* is out of range; choose 1 <= n_threads"):
        fastsvd.svd(np.eye(600), 1, method="krylov", n_threads=0)
    with pytest.raises(ValueError, match=r"n_threads=.* is out of range; choose 1 <= n_threads"):
        fastsvd.svd(np.eye(600), 1, method="krylov", n_threads=10_000)


def test_lapack_refuses_sparse_input():
    with pytest.raises(ValueError, match="method='lapack' needs a dense array"):
        fastsvd.svd(sp.eye(5, format="csr"), 2, method="lapack")
    with pytest.raises(ValueError, match="method='lapack' needs a dense array"):
        fastsvd.svd(spla.aslinearoperator(np.eye(5)), 2, method="lapack")


def test_other_sparse_formats_convert_with_a_warning():
    A = random_csr(30, 20, 0.2, seed=0).tolil()
    with pytest.warns(sp.SparseEfficiencyWarning, match="LIL format; converting it to CSR"):
        result = fastsvd.svd(A, 2, random_state=0)
    np.testing.assert_allclose(result.s, np.linalg.svd(A.toarray(), compute_uv=False)[:2],
                               rtol=1e-6)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_inputs_are_never_modified(fmt):
    A = random_csr(60, 40, 0.2, seed=1, dtype=np.float32).asformat(fmt)
    # an unsorted CSR must stay unsorted: fastsvd must not call sort_indices()
    if fmt == "csr":
        A.indices[A.indptr[0]:A.indptr[1]] = A.indices[A.indptr[0]:A.indptr[1]][::-1]
    arrays = (lambda: (A.data, A.row, A.col)) if fmt == "coo" else (
        lambda: (A.data, A.indices, A.indptr))
    before = [a.copy() for a in arrays()]
    dense = A.toarray()
    for method in ["krylov", "randomized", "power"]:
        fastsvd.svd(A, 3, method=method, random_state=0)
    fastsvd.deflation_pca(A, 2, random_state=0)
    for b, a in zip(before, arrays(), strict=False):
        np.testing.assert_array_equal(b, a)
    D = dense.copy()
    fastsvd.svd(D, 3, method="lapack")
    fastsvd.deflation_pca(D, 2, random_state=0)
    np.testing.assert_array_equal(D, dense)


def test_sparse_input_is_never_densified(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("sparse input was densified")

    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
        monkeypatch.setattr(cls, "__array__", refuse, raising=False)
    A = random_csr(80, 50, 0.1, seed=2)
    for method in ["krylov", "randomized", "power"]:
        fastsvd.svd(A, 3, method=method, random_state=0)
        fastsvd.svd(sp.csc_matrix(A), 3, method=method, random_state=0)
    fastsvd.deflation_pca(A, 2, random_state=0)
    fastsvd.svd(sp.csr_array(A), 2, random_state=0)
