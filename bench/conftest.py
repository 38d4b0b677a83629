"""pytest-benchmark suites: ``make bench`` (compile time excluded by warm-up rounds).

Sizes are chosen to finish in a few minutes; the full Netflix-scale comparison
is ``fastsvd bench --preset full``. Set FASTSVD_BENCH_SCALE to run the sparse
suites on a larger Netflix-shaped matrix (1.0 = 480,189 x 17,770).
"""

import os

import numpy as np
import pytest

from fastsvd.datasets import make_netflix_like

SCALE = float(os.environ.get("FASTSVD_BENCH_SCALE", "0.05"))


@pytest.fixture(scope="session")
def netflix():
    return make_netflix_like(SCALE, random_state=0)


def run(benchmark, function, *args, rounds=3):
    """Time ``function(*args)`` after one untimed warm-up round (JIT compile)."""
    return benchmark.pedantic(function, args=args, rounds=rounds, warmup_rounds=1,
                              iterations=1)


@pytest.fixture
def record_threads(benchmark):
    import numba

    benchmark.extra_info["numba_threads"] = numba.get_num_threads()
    try:
        from threadpoolctl import threadpool_info

        benchmark.extra_info["blas_threads"] = [p["num_threads"] for p in threadpool_info()
                                                if p["user_api"] == "blas"]
    except ImportError:
        pass
    return benchmark


def relative_error(s, s_ref):
    s = np.sort(np.asarray(s, dtype=np.float64))[::-1]
    return float(np.max(np.abs(s - s_ref[: s.size]) / s_ref[: s.size]))
