"""fastsvd on a Dask cluster: a LocalCluster of 2 worker processes (loopback).

Every distributed result is checked against the same call on the matrix in
memory with the same seed.
"""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import fastsvd  # noqa: E402
from fastsvd.distributed import RowBlocks, WorkerLostError, read_blocks  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:distributed")


def _cluster():
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    host="127.0.0.1", dashboard_address=None,
                                    env={"NUMBA_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, distributed.Client(cluster) as client:
        yield client


def _python(code):
    """Standard output of ``code`` run in a fresh interpreter (no client, no
    cluster of this module's)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout


def _split(matrix, bounds):
    return [matrix[a:b] for a, b in itertools.pairwise(bounds)]


def _sparse(m=1200, n=150, density=0.06, seed=3, dtype=np.float64):
    return sp.random(m, n, density=density, format="csr", random_state=seed, dtype=dtype)


def _planted(m=900, n=120, seed=0):
    rng = np.random.default_rng(seed)
    left = np.linalg.qr(rng.standard_normal((m, n)))[0]
    right = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return (left * 0.85 ** np.arange(n)) @ right.T


def _sparse_dask(matrix, rows_per_chunk):
    """A dask array with scipy CSR chunks, each built on a worker."""
    parts = [da.from_delayed(dask.delayed(sp.csr_matrix)(block), shape=block.shape,
                             dtype=matrix.dtype, meta=sp.csr_matrix((0, 0), dtype=matrix.dtype))
             for block in _split(matrix, [*range(0, matrix.shape[0], rows_per_chunk),
                                          matrix.shape[0]])]
    return da.concatenate(parts, axis=0)


def _assert_same_svd(local, remote, rtol):
    np.testing.assert_allclose(remote.s, local.s, rtol=rtol)
    np.testing.assert_allclose(remote.U, local.U, atol=rtol * 100)
    np.testing.assert_allclose(remote.Vt, local.Vt, atol=rtol * 100)


# ------------------------------------------------------------------ svd
@pytest.mark.parametrize("method", ["krylov", "randomized"])
def test_svd_on_row_blocks_matches_memory(client, method):
    A = _sparse()
    blocks = RowBlocks.from_blocks(_split(A, [0, 250, 700, 1200]))
    local = fastsvd.svd(A, 8, method=method, tol=1e-8, random_state=4)
    remote = fastsvd.svd(blocks, 8, method=method, tol=1e-8, random_state=4)
    assert isinstance(remote.U, np.ndarray) and remote.U.shape == (1200, 8)
    assert remote.n_iter == local.n_iter
    _assert_same_svd(local, remote, 1e-10)
    np.testing.assert_allclose(remote.U.T @ remote.U, np.eye(8), atol=1e-12)


def test_svd_on_dense_dask_array_matches_lapack(client):
    D = _planted()
    X = da.from_array(D, chunks=(200, -1))
    result = fastsvd.svd(X, 6, random_state=0)
    exact = np.linalg.svd(D, compute_uv=False)[:6]
    np.testing.assert_allclose(result.s, exact, rtol=1e-9)
    assert result.method == "krylov"
    _assert_same_svd(fastsvd.svd(D, 6, method="krylov", random_state=0), result, 1e-10)


def test_svd_float32_sparse_chunks_stays_float32(client):
    A = _sparse(dtype=np.float32)
    X = _sparse_dask(A, 500)
    result = fastsvd.svd(X, 5, random_state=1)
    assert result.U.dtype == result.s.dtype == result.Vt.dtype == np.float32
    local = fastsvd.svd(A, 5, method="krylov", random_state=1)
    np.testing.assert_allclose(result.s, local.s, rtol=1e-5)


def test_wide_row_blocks_keep_their_orientation(client):
    A = _sparse(m=100, n=400, density=0.1)
    result = fastsvd.svd(RowBlocks.from_blocks(_split(A, [0, 40, 100])), 5, tol=1e-10,
                         random_state=0)
    exact = np.linalg.svd(A.toarray(), compute_uv=False)[:5]
    np.testing.assert_allclose(result.s, exact, rtol=1e-8)


def test_same_seed_same_bits(client):
    A = _sparse()
    runs = [fastsvd.svd(RowBlocks.from_blocks(_split(A, [0, 600, 1200])), 6, random_state=9)
            for _ in range(2)]
    assert np.array_equal(runs[0].U, runs[1].U) and np.array_equal(runs[0].s, runs[1].s)


def test_randomized_range_finder_returns_numpy(client):
    D = _planted()
    Q = fastsvd.randomized_range_finder(da.from_array(D, chunks=(300, -1)), 10, random_state=0)
    local = fastsvd.randomized_range_finder(D, 10, random_state=0)
    assert isinstance(Q, np.ndarray)
    np.testing.assert_allclose(np.abs(Q.T @ local), np.eye(10), atol=1e-8)


def test_tsqr_fallback_orthonormalises_rank_deficient_block(client):
    from fastsvd.algorithms.tall import orthonormalize

    rng = np.random.default_rng(0)
    Y = rng.standard_normal((600, 6))
    Y[:, 5] = Y[:, 0]  # exactly dependent: CholeskyQR fails, TSQR takes over
    op = fastsvd.distributed.matrix_operator(RowBlocks.from_blocks(_split(Y, [0, 200, 600])))
    Q, R = orthonormalize(op.tall(Y))
    np.testing.assert_allclose(Q.to_numpy() @ R, Y, atol=1e-12)
    np.testing.assert_allclose(Q.gram(), np.eye(6), atol=1e-12)


# ------------------------------------------------------------- estimators
def test_pca_on_dask_array_matches_memory(client):
    sklearn = pytest.importorskip("sklearn")  # noqa: F841
    D = _planted() + 3.0
    local = fastsvd.PCA(5, random_state=0).fit(D)
    remote = fastsvd.PCA(5, random_state=0)
    scores = remote.fit_transform(da.from_array(D, chunks=(250, -1)))
    np.testing.assert_allclose(remote.mean_, local.mean_, rtol=1e-12)
    np.testing.assert_allclose(remote.components_, local.components_, atol=1e-9)
    np.testing.assert_allclose(remote.explained_variance_ratio_,
                               local.explained_variance_ratio_, rtol=1e-9)
    np.testing.assert_allclose(scores, local.transform(D), atol=1e-8)
    np.testing.assert_allclose(remote.transform(D), scores, atol=1e-8)


def test_pca_on_sparse_row_blocks_centres_implicitly(client):
    pytest.importorskip("sklearn")
    A = _sparse()
    remote = fastsvd.PCA(4, random_state=0).fit(RowBlocks.from_blocks(_split(A, [0, 500, 1200])))
    local = fastsvd.PCA(4, random_state=0).fit(A)
    np.testing.assert_allclose(remote.components_, local.components_, atol=1e-9)
    np.testing.assert_allclose(remote.explained_variance_ratio_,
                               local.explained_variance_ratio_, rtol=1e-9)


def test_truncated_svd_on_dask_array(client):
    pytest.importorskip("sklearn")
    A = _sparse()
    remote = fastsvd.TruncatedSVD(4, random_state=0)
    X_new = remote.fit_transform(_sparse_dask(A, 400))
    local = fastsvd.TruncatedSVD(4, random_state=0)
    np.testing.assert_allclose(X_new, local.fit_transform(A), atol=1e-9)
    np.testing.assert_allclose(remote.explained_variance_ratio_,
                               local.explained_variance_ratio_, rtol=1e-9)


# ----------------------------------------------------------- soft-impute
@pytest.fixture(scope="module")
def ratings():
    from fastsvd.datasets import make_netflix_ratings

    return make_netflix_ratings(scale=0.003, n_items=2000, rank=5, random_state=0,
                                dtype=np.float64)[0].csr


@pytest.mark.parametrize("lam, debias", [(2.0, False), ("auto", False), (2.0, True)])
def test_soft_impute_on_row_blocks_matches_memory(client, ratings, lam, debias):
    third = ratings.shape[0] // 3
    blocks = RowBlocks.from_blocks(_split(ratings, [0, third, 2 * third, ratings.shape[0]]))
    params = dict(rank=6, lam=lam, debias=debias, tol=1e-4, max_iter=25, random_state=0)
    local = fastsvd.SoftImpute(**params).fit(ratings)
    remote = fastsvd.SoftImpute(**params).fit(blocks)
    assert remote.n_iter_ == local.n_iter_
    assert remote.lam_ == pytest.approx(local.lam_, rel=1e-9)
    np.testing.assert_allclose(remote.d_, local.d_, rtol=1e-7)
    np.testing.assert_allclose(remote.user_bias_, local.user_bias_, atol=1e-9)
    np.testing.assert_allclose(remote.history_, local.history_, rtol=1e-9)
    rows, cols = ratings.nonzero()
    np.testing.assert_allclose(remote.predict(rows, cols), local.predict(rows, cols), atol=1e-6)


def test_soft_impute_takes_a_dask_array_of_sparse_chunks(client, ratings):
    params = dict(rank=4, lam=3.0, max_iter=8, random_state=0)
    remote = fastsvd.SoftImpute(**params).fit(_sparse_dask(ratings, 500))
    local = fastsvd.SoftImpute(**params).fit(ratings)
    np.testing.assert_allclose(remote.d_, local.d_, rtol=1e-9)
    assert remote.input_kind_ == "sparse" and remote.U_.shape == local.U_.shape


def test_soft_impute_reads_blocks_on_the_workers(client, ratings, tmp_path):
    paths = []
    for i, block in enumerate(_split(ratings, [0, 300, ratings.shape[0]])):
        paths.append(tmp_path / f"block{i}.npz")
        sp.save_npz(paths[-1], block)
    params = dict(rank=4, lam=3.0, max_iter=8, random_state=0)
    remote = fastsvd.SoftImpute(**params).fit(read_blocks(paths))
    local = fastsvd.SoftImpute(**params).fit(ratings)
    np.testing.assert_allclose(remote.d_, local.d_, rtol=1e-7)


# --------------------------------------------------------------- bad input
def test_blocks_with_mismatched_columns(client):
    blocks = RowBlocks.from_blocks([np.ones((3, 4)), np.ones((3, 5))])
    with pytest.raises(ValueError, match="block 1 has 5 columns but block 0 has 4"):
        fastsvd.svd(blocks, 2)


def test_empty_block(client):
    blocks = RowBlocks.from_blocks([np.ones((3, 4)), np.ones((0, 4))])
    with pytest.raises(ValueError, match="block 1 is empty"):
        fastsvd.svd(blocks, 2)
    rating_blocks = RowBlocks.from_blocks([sp.csr_matrix(np.eye(3)), sp.csr_matrix((2, 3))])
    with pytest.raises(ValueError, match=r"ratings block 1.*no entries"):
        fastsvd.SoftImpute(rank=1, lam=1.0).fit(rating_blocks)


def test_non_finite_block(client):
    bad = np.ones((3, 4))
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="block 1 contains NaN"):
        fastsvd.svd(RowBlocks.from_blocks([np.ones((3, 4)), bad]), 2)


def test_column_chunked_dask_array(client):
    X = da.ones((100, 40), chunks=(50, 20))
    with pytest.raises(ValueError, match=r"rechunk\(\{1: -1\}\)"):
        fastsvd.svd(X, 2)


def test_unsupported_methods_say_what_to_use(client):
    X = da.from_array(_planted(), chunks=(300, -1))
    with pytest.raises(ValueError, match="method='krylov'"):
        fastsvd.svd(X, 2, method="power")
    with pytest.raises(ValueError, match="dense array"):
        fastsvd.svd(X, 2, method="lapack")
    with pytest.raises(ValueError, match="'QR'"):
        fastsvd.randomized_svd(X, 2, power_iteration_normalizer="LU")
    with pytest.raises(ValueError, match="method='als'"):
        fastsvd.SoftImpute(method="svd").fit(RowBlocks.from_blocks([sp.csr_matrix(np.eye(3))]))


def test_wrong_block_types(client):
    with pytest.raises(TypeError, match="block 0 is a list"):
        RowBlocks.from_blocks([[1.0, 2.0]])
    with pytest.raises(TypeError, match=r"ratings blocks must be scipy\.sparse"):
        fastsvd.SoftImpute(lam=1.0).fit(RowBlocks.from_blocks([np.eye(3)]))


def test_no_active_client():
    code = ("import dask.array as da, fastsvd\n"
            "try:\n"
            "    fastsvd.svd(da.ones((10, 4), chunks=(5, 4)), 2)\n"
            "except ValueError as exc:\n"
            "    print(exc)\n")
    out = _python(code)
    assert "no distributed.Client is active" in out


def test_caller_arrays_untouched(client):
    A = _sparse()
    before = (A.data.copy(), A.indices.copy(), A.indptr.copy())
    fastsvd.SoftImpute(rank=3, lam=1.0, max_iter=3, random_state=0).fit(
        RowBlocks.from_blocks(_split(A, [0, 600, 1200])))
    for saved, now in zip(before, (A.data, A.indices, A.indptr), strict=True):
        assert np.array_equal(saved, now)


# ------------------------------------------------------------ lost workers
def _kill_workers_at(client, iteration):
    """A SoftImpute callback that kills every worker process at ``iteration``
    (their nannies start new, empty ones): whatever they held is gone."""
    def callback(it, *_):
        if it == iteration:
            try:
                client.run(os._exit, 1)
            except Exception:  # the workers die before they can answer
                pass
    return callback


def test_lost_worker_with_scattered_blocks_fails_clearly(ratings):
    with _cluster() as cluster, distributed.Client(cluster) as client:
        blocks = RowBlocks.from_blocks(_split(ratings, [0, 300, ratings.shape[0]]))
        model = fastsvd.SoftImpute(rank=4, lam=2.0, random_state=0,
                                   callback=_kill_workers_at(client, 2))
        with pytest.raises(WorkerLostError, match="lost"):
            model.fit(blocks)


def test_lost_worker_with_reloadable_blocks_recomputes(ratings):
    local = fastsvd.SoftImpute(rank=4, lam=2.0, max_iter=6, random_state=0).fit(ratings)
    with _cluster() as cluster, distributed.Client(cluster) as client:
        blocks = RowBlocks.from_dask(_sparse_dask(ratings, 400))
        model = fastsvd.SoftImpute(rank=4, lam=2.0, max_iter=6, random_state=0,
                                   callback=_kill_workers_at(client, 2))
        model.fit(blocks)
    np.testing.assert_allclose(model.d_, local.d_, rtol=1e-7)


# ------------------------------------------------------------ without dask
def test_fastsvd_imports_without_dask():
    code = ("import sys; sys.modules['dask'] = sys.modules['distributed'] = None\n"
            "import numpy as np, fastsvd\n"
            "assert fastsvd.svd(np.eye(4), 2).s.tolist() == [1.0, 1.0]\n"
            "try:\n"
            "    import fastsvd.distributed\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    out = _python(code)
    assert "pip install 'fastsvd[dask]'" in out


# --------------------------------------------------------------- benchmark
def test_bench_dask_reports_overhead_and_agreement(tmp_path):
    out = tmp_path / "dask.json"
    code = ("from fastsvd.cli import main\n"
            f"raise SystemExit(main(['bench-dask', '--scale', '0.002', '--repeats', '1', "
            f"'--output', {str(out)!r}]))\n")
    printed = _python(code)
    assert "| Krylov SVD k=20" in printed and "overhead" in printed
    import json

    record = json.loads(out.read_text())
    for job in ("svd", "als"):
        assert record[job]["single"] > 0 and record[job]["cluster"] > 0
        assert record[job]["difference"] < 1e-3  # same seed, same answer to rounding


def test_bench_dask_rejects_bad_options():
    from fastsvd.cli import main

    assert main(["bench-dask", "--scale", "0"]) == 2
    assert main(["bench-dask", "--workers", "0"]) == 2
