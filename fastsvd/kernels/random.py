"""Counter-based random numbers for parallel numba kernels.

A value depends only on ``(seed, stream, i, t)``, never on which thread draws
it, so parallel generators give the same bits at any thread count.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@jit()
def splitmix64(x):
    """The splitmix64 finaliser: a bijective 64-bit hash with good avalanche."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@jit()
def uniform(key, i, t):
    """A uniform double in [0, 1) determined by ``(key, i, t)``."""
    h = splitmix64(key ^ splitmix64(np.uint64(i) * _MIX1 + np.uint64(t)))
    return np.float64(h >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@jit()
def normal(key, i, t):
    """A standard normal determined by ``(key, i, t)`` (Box-Muller)."""
    u1 = uniform(key, i, 2 * t)
    u2 = uniform(key, i, 2 * t + 1)
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)


@jit()
def _mix_key(seed, stream):
    return splitmix64(seed ^ splitmix64(stream))


def stream_key(random_state: int, stream: int) -> np.uint64:
    """Key (a ``numpy.uint64``) for one independent stream of a seeded generator.

    Keys must reach kernels as ``uint64``: numba types a plain Python int as
    int64, and mixing int64 with uint64 silently goes through float64.
    """
    return np.uint64(_mix_key(np.uint64(random_state % (1 << 64)), np.uint64(stream)))
