"""Benchmark runner: fastsvd's methods against LAPACK and the peers users would
otherwise pick, timed and scored for accuracy in the same run.

``fastsvd bench`` (and ``make demo``) drive :func:`run_benchmark`; the
pytest-benchmark suites in ``bench/`` reuse the same workloads and contenders.
"""

from .contenders import CONTENDERS, Contender
from .runner import run_benchmark
from .workloads import PRESETS, Workload

__all__ = ["CONTENDERS", "PRESETS", "Contender", "Workload", "run_benchmark"]
