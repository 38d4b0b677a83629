"""Soft-impute: time per iteration against rank, nonzeros and threads.

One iteration of each method on Netflix-shaped synthetic ratings, warm-started
from a converged-looking factorisation so every round does the same work.
``extra_info`` records ns per (nonzero x rank), which should stay flat as
nonzeros and rank grow (linear cost).
"""

import numpy as np
import pytest
from conftest import SCALE, run

from fastsvd._threads import max_threads, thread_limits
from fastsvd.datasets import make_netflix_ratings
from fastsvd.impute import softimpute as _softimpute
from fastsvd.operators import CSROperator


@pytest.fixture(scope="session", params=[SCALE / 4, SCALE], ids=["quarter", "full"])
def observed(request):
    ratings, _ = make_netflix_ratings(request.param, random_state=0)
    csr = ratings.csr.copy()
    csr.data -= csr.data.mean()
    return CSROperator.from_scipy(csr)


@pytest.mark.parametrize("rank", [10, 50])
@pytest.mark.parametrize("n_threads", sorted({1, max_threads()}))
@pytest.mark.parametrize("method", ["als", "svd"])
def test_iteration(record_threads, observed, rank, n_threads, method):
    lam = 0.1 * _softimpute.lambda0(observed, np.random.default_rng(0))

    def one_iteration():
        with thread_limits(n_threads, blas=1):
            return _softimpute.fit(observed, rank, lam, method=method, tol=0.0, max_iter=1,
                                   rng=np.random.default_rng(0))

    run(record_threads, one_iteration, rounds=3)
    record_threads.extra_info.update(rank=rank, nnz=observed.nnz, threads=n_threads,
                                     method=method)
    record_threads.extra_info["ns_per_nonzero_rank"] = (
        record_threads.stats.stats.median / (observed.nnz * rank) * 1e9)
