"""Every operator against the dense matrix it stands for."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from conftest import random_csr

import fastsvd
from fastsvd import as_operator


def _dense_pairs(dtype):
    A = random_csr(23, 17, 0.3, seed=4, dtype=dtype)
    D = A.toarray()
    mean = D.mean(axis=0)
    U, s, Vt = np.linalg.svd(D, full_matrices=False)
    yield "dense", as_operator(D), D
    yield "csr", as_operator(A), D
    yield "csc", as_operator(A.tocsc()), D
    yield "coo", as_operator(A.tocoo()), D
    yield "transposed", as_operator(A.T.tocsr()).T, D
    yield "linear operator", as_operator(spla.aslinearoperator(A)), D
    yield "centered", fastsvd.CenteredOperator(as_operator(A), mean), D - mean
    yield "deflated", fastsvd.DeflatedOperator(as_operator(A), U[:, :3], s[:3], Vt[:3]), (
        D - (U[:, :3] * s[:3]) @ Vt[:3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_operators_match_dense(dtype):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((17, 4)), rng.standard_normal((23, 4))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for name, op, D in _dense_pairs(dtype):
        assert op.shape == D.shape, name
        assert op.dtype == dtype, name
        out, rout = op.matmat(X), op.rmatmat(Y)
        assert out.dtype == dtype and rout.dtype == dtype, name
        scale = np.abs(D).sum()
        np.testing.assert_allclose(out, D @ X, rtol=rtol, atol=rtol * scale, err_msg=name)
        np.testing.assert_allclose(rout, D.T @ Y, rtol=rtol, atol=rtol * scale, err_msg=name)


def test_transpose_of_transpose_is_the_operator():
    op = as_operator(np.ones((3, 2)))
    assert op.T.T is op
    assert op.T.shape == (2, 3)


def test_operators_do_not_modify_inputs():
    A = random_csr(30, 20, 0.3, seed=1)
    copies = A.indptr.copy(), A.indices.copy(), A.data.copy()
    op = fastsvd.CenteredOperator(as_operator(A), np.ones(20))
    X = np.ones((20, 2))
    X_copy = X.copy()
    op.matmat(X)
    op.rmatmat(np.ones((30, 2)))
    for before, after in zip(copies, (A.indptr, A.indices, A.data), strict=False):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(X, X_copy)


def test_csr_operator_uses_the_arrays_in_place():
    A = random_csr(30, 20, 0.3, seed=1, dtype=np.float32)
    op = as_operator(A)
    assert np.shares_memory(op.data, A.data)
    assert np.shares_memory(op.indices, A.indices)


@pytest.mark.parametrize("k", [3, 30, 40, 60])
def test_csr_with_strided_arrays_gives_the_contiguous_products(k):
    """scipy keeps strided ``data``/``indices`` views; the operator copies
    them (the tiled kernels read rows as contiguous runs) and its products
    equal those of the contiguous matrix, generic and tiled widths alike."""
    A = random_csr(200, 90, 0.3, seed=2, dtype=np.float32)
    strided = sp.csr_matrix((np.repeat(A.data, 2)[::2], np.repeat(A.indices, 2)[::2], A.indptr),
                            shape=A.shape)
    assert not strided.data.flags.c_contiguous
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, k)).astype(np.float32)
    Y = rng.standard_normal((200, k)).astype(np.float32)
    plain, copied = as_operator(A), as_operator(strided)
    np.testing.assert_array_equal(copied.matmat(X), plain.matmat(X))
    np.testing.assert_array_equal(copied.rmatmat(Y), plain.rmatmat(Y))


@pytest.mark.parametrize("view_alive", [False, True])
def test_final_matmat_takes_the_tall_buffer(view_alive):
    """``final_matmat`` equals ``matmat``; on a CSR operator it writes into
    the tall buffer ``normal_matmat`` kept (grown to fit), or into new memory
    while a view of that buffer is alive, and releases the scratch."""
    A = random_csr(300, 90, 0.3, seed=2, dtype=np.float32)
    rng = np.random.default_rng(0)
    X, V = (rng.standard_normal((90, k)).astype(np.float32) for k in (32, 50))
    W = rng.standard_normal((17, 4))
    for name, op, D in _dense_pairs(np.float64):
        np.testing.assert_allclose(op.final_matmat(W), D @ W, rtol=1e-10, atol=1e-10,
                                   err_msg=name)
    op = as_operator(A)
    np.testing.assert_allclose(op.normal_matmat(X), A.T @ (A @ X), rtol=1e-5, atol=1e-3)
    view = op._local.tall[:8] if view_alive else None
    out = op.final_matmat(V)
    np.testing.assert_array_equal(out, op.matmat(V))
    in_buffer = out.base is not None and out.base.dtype == np.uint8
    assert in_buffer != view_alive
    assert op._local.tall is None and op._local.partial is None
    del view


def test_operator_repr():
    assert "8x5 float32" in repr(as_operator(sp.random(8, 5, 0.5, format="csr",
                                                       dtype=np.float32)))
