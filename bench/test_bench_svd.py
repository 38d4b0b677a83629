"""Truncated SVD, k=50: fastsvd's methods against LAPACK, scikit-learn and scipy.

Each benchmark records the accuracy it reached (largest relative error of
the singular values against an exact reference) in ``extra_info``; the
matched-accuracy comparison is ``fastsvd bench``.
"""

import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg
from conftest import relative_error, run
from scipy.sparse.linalg import svds

from fastsvd.benchmark.contenders import CONTENDERS
from fastsvd.datasets import planted_spectrum

K = 50
SETTINGS = {  # one representative setting per contender (~1e-2 .. 1e-4 accuracy)
    "fastsvd krylov": 1e-4, "fastsvd randomized": 8, "fastsvd power": 1e-2,
    "sklearn randomized_svd": 8, "sklearn TruncatedSVD": 8, "scipy svds arpack": 1e-2,
    "scipy svds propack": 1e-2,
    "fbpca": 8, "LAPACK gesdd": None, "LAPACK gesvd": None,
}


@pytest.fixture(scope="module")
def dense():
    s = 1.0 / np.arange(1, 1501)
    return planted_spectrum(2000, 1500, s, random_state=0)[0], s


@pytest.fixture(scope="module")
def sparse_reference(netflix):
    return np.sort(svds(netflix.astype(np.float64), k=K, tol=0, random_state=0,
                        return_singular_vectors=False))[::-1]


def _contender(name):
    contender = next(c for c in CONTENDERS if c.name == name)
    if not contender.available():
        pytest.skip(f"{contender.requires} is not installed")
    return contender


@pytest.mark.parametrize("name", [n for n in SETTINGS if n != "fastsvd power"])
def test_dense_2000x1500(record_threads, dense, name):
    contender = _contender(name)
    A, s_ref = dense
    s = run(record_threads, contender.run, A, K, SETTINGS[name], 0)[1]
    record_threads.extra_info.update(setting=SETTINGS[name], accuracy=relative_error(s, s_ref))


@pytest.mark.parametrize("name", [n for n, c in ((c.name, c) for c in CONTENDERS)
                                  if not c.dense_only and n != "fastsvd power"])
def test_sparse_netflix(record_threads, netflix, sparse_reference, name):
    contender = _contender(name)
    s = run(record_threads, contender.run, netflix, K, SETTINGS[name], 0)[1]
    record_threads.extra_info.update(setting=SETTINGS[name],
                                     accuracy=relative_error(s, sparse_reference))


def test_lapack_full_svd_reference(record_threads, dense):
    run(record_threads, scipy.linalg.svd, dense[0], rounds=1)


def _fresh_process_seconds(benchmark, code, rounds):
    """Run ``code`` (which prints a duration) in new interpreters; the median duration."""
    times = []

    def once():
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        times.append(float(out.stdout))

    run(benchmark, once, rounds=rounds)
    return float(np.median(times))


def test_import_time(record_threads):
    """``import fastsvd`` in a fresh interpreter (target < 0.5 s; nothing compiles)."""
    code = "import time; t = time.perf_counter(); import fastsvd; print(time.perf_counter() - t)"
    record_threads.extra_info["import_seconds_median"] = _fresh_process_seconds(
        record_threads, code, rounds=5)


def test_second_process_starts_warm(record_threads):
    """A fresh process calling fastsvd.svd on a sparse matrix: cached kernels load."""
    code = ("import time, scipy.sparse as sp, fastsvd; A = sp.random(2000, 500, 0.01, "
            "format='csr', random_state=0); t = time.perf_counter(); fastsvd.svd(A, 5, "
            "random_state=0); print(time.perf_counter() - t)")
    record_threads.extra_info["first_call_seconds_median"] = _fresh_process_seconds(
        record_threads, code, rounds=3)
