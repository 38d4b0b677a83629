"""Numba kernels against their plain-numpy twins (tests/naive.py)."""

import naive
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_csr

from fastsvd._threads import thread_limits
from fastsvd.impute.observed import ObservedCSR
from fastsvd.kernels import layout, products
from fastsvd.kernels import random as _random
from fastsvd.operators import CSROperator


def _run_matmat(A, X, n_chunks):
    out = np.empty((A.shape[0], X.shape[1]), dtype=X.dtype)
    chunks = layout.balanced_row_chunks(A.indptr, n_chunks)
    # two calls over halves of the chunks: ranges compose
    for first, stop in ((0, n_chunks // 2), (n_chunks // 2, n_chunks)):
        products.csr_matmat(A.indptr, _unsigned(A.indices), A.data, X, chunks, first, stop, out)
    return out


def _run_rmatmat(A, Y, n_chunks):
    out = np.empty((A.shape[1], Y.shape[1]), dtype=Y.dtype)
    partial = np.empty((n_chunks, 1, A.shape[1], Y.shape[1]), dtype=Y.dtype)
    chunks = layout.balanced_row_chunks(A.indptr, n_chunks)
    for first, stop in ((0, n_chunks // 2), (n_chunks // 2, n_chunks)):
        products.csr_rmatmat(A.indptr, _unsigned(A.indices), A.data, Y, chunks, first, stop,
                             partial)
    products.reduce_partials(partial, out, 0, A.shape[1])
    return out


def _tolerance(A, B, dtype):
    """Rounding bound for a product: eps * (|A| |B|), elementwise, with slack."""
    scale = abs(A) @ np.abs(B.astype(np.float64))
    return 50 * np.finfo(dtype).eps * (scale + 1e-30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("k", [1, 3, 17])
@pytest.mark.parametrize("n_chunks", [1, 3, 64])
def test_matmat_matches_twin(dtype, index_dtype, k, n_chunks):
    A = random_csr(57, 31, 0.2, seed=k, dtype=dtype, index_dtype=index_dtype)
    X = np.random.default_rng(1).standard_normal((31, k)).astype(dtype)
    out = _run_matmat(A, X, n_chunks)
    ref = naive.csr_matmat(A.indptr, A.indices, A.data, X)
    assert out.dtype == dtype
    assert np.all(np.abs(out - ref) <= _tolerance(A, X, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("k", [1, 3, 17])
@pytest.mark.parametrize("n_chunks", [1, 2, 8])
def test_rmatmat_matches_twin(dtype, index_dtype, k, n_chunks):
    A = random_csr(57, 31, 0.2, seed=k, dtype=dtype, index_dtype=index_dtype)
    Y = np.random.default_rng(2).standard_normal((57, k)).astype(dtype)
    out = _run_rmatmat(A, Y, n_chunks)
    ref = naive.csr_rmatmat(A.indptr, A.indices, A.data, Y, 31)
    assert out.dtype == dtype
    assert np.all(np.abs(out - ref) <= _tolerance(A.T, Y, dtype))


def _unsigned(indices):
    return indices.view(np.uint32 if indices.itemsize == 4 else np.uint64)


def _run_tiled(A, block, width, n_chunks, transpose):
    kernels = products.tiled_products(width)
    chunks = layout.balanced_row_chunks(A.indptr, n_chunks)
    k = block.shape[1]
    if transpose:
        out = np.empty((A.shape[1], k), dtype=block.dtype)
        partial = np.full((n_chunks, -(-k // width), A.shape[1], width), np.nan, dtype=block.dtype)
        kernels.rmatmat(A.indptr, _unsigned(A.indices), A.data, block, chunks, 0, n_chunks,
                        partial)
        products.reduce_partials(partial, out, 0, A.shape[1])
    else:
        out = np.empty((A.shape[0], k), dtype=block.dtype)
        kernels.matmat(A.indptr, _unsigned(A.indices), A.data,
                       layout.column_tiles(block, width), chunks, 0, n_chunks, out)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("width", layout.TILE_WIDTHS)
@pytest.mark.parametrize("k", [24, 32, 50, 64, 130])
def test_tiled_products_match_twins_at_any_thread_count(dtype, index_dtype, width, k):
    """Any k, in as many tiles as it needs (the last one padded): the twin's
    result, with the same bits at 1 and 2 threads."""
    A = random_csr(57, 31, 0.2, seed=k, dtype=dtype, index_dtype=index_dtype)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((31, k)).astype(dtype)
    Y = rng.standard_normal((57, k)).astype(dtype)
    for block, transpose, ref, tol in [
            (X, False, naive.csr_matmat(A.indptr, A.indices, A.data, X), _tolerance(A, X, dtype)),
            (Y, True, naive.csr_rmatmat(A.indptr, A.indices, A.data, Y, 31),
             _tolerance(A.T, Y, dtype))]:
        outs = []
        for n_threads in (1, 2):
            with thread_limits(n_threads):
                outs.append(_run_tiled(A, block, width, 3, transpose))
        assert np.all(np.abs(outs[0] - ref) <= tol)
        assert outs[1].tobytes() == outs[0].tobytes()


def test_column_tiles_pads_with_zeros():
    X = np.arange(10.0).reshape(2, 5)
    tiles = layout.column_tiles(X, 3)
    assert tiles.shape == (2, 2, 3) and tiles.flags.c_contiguous and tiles.ctypes.data % 64 == 0
    np.testing.assert_array_equal(tiles[0], X[:, :3])
    np.testing.assert_array_equal(tiles[1], np.c_[X[:, 3:], np.zeros(2)])


def test_cache_aligned_empty():
    for shape, dtype in [((3, 5, 32), np.float32), ((7, 64), np.float64), ((1,), np.float32)]:
        array = layout.cache_aligned_empty(shape, dtype)
        assert array.shape == shape and array.dtype == dtype and array.flags.c_contiguous
        assert array.flags.writeable and array.ctypes.data % 64 == 0
    assert layout.cache_aligned_empty((0, 4), np.float32).shape == (0, 4)


def test_tile_width_choice():
    assert layout.tile_width(layout.MIN_TILED_COLUMNS - 1) is None
    assert [layout.tile_width(k) for k in (24, 32, 33, 48, 49, 64, 65, 120, 128, 200, 500)] == [
        32, 32, 48, 48, 64, 64, None, 64, 64, None, 64]


def _run_rmatmat_by_columns(A, Y, column_bounds):
    indices = A.indices.view(np.uint32 if A.indices.itemsize == 4 else np.uint64)
    starts = np.empty((A.shape[0], column_bounds.size), dtype=np.int64)
    assert products.csr_segment_starts(A.indptr, indices, column_bounds, 0, A.shape[0],
                                       starts) == 0
    np.testing.assert_array_equal(starts, naive.segment_starts(A.indptr, A.indices,
                                                               column_bounds))
    out = np.empty((A.shape[1], Y.shape[1]), dtype=Y.dtype)
    for block in range(column_bounds.size - 1):
        products.csr_rmatmat_by_columns(A.indptr, indices, A.data, Y, column_bounds, block,
                                        starts, out)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_rmatmat_by_columns_matches_twin_for_any_split(dtype, index_dtype):
    A = random_csr(57, 31, 0.2, seed=4, dtype=dtype, index_dtype=index_dtype)
    Y = np.random.default_rng(2).standard_normal((57, 6)).astype(dtype)
    ref = naive.csr_rmatmat(A.indptr, A.indices, A.data, Y, 31)
    splits = [[0, 31], [0, 15, 31], [0, 0, 7, 30, 31], [0, 4, 8, 12, 16, 20, 31, 31]]
    outs = [_run_rmatmat_by_columns(A, Y, np.array(b, dtype=np.int64)) for b in splits]
    for out in outs:
        assert out.dtype == dtype
        assert np.all(np.abs(out - ref) <= _tolerance(A.T, Y, dtype))
        assert out.tobytes() == outs[0].tobytes()  # the split never changes a bit


def test_segment_starts_reports_unsorted_rows():
    A = sp.csr_matrix((np.ones(5), np.array([2, 0, 1, 1, 3], dtype=np.int32),
                       np.array([0, 2, 2, 5])), shape=(3, 4))
    starts = np.empty((3, 3), dtype=np.int64)
    bounds = np.array([0, 2, 4], dtype=np.int64)
    assert products.csr_segment_starts(A.indptr, A.indices.view(np.uint32), bounds, 0, 3,
                                       starts) == 1


def test_wide_rmatmat_splits_columns_and_keeps_unsorted_rows_right(monkeypatch):
    """Above the partial-sum size the operator splits the columns among the
    threads; a CSR with unsorted rows falls back to the partial sums."""
    from fastsvd.operators import csr as _operators

    monkeypatch.setattr(_operators, "_COLUMN_SPLIT_BYTES", 0)
    A = random_csr(300, 80, 0.1, seed=6)
    Y = np.random.default_rng(3).standard_normal((300, 5))
    op = CSROperator.from_scipy(A)
    np.testing.assert_allclose(op.rmatmat(Y), A.T @ Y, rtol=1e-12, atol=1e-12)
    assert next(iter(op._column_splits.values())) is not None
    shuffled = A.copy()
    for i in range(shuffled.shape[0]):  # reverse each row's entries
        row = slice(shuffled.indptr[i], shuffled.indptr[i + 1])
        shuffled.indices[row], shuffled.data[row] = (shuffled.indices[row][::-1].copy(),
                                                     shuffled.data[row][::-1].copy())
    op = CSROperator(shuffled.indptr, shuffled.indices, shuffled.data, shuffled.shape)
    np.testing.assert_allclose(op.rmatmat(Y), A.T @ Y, rtol=1e-12, atol=1e-12)
    assert next(iter(op._column_splits.values())) is None


def test_kernels_handle_unsorted_indices_and_duplicates():
    # A non-canonical CSR: duplicate (row, col) entries are summed, order is free.
    indptr = np.array([0, 3, 3, 6])
    indices = np.array([2, 0, 2, 1, 1, 0], dtype=np.int32)
    data = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    A = sp.csr_matrix((data, indices, indptr), shape=(3, 3))
    dense = np.array([[2.0, 0, 4.0], [0, 0, 0], [6.0, 9.0, 0]])
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(_run_matmat(A, X, 2), dense @ X)
    np.testing.assert_allclose(_run_rmatmat(A, X, 2), dense.T @ X)


def test_matrix_without_nonzeros():
    A = sp.csr_matrix((4, 5))
    X = np.ones((5, 2))
    assert not _run_matmat(A, X, 3).any()
    assert not _run_rmatmat(A, np.ones((4, 2)), 2).any()


@pytest.mark.parametrize("n_chunks", [1, 4, 7, 100])
def test_balanced_row_chunks_matches_twin(n_chunks):
    A = random_csr(40, 30, 0.3, seed=3)
    np.testing.assert_array_equal(layout.balanced_row_chunks(A.indptr, n_chunks),
                                  naive.balanced_row_chunks(A.indptr, n_chunks))


def test_balanced_row_chunks_balances_work():
    indptr = np.concatenate([[0], np.cumsum(np.r_[np.full(10, 1000), np.ones(990)])])
    bounds = layout.balanced_row_chunks(indptr.astype(np.int64), 4)
    work = np.diff(indptr[bounds]) + np.diff(bounds)
    assert work.max() < 1.5 * work.sum() / 4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, k", [((3000, 400), 9), ((600, 8000), 200)])
def test_products_bit_identical_at_one_and_two_threads(dtype, shape, k):
    """Narrow blocks (partial sums per row chunk) and wide ones (columns split
    among the threads: 8000 x 200 is above ``_COLUMN_SPLIT_BYTES``)."""
    m, n = shape
    A = random_csr(m, n, 0.02, seed=5, dtype=dtype)
    op = CSROperator.from_scipy(A)
    X = np.random.default_rng(0).standard_normal((n, k)).astype(dtype)
    Y = np.random.default_rng(1).standard_normal((m, k)).astype(dtype)
    with thread_limits(1):
        one = op.matmat(X), op.rmatmat(Y)
    with thread_limits(2):
        two = op.matmat(X), op.rmatmat(Y)
    for a, b in zip(one, two, strict=False):
        assert a.tobytes() == b.tobytes()
    assert np.all(np.abs(two[1] - A.T @ Y.astype(np.float64)) <= _tolerance(A.T, Y, dtype))


# Under NUMBA_DISABLE_JIT the generator runs on numpy uint64 scalars, whose
# intended wrap-around multiplication numpy reports as overflow.
uint64_wraparound = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


@uint64_wraparound
def test_counter_rng_matches_twin():
    key = _random.stream_key(42, 7)
    assert isinstance(key, np.uint64)
    for i, t in [(0, 0), (1, 2), (123456, 99), (2**40, 3)]:
        assert _random.uniform(key, i, t) == naive.uniform(key, i, t)


@uint64_wraparound
def test_counter_rng_is_uniform():
    key = _random.stream_key(0, 1)
    draws = np.array([_random.uniform(key, i, 0) for i in range(20000)])
    assert 0 <= draws.min() and draws.max() < 1
    assert abs(draws.mean() - 0.5) < 0.01
    assert abs(draws.var() - 1 / 12) < 0.005


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 5, 24, 50, 64, 70])
def test_residual_kernels_match_twin(dtype, k):
    """The soft-impute kernels: residual of ``own diag(scale) other.T`` on the
    stored entries, and its products with a block, against the dense formulas
    (ranks 24-64 go to the one-tile kernels, the others to the generic ones)."""
    A = random_csr(57, 31, 0.3, seed=k, dtype=dtype)
    rng = np.random.default_rng(3)
    own, other = rng.standard_normal((57, k)), rng.standard_normal((31, k))
    scale = rng.uniform(0.5, 2.0, k)
    row_mult, col_mult = rng.standard_normal((31, 4)), rng.standard_normal((57, 4))
    op = ObservedCSR.from_scipy(A)
    R = naive.stored_residual(A, own, other)
    R_scaled = naive.stored_residual(A, own * scale, other)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(op.residual(own, other), R.data, rtol=rtol, atol=rtol)
    product, squares = op.residual_times(own, other, row_mult)
    np.testing.assert_allclose(product, R @ row_mult, rtol=rtol, atol=rtol * 10)
    assert squares == pytest.approx(np.sum(R.data**2), rel=rtol)
    rproduct, rsquares = op.residual_rtimes(own, other, col_mult)
    np.testing.assert_allclose(rproduct, R.T @ col_mult, rtol=rtol, atol=rtol * 10)
    assert rsquares == pytest.approx(np.sum(R.data**2), rel=rtol)
    # With a scale, and with the model's own factors as the multipliers
    # (the kernels then read each row once).
    product, squares = op.residual_times(own, other, other, scale)
    np.testing.assert_allclose(product, R_scaled @ other, rtol=rtol, atol=rtol * 10)
    assert squares == pytest.approx(np.sum(R_scaled.data**2), rel=rtol)
    rproduct, rsquares = op.residual_rtimes(own, other, own, scale)
    np.testing.assert_allclose(rproduct, R_scaled.T @ own, rtol=rtol, atol=rtol * 10)
    assert rsquares == pytest.approx(squares, rel=rtol)
