"""Sparse kernels: A @ X and A.T @ Y for a block of k columns, per thread count.

Targets (README): 2 threads >= 1.7x 1 thread; time per nonzero flat in nnz.
Compare rows with ``pytest-benchmark compare`` or read ``extra_info``.
"""

import numpy as np
import pytest
from conftest import run

import fastsvd
from fastsvd._threads import max_threads, thread_limits


@pytest.mark.parametrize("k", [16, 64])
@pytest.mark.parametrize("n_threads", sorted({1, max_threads()}))
@pytest.mark.parametrize("product", ["matmat", "rmatmat"])
def test_csr_product(record_threads, netflix, k, n_threads, product):
    op = fastsvd.as_operator(netflix)
    rows = op.shape[1] if product == "matmat" else op.shape[0]
    block = np.random.default_rng(0).standard_normal((rows, k)).astype(np.float32)
    apply = getattr(op, product)

    def timed():
        with thread_limits(n_threads):
            return apply(block)

    run(record_threads, timed, rounds=5)
    record_threads.extra_info.update(k=k, nnz=op.nnz, threads=n_threads)
    record_threads.extra_info["ns_per_nonzero_column"] = (
        record_threads.stats.stats.median / (op.nnz * k) * 1e9)


def test_scipy_csr_product(record_threads, netflix):
    """The single-threaded scipy product the peers use, for reference."""
    block = np.random.default_rng(0).standard_normal((netflix.shape[1], 64)).astype(np.float32)
    run(record_threads, netflix.__matmul__, block, rounds=5)
