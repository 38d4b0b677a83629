"""Same seed, same bits: at 1 and 2 threads, and across calls."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_csr

import fastsvd
from fastsvd._threads import max_threads
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


def test_row_slabs_cover_the_rows_in_equal_shares():
    """Slabs tile the rows in order, none longer than ``_ROW_SLAB``, in a
    multiple of four of equal size (to a row) once there is more than one."""
    from fastsvd.algorithms import tall as _linalg

    for m in (0, 1, 100, _linalg._ROW_SLAB, _linalg._ROW_SLAB + 1, 17_770, 480_189):
        slabs = _linalg.row_slabs(m)
        assert slabs[0].start == 0 and slabs[-1].stop == m
        assert all(a.stop == b.start for a, b in itertools.pairwise(slabs))
        sizes = [s.stop - s.start for s in slabs]
        assert max(sizes) <= _linalg._ROW_SLAB
        if len(slabs) > 1:
            assert len(slabs) % _linalg._SLAB_MULTIPLE == 0 and max(sizes) - min(sizes) <= 1


@needs_two
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tall_dense_products_identical_at_one_and_two_threads(dtype):
    """``Y @ M``, ``Y.T @ Y`` and ``Y.T @ Z`` over row slabs on several
    threads: the same bits as on one, and the plain products to rounding."""
    from fastsvd._threads import thread_limits
    from fastsvd.algorithms import tall as _linalg

    rng = np.random.default_rng(0)
    m = 2 * _linalg._ROW_SLAB + 123  # four slabs of equal size
    Y, Z = (rng.standard_normal((m, 7)).astype(dtype) for _ in range(2))
    M = rng.standard_normal((7, 5))
    runs = []
    for n_threads in (1, 2):
        with thread_limits(n_threads):
            runs.append((_linalg.times_small(Y, M), _linalg.gram(Y), _linalg.inner(Y, Z)))
    for one, two in zip(*runs, strict=True):
        assert one.tobytes() == two.tobytes()
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    Y64, Z64 = Y.astype(np.float64), Z.astype(np.float64)
    expected = (Y64 @ M.astype(dtype).astype(np.float64), Y64.T @ Y64, Y64.T @ Z64)
    for got, want in zip(runs[1], expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.sqrt(m))
    assert runs[1][0].dtype == dtype and runs[1][1].dtype == np.float64


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
    from fastsvd._threads import thread_limits

    with thread_limits(1):
        one = make_netflix_like(0.001, random_state=3)
    with thread_limits(2):
        two = make_netflix_like(0.001, random_state=3)
    for attr in ("indptr", "indices", "data"):
        assert getattr(one, attr).tobytes() == getattr(two, attr).tobytes()
    assert make_netflix_like(0.001, random_state=4).indices.tobytes() != one.indices.tobytes()
