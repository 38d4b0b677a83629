"""Same seed, same bits: at 1 and 2 threads, and across calls."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_csr

import fastsvd
from fastsvd._numba import max_threads
from fastsvd.datasets import make_netflix_like

needs_two = pytest.mark.skipif(max_threads() < 2, reason="needs 2 numba threads")


def _bits(result):
    return b"".join(a.tobytes() for a in (result.U, result.s, result.Vt))


@needs_two
@pytest.mark.parametrize("method", ["krylov", "randomized", "power"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_results_identical_at_one_and_two_threads(method, dtype):
    A = random_csr(2000, 300, 0.02, seed=0, dtype=dtype)
    one = fastsvd.svd(A, 5, method=method, tol=1e-6, random_state=42, n_threads=1)
    two = fastsvd.svd(A, 5, method=method, tol=1e-6, random_state=42, n_threads=2)
    assert _bits(one) == _bits(two)


@needs_two
def test_dense_and_pca_identical_at_one_and_two_threads():
    A = np.random.default_rng(0).standard_normal((800, 600))
    runs = [fastsvd.svd(A, 5, method="krylov", random_state=3, n_threads=t) for t in (1, 2)]
    assert _bits(runs[0]) == _bits(runs[1])
    X = sp.csr_matrix(random_csr(500, 80, 0.1, seed=2))
    pca = [fastsvd.deflation_pca(X, 3, tol=1e-3, random_state=1, n_threads=t) for t in (1, 2)]
    assert _bits(pca[0]) == _bits(pca[1])


def test_same_seed_same_bits_different_seed_different_start():
    A = random_csr(500, 200, 0.05, seed=1)
    a = fastsvd.randomized_svd(A, 4, n_iter=1, random_state=7)
    b = fastsvd.randomized_svd(A, 4, n_iter=1, random_state=7)
    c = fastsvd.randomized_svd(A, 4, n_iter=1, random_state=8)
    assert _bits(a) == _bits(b)
    assert _bits(a) != _bits(c)


def test_generator_state_is_consumed_like_numpy():
    A = random_csr(300, 100, 0.1, seed=1)
    rng = np.random.default_rng(5)
    first = fastsvd.randomized_svd(A, 3, n_iter=0, random_state=rng)
    second = fastsvd.randomized_svd(A, 3, n_iter=0, random_state=rng)
    assert _bits(first) != _bits(second)


@needs_two
def test_netflix_generator_identical_at_one_and_two_threads():
    import numba

    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = make_netflix_like(0.001, random_state=3)
        numba.set_num_threads(2)
        two = make_netflix_like(0.001, random_state=3)
    finally:
        numba.set_num_threads(previous)
    for attr in ("indptr", "indices", "data"):
        assert getattr(one, attr).tobytes() == getattr(two, attr).tobytes()
    assert make_netflix_like(0.001, random_state=4).indices.tobytes() != one.indices.tobytes()
