"""Validation and id maps shared by the ratings container and its loaders."""

from __future__ import annotations

import numpy as np

from .._checks import check_int
from ..kernels import sorting

INT32_LIMIT = 2**31 - 1


def index_dtype(size) -> np.dtype:
    """int32 when every index below ``size`` fits, else int64."""
    return np.dtype(np.int32) if size <= INT32_LIMIT + 1 else np.dtype(np.int64)


def readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def scalar(value):
    """A numpy scalar as the Python object it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def as_1d(array, name) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {array.shape}; flatten it "
                         f"with np.ravel({name}).")
    return array


def check_indices(array, name) -> None:
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer indices, got dtype {array.dtype}; pass "
                        f"0-based integers, e.g. np.asarray({name}, dtype=np.int64), or use "
                        "Ratings.from_ids for raw ids.")
    if array.dtype.kind == "i" and array.size and array.min() < 0:
        negative = array < 0
        first = int(np.argmax(negative))
        raise ValueError(f"{name} holds {int(negative.sum())} negative indices (the first at "
                         f"position {first}: {array[first]}); indices are 0-based and must be "
                         ">= 0. Use Ratings.from_ids for raw ids.")


def check_shape(shape) -> tuple[int, int]:
    """``(n_users, n_items)``, both positive integers."""
    try:
        m, n = shape
    except (TypeError, ValueError):
        raise ValueError(f"shape must be a pair (n_users, n_items), got {shape!r}.") from None
    return (check_int(m, name="shape[0] (n_users)", low=1),
            check_int(n, name="shape[1] (n_items)", low=1))


def check_ids(ids, size, name) -> np.ndarray:
    """An id map: 1-d, ``size`` entries, no id twice. Returned read-only."""
    if ids is None:
        return readonly(np.arange(size, dtype=np.int64))
    ids = as_1d(ids, name)
    if ids.size != size:
        raise ValueError(f"{name} has {ids.size} ids but the shape has {size} "
                         f"{'users' if name == 'user_ids' else 'items'}; pass one id per "
                         "index.")
    try:
        unique = np.unique(ids)
    except TypeError:
        raise TypeError(f"{name} must hold sortable ids (all numbers or all strings).") from None
    if unique.size != ids.size:
        raise ValueError(f"{name} holds {ids.size - unique.size} repeated ids; each index needs "
                         "its own id.")
    return readonly(np.array(ids, copy=True))


def factorize(raw, name) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, index)``: the sorted distinct ids of ``raw`` and ``raw``'s
    position in them (``ids[index] == raw``), like
    ``np.unique(raw, return_inverse=True)`` but linear time for integer ids
    of moderate range."""
    if raw.dtype.kind == "f" and np.isnan(raw).any():
        first = int(np.argmax(np.isnan(raw)))
        raise ValueError(f"{name} holds {int(np.isnan(raw).sum())} missing (NaN) ids, the "
                         f"first at position {first}; drop those ratings first.")
    if raw.dtype in (np.int32, np.int64) and raw.size:
        low, high = int(raw.min()), int(raw.max())
        span = high - low + 1
        if span <= max(4 * raw.size, 1 << 20):
            present = np.zeros(span, dtype=np.bool_)
            sorting.mark_present(raw, low, present)
            ids = (np.flatnonzero(present) + low).astype(raw.dtype)
            itype = index_dtype(ids.size)
            table = np.cumsum(present, dtype=itype) - 1
            del present
            index = np.empty(raw.size, dtype=itype)
            sorting.lookup(raw, low, table, index)
            return ids, index
    try:
        ids, index = np.unique(raw, return_inverse=True)
    except TypeError:
        raise TypeError(f"{name} must hold sortable ids (all numbers or all strings, no missing "
                        "values).") from None
    if ids.dtype == object:
        ids = plain_ids(ids)
    return ids, index.reshape(-1).astype(index_dtype(ids.size), copy=False)


def index_of(ids, raw) -> np.ndarray:
    """Position of each ``raw`` id in the sorted distinct int64 ``ids``, -1
    for ids not there: a dense table (linear time) when the ids span a
    moderate range, else a binary search."""
    index = np.full(raw.size, -1, dtype=np.int64)
    if ids.size == 0 or raw.size == 0:
        return index
    low, high = int(ids[0]), int(ids[-1])
    if high - low + 1 <= max(4 * (ids.size + raw.size), 1 << 20):
        table = np.full(high - low + 1, -1, dtype=index_dtype(ids.size))
        table[ids - low] = np.arange(ids.size, dtype=table.dtype)
        sorting.lookup_known(raw, low, table, index)
        return index
    pos = np.minimum(np.searchsorted(ids, raw), ids.size - 1)
    hit = ids[pos] == raw
    index[hit] = pos[hit]
    return index


def plain_ids(ids) -> np.ndarray:
    """Object ids as a numeric or string array when they all are of one kind."""
    try:
        plain = np.array(ids.tolist())
    except (TypeError, ValueError):
        return ids
    if plain.shape == ids.shape and plain.dtype.kind in "iufU":
        return plain
    return ids

