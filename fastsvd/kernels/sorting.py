"""Linear-time sorts and id maps of ratings (used by :mod:`fastsvd.ratings`)."""

from __future__ import annotations

import numpy as np

from .._jit import jit


@jit()
def pairs_increase(major, minor):
    """True if the pairs ``(major[t], minor[t])`` strictly increase with ``t``."""
    for t in range(1, major.size):
        if major[t] < major[t - 1] or (major[t] == major[t - 1] and minor[t] <= minor[t - 1]):
            return False
    return True


@jit()
def sort_pairs(major, minor, n_major, n_minor, indptr, order, scratch):
    """Positions ``0..n-1`` sorted by ``(major, minor, position)``.

    Two stable counting sorts (by ``minor``, then by ``major``): linear time,
    no comparisons. Fills ``order`` and ``indptr`` (``n_major + 1`` entries,
    where the positions of group ``i`` are ``order[indptr[i]:indptr[i + 1]]``);
    ``scratch`` is work space of ``n`` entries.
    """
    n = major.size
    fill = np.zeros(n_minor + 1, dtype=np.int64)
    for t in range(n):
        fill[minor[t] + 1] += 1
    for j in range(n_minor):
        fill[j + 1] += fill[j]
    for t in range(n):
        j = minor[t]
        scratch[fill[j]] = t
        fill[j] += 1
    indptr[:] = 0
    for t in range(n):
        indptr[major[t] + 1] += 1
    for i in range(n_major):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    for s in range(n):
        t = scratch[s]
        i = major[t]
        order[fill[i]] = t
        fill[i] += 1


@jit()
def mark_duplicates(major, minor, order, keep):
    """Clear ``keep`` at every position whose pair occurs again later.

    ``order`` comes from :func:`sort_pairs`. Returns ``(count, first, previous)``:
    the number of repeated occurrences, the smallest position that repeats an
    earlier pair (-1 if none) and the position of the occurrence before it.
    """
    count = 0
    first = -1
    previous = -1
    for s in range(1, order.size):
        a = order[s - 1]
        b = order[s]
        if major[a] == major[b] and minor[a] == minor[b]:
            count += 1
            keep[a] = False
            if first < 0 or b < first:
                first = b
                previous = a
    return count, first, previous


@jit()
def mark_present(raw, low, present):
    for t in range(raw.size):
        present[raw[t] - low] = True


@jit()
def lookup(raw, low, table, out):
    for t in range(raw.size):
        out[t] = table[raw[t] - low]


@jit()
def hold_out(groups, perm, quota, test):
    """Mark ``test`` for the first ``quota[g]`` positions of each group ``g``,
    visiting positions in the (random) order ``perm``."""
    taken = np.zeros(quota.size, dtype=np.int64)
    for s in range(perm.size):
        t = perm[s]
        g = groups[t]
        if taken[g] < quota[g]:
            taken[g] += 1
            test[t] = True
