"""Benchmark workloads and presets: deterministic matrices built in-process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..datasets import make_netflix_like, planted_spectrum


@dataclass(frozen=True)
class Workload:
    """A matrix, a rank and the accuracy tiers to report.

    ``build()`` returns the matrix; ``exact`` marks dense matrices with a
    planted spectrum (the reference is then known exactly).
    """

    name: str
    description: str
    build: Callable
    k: int
    tiers: tuple = (1e-2, 1e-4)
    time_budget: float = 60.0
    params: dict = field(default_factory=dict)
    #: contender name -> why it does not run on this workload
    excluded: dict = field(default_factory=dict)


_DEFLATION_TOO_SLOW = ("power iteration with deflation needs thousands of passes per "
                       "component on a flat spectrum with k=50; see the dense workloads")


def _netflix(scale):
    return lambda: make_netflix_like(scale, random_state=0)


def _dense(m, n, decay_power=1.0):
    def build():
        s = 1.0 / np.arange(1, min(m, n) + 1) ** decay_power
        return planted_spectrum(m, n, s, random_state=0)[0]
    return build


PRESETS = {
    "tiny": (
        Workload("netflix-tiny", "Netflix-shaped 960 x 17,770, float32 (~190k ratings)",
                 _netflix(0.002), k=10, time_budget=10, params={"scale": 0.002}),
        Workload("dense-tiny", "dense 300 x 200, s_i = 1/i, float64", _dense(300, 200), k=10,
                 time_budget=10, params={"m": 300, "n": 200}),
    ),
    "quick": (
        Workload("netflix-2%", "Netflix-shaped 9,604 x 17,770, float32 (~2M ratings)",
                 _netflix(0.02), k=50, time_budget=30, params={"scale": 0.02},
                 excluded={"fastsvd power": _DEFLATION_TOO_SLOW}),
        Workload("dense-2000x1500", "dense 2,000 x 1,500, s_i = 1/i, float64",
                 _dense(2000, 1500), k=50, tiers=(1e-2, 1e-4, 1e-8), time_budget=30,
                 params={"m": 2000, "n": 1500}),
    ),
    "full": (
        Workload("netflix", "Netflix-shaped 480,189 x 17,770, float32 (~96M ratings)",
                 _netflix(1.0), k=50, time_budget=400, params={"scale": 1.0},
                 excluded={"fastsvd power": _DEFLATION_TOO_SLOW}),
        Workload("dense-4000x3000", "dense 4,000 x 3,000, s_i = 1/i, float64",
                 _dense(4000, 3000), k=50, tiers=(1e-2, 1e-4, 1e-8), time_budget=200,
                 params={"m": 4000, "n": 3000}),
    ),
}


#: The scaling sweep: Netflix-shaped matrices from ~1M to ~100M nonzeros.
SWEEP = {"scales": (0.01, 0.03, 0.1, 0.3, 1.0), "ks": (10, 50, 200), "svd_k": 50,
         "svd_tol": 1e-2}
