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


@jit()
def lookup_known(raw, low, table, out):
    """``out[t] = table[raw[t] - low]``, or -1 when ``raw[t]`` lies outside the table."""
    for t in range(raw.size):
        j = raw[t] - low
        out[t] = table[j] if 0 <= j < table.size else -1


@jit()
def _slot(key, mask):
    """Start slot of ``key`` in an open-addressing table of ``mask + 1`` slots."""
    h = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(29)
    return np.int64(h & np.uint64(mask))


@jit()
def pair_table(major, minor, n_minor, keys, slots):
    """Insert the pairs ``(major[t], minor[t])`` (indices >= 0) into the hash
    table ``keys``/``slots`` (a power-of-two size above twice the number of
    pairs; ``keys`` filled with -1): ``slots`` holds the position ``t`` of
    each stored key ``major * n_minor + minor``. Expected linear time.

    Returns ``(first, previous)``: the smallest position that repeats an
    earlier pair and the position of that earlier one, or ``(-1, -1)``.
    """
    mask = keys.size - 1
    for t in range(major.size):
        key = np.int64(major[t]) * n_minor + minor[t]
        s = _slot(key, mask)
        while keys[s] != -1 and keys[s] != key:
            s = (s + 1) & mask
        if keys[s] == key:
            return t, slots[s]
        keys[s] = key
        slots[s] = t
    return -1, -1


@jit()
def find_pairs(major, minor, n_minor, keys, slots, found, mark):
    """For each pair ``t`` of ``(major, minor)`` stored in the table of
    :func:`pair_table` as its entry ``j``: ``found[j] = t`` and ``mark[t] =
    True``. Returns the number of pairs found."""
    mask = keys.size - 1
    count = 0
    for t in range(major.size):
        key = np.int64(major[t]) * n_minor + minor[t]
        s = _slot(key, mask)
        while keys[s] != -1:
            if keys[s] == key:
                found[slots[s]] = t
                mark[t] = True
                count += 1
                break
            s = (s + 1) & mask
    return count


@jit()
def grouped_duplicates(major, minor, n_major, n_minor, keep):
    """:func:`mark_duplicates` in one pass, for pairs grouped by ``major``
    (each major value's pairs contiguous, as in a Netflix file by movie or a
    MovieLens file by user): a stamp per minor value finds the repeats.

    Returns ``(grouped, count, first, previous)`` with the meaning of
    :func:`mark_duplicates`; ``grouped`` is False (and ``keep`` must be reset)
    when a major value comes back after another one.
    """
    seen = np.zeros(n_major, dtype=np.bool_)
    stamp = np.full(n_minor, -1, dtype=np.int64)
    last = np.empty(n_minor, dtype=np.int64)
    count = 0
    first = -1
    previous = -1
    group = -1
    for t in range(major.size):
        g = major[t]
        if g != group:
            if seen[g]:
                return False, 0, -1, -1
            seen[g] = True
            group = g
        j = minor[t]
        if stamp[j] == g:
            count += 1
            keep[last[j]] = False
            if first < 0:
                first = t
                previous = last[j]
        stamp[j] = g
        last[j] = t
    return True, count, first, previous
