"""Observed ratings of users x items: a container, metrics and fast file loaders.

:class:`Ratings` holds ``n`` observed ratings as three arrays (user index,
item index, rating) plus the maps from index back to raw id, and builds the
CSR and CSC matrices that matrix-completion algorithms consume.
:func:`load_ratings` reads the MovieLens and Netflix-prize formats with numba
byte parsers (:mod:`fastsvd._parsing`) and generic CSV, TSV and Parquet files
through pandas, and keeps a binary cache so that a second load of the same
file takes seconds even at 100M ratings.

Everything here runs in time linear in the number of ratings and without one
Python object per rating (except the pandas formats, whose cost is pandas').
"""

from __future__ import annotations

import hashlib
import numbers
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from . import _parsing
from ._numba import jit
from ._validation import check_choice, check_random_state

__all__ = ["FORMATS", "Ratings", "detect_format", "load_ratings", "mae", "rmse"]

FORMATS = ("movielens-100k", "movielens-dat", "movielens-csv", "netflix", "csv", "tsv",
           "parquet")
_DUPLICATES = ("error", "last")
_FILE_KIND = "fastsvd.Ratings"
_CACHE_KIND = "fastsvd.ratings-cache"
_FORMAT_VERSION = 1
_INT32_LIMIT = 2**31 - 1


# --------------------------------------------------------------------------- kernels


@jit()
def _pairs_increase(major, minor):
    """True if the pairs ``(major[t], minor[t])`` strictly increase with ``t``."""
    for t in range(1, major.size):
        if major[t] < major[t - 1] or (major[t] == major[t - 1] and minor[t] <= minor[t - 1]):
            return False
    return True


@jit()
def _sort_pairs(major, minor, n_major, n_minor, indptr, order, scratch):
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
def _mark_duplicates(major, minor, order, keep):
    """Clear ``keep`` at every position whose pair occurs again later.

    ``order`` comes from :func:`_sort_pairs`. Returns ``(count, first, previous)``:
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
def _mark_present(raw, low, present):
    for t in range(raw.size):
        present[raw[t] - low] = True


@jit()
def _lookup(raw, low, table, out):
    for t in range(raw.size):
        out[t] = table[raw[t] - low]


@jit()
def _hold_out(groups, perm, quota, test):
    """Mark ``test`` for the first ``quota[g]`` positions of each group ``g``,
    visiting positions in the (random) order ``perm``."""
    taken = np.zeros(quota.size, dtype=np.int64)
    for s in range(perm.size):
        t = perm[s]
        g = groups[t]
        if taken[g] < quota[g]:
            taken[g] += 1
            test[t] = True


# --------------------------------------------------------------------------- helpers


def _index_dtype(size) -> np.dtype:
    """int32 when every index below ``size`` fits, else int64."""
    return np.dtype(np.int32) if size <= _INT32_LIMIT + 1 else np.dtype(np.int64)


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _scalar(value):
    """A numpy scalar as the Python object it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _values_dtype(dtype, name) -> np.dtype:
    """float32 stays float32; bools, integers and other floats become float64."""
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return dtype
    if dtype.kind in "biuf":
        return np.dtype(np.float64)
    raise TypeError(f"{name} must hold real numbers, got dtype {dtype}; convert it, e.g. "
                    f"np.asarray({name}, dtype=np.float64).")


def _as_1d(array, name) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {array.shape}; flatten it "
                         f"with np.ravel({name}).")
    return array


def _check_indices(array, name) -> None:
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


def _check_shape(shape) -> tuple[int, int]:
    try:
        m, n = shape
    except (TypeError, ValueError):
        raise ValueError(f"shape must be a pair (n_users, n_items), got {shape!r}.") from None
    for label, size in (("n_users", m), ("n_items", n)):
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral):
            raise TypeError(f"shape must hold integers, got {label}={size!r}.")
        if size < 1:
            raise ValueError(f"shape must be positive, got {label}={size}.")
    return int(m), int(n)


def _check_ids(ids, size, name) -> np.ndarray:
    """An id map: 1-d, ``size`` entries, no id twice. Returned read-only."""
    if ids is None:
        return _readonly(np.arange(size, dtype=np.int64))
    ids = _as_1d(ids, name)
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
    return _readonly(np.array(ids, copy=True))


def _factorize(raw, name) -> tuple[np.ndarray, np.ndarray]:
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
            _mark_present(raw, low, present)
            ids = (np.flatnonzero(present) + low).astype(raw.dtype)
            index_dtype = _index_dtype(ids.size)
            table = np.cumsum(present, dtype=index_dtype) - 1
            del present
            index = np.empty(raw.size, dtype=index_dtype)
            _lookup(raw, low, table, index)
            return ids, index
    try:
        ids, index = np.unique(raw, return_inverse=True)
    except TypeError:
        raise TypeError(f"{name} must hold sortable ids (all numbers or all strings, no missing "
                        "values).") from None
    if ids.dtype == object:
        ids = _plain_ids(ids)
    return ids, index.reshape(-1).astype(_index_dtype(ids.size), copy=False)


def _plain_ids(ids) -> np.ndarray:
    """Object ids as a numeric or string array when they all are of one kind."""
    try:
        plain = np.array(ids.tolist())
    except (TypeError, ValueError):
        return ids
    if plain.shape == ids.shape and plain.dtype.kind in "iufU":
        return plain
    return ids


def _check_fraction(value, name) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in (0, 1), got {value!r}.")
    if not 0 < value < 1:
        raise ValueError(f"{name}={value} is out of range; it must lie in (0, 1), e.g. 0.2.")
    return float(value)


# --------------------------------------------------------------------------- Ratings


class Ratings:
    """Observed ratings of users x items, stored as index arrays plus id maps.

    Rating ``t`` says that user ``users[t]`` (a row, 0-based) gave item
    ``items[t]`` (a column) the rating ``values[t]``; ``user_ids[users[t]]``
    and ``item_ids[items[t]]`` are the raw ids.

    Parameters
    ----------
    users, items : array_like of int, shape (n,)
        0-based row and column indices, ``0 <= users < shape[0]`` and
        ``0 <= items < shape[1]``. Stored as int32 when the shape allows,
        else int64.
    values : array_like of float, shape (n,)
        Finite ratings. float32 stays float32; anything else becomes float64.
    shape : (int, int), optional
        ``(n_users, n_items)``. Default: the length of ``user_ids`` /
        ``item_ids`` when given, else the largest index plus one.
    user_ids, item_ids : array_like, optional
        Raw id of each index (distinct). Default ``np.arange``.
    duplicates : {"error", "last"}
        What to do when a (user, item) pair occurs more than once.
        ``"error"`` (default) raises ``ValueError`` naming the first repeated
        pair (the one whose second occurrence comes first in input order);
        ``"last"`` keeps, for each pair, only its last occurrence in input
        order, and drops the others.

    Notes
    -----
    The input arrays are never modified, and never shared: they are copied
    (and converted) on construction. The stored arrays are read-only and
    keep the input order of the ratings (less dropped duplicates). At least
    one rating is required.
    """

    def __init__(self, users, items, values, *, shape=None, user_ids=None, item_ids=None,
                 duplicates="error"):
        self._setup(users, items, values, shape, user_ids, item_ids, duplicates, copy=True)

    # ------------------------------------------------------------ construction

    def _setup(self, users, items, values, shape, user_ids, item_ids, duplicates, *, copy,
               check=True):
        """Validate and store. ``copy=False`` takes ownership of arrays the
        caller made itself; ``check=False`` trusts content that was already
        validated (subsets, cache files) and checks only sizes and dtypes."""
        check_choice(duplicates, _DUPLICATES, name="duplicates")
        users, items, values = (_as_1d(users, "users"), _as_1d(items, "items"),
                                _as_1d(values, "values"))
        if not users.size == items.size == values.size:
            raise ValueError(f"users, items and values must have equal lengths, got "
                             f"{users.size}, {items.size} and {values.size}.")
        if users.size == 0:
            raise ValueError("no ratings: users, items and values are empty; a Ratings needs "
                             "at least one rating.")
        _check_indices(users, "users")
        _check_indices(items, "items")
        dtype = _values_dtype(values.dtype, "values")
        if shape is None:
            shape = (len(user_ids) if user_ids is not None else int(users.max()) + 1,
                     len(item_ids) if item_ids is not None else int(items.max()) + 1)
        m, n = _check_shape(shape)
        for name, index, size in (("users", users, m), ("items", items, n)):
            if check and index.max() >= size:
                over = index >= size
                first = int(np.argmax(over))
                raise ValueError(f"{name} holds {int(over.sum())} indices >= {size} (the "
                                 f"first at position {first}: {index[first]}), outside the "
                                 f"shape {(m, n)}; pass a larger shape or fix the indices.")
        self._shape = (m, n)
        self._users = _readonly(users.astype(_index_dtype(m), copy=copy))
        self._items = _readonly(items.astype(_index_dtype(n), copy=copy))
        self._values = _readonly(values.astype(dtype, copy=copy))
        if check:
            finite = np.isfinite(self._values)
            if not finite.all():
                first = int(np.argmin(finite))
                raise ValueError(f"values holds {finite.size - int(finite.sum())} NaN or "
                                 f"infinite ratings (the first at position {first}: "
                                 f"{self._values[first]}); drop or impute them first.")
            del finite
        self._user_ids = (user_ids if not check and user_ids is not None
                          else _check_ids(user_ids, m, "user_ids"))
        self._item_ids = (item_ids if not check and item_ids is not None
                          else _check_ids(item_ids, n, "item_ids"))
        self._csr = self._csc = None
        self._sorters = {}
        if check:
            self._resolve_duplicates(duplicates)

    @classmethod
    def _trusted(cls, users, items, values, shape, user_ids, item_ids):
        """A Ratings over already validated, owned arrays (no copies, no checks)."""
        self = cls.__new__(cls)
        self._setup(users, items, values, shape, user_ids, item_ids, "error", copy=False,
                    check=False)
        return self

    def _resolve_duplicates(self, duplicates):
        order = self._sorted_order(self._users, self._items, self._shape)[1]
        keep = np.ones(len(self), dtype=np.bool_)
        count, first, previous = _mark_duplicates(self._users, self._items, order, keep)
        del order
        if not count:
            return
        if duplicates == "error":
            user = _scalar(self._user_ids[self._users[first]])
            item = _scalar(self._item_ids[self._items[first]])
            raise ValueError(f"the (user, item) pair ({user!r}, {item!r}) is rated more than "
                             f"once (at positions {previous} and {first}; {count} rating(s) "
                             "repeat an earlier pair in all). Pass duplicates=\"last\" to keep "
                             "the last rating of each pair, or remove the duplicates.")
        self._users = _readonly(self._users[keep])
        self._items = _readonly(self._items[keep])
        self._values = _readonly(self._values[keep])

    @staticmethod
    def _sorted_order(major, minor, shape):
        """``(indptr, order)`` of :func:`_sort_pairs` over ``shape = (n_major, n_minor)``."""
        n = major.size
        index_dtype = np.int32 if n <= _INT32_LIMIT else np.int64
        indptr = np.empty(shape[0] + 1, dtype=np.int64)
        order = np.empty(n, dtype=index_dtype)
        scratch = np.empty(n, dtype=index_dtype)
        _sort_pairs(major, minor, shape[0], shape[1], indptr, order, scratch)
        return indptr, order

    @classmethod
    def from_ids(cls, raw_users, raw_items, values, *, duplicates="error"):
        """Ratings from raw ids of any sortable dtype (integers or strings).

        Indices follow the sorted distinct ids, as ``np.unique(raw,
        return_inverse=True)`` gives them, so ``user_ids`` and ``item_ids``
        are sorted; the shape is the number of distinct ids on each axis.
        Integer ids of moderate range are mapped in linear time. See the
        class docstring for ``duplicates``.
        """
        raw_users, raw_items = _as_1d(raw_users, "raw_users"), _as_1d(raw_items, "raw_items")
        values = _as_1d(values, "values")
        if not raw_users.size == raw_items.size == values.size:
            raise ValueError(f"raw_users, raw_items and values must have equal lengths, got "
                             f"{raw_users.size}, {raw_items.size} and {values.size}.")
        if raw_users.size == 0:
            raise ValueError("no ratings: raw_users, raw_items and values are empty; a Ratings "
                             "needs at least one rating.")
        user_ids, users = _factorize(raw_users, "raw_users")
        item_ids, items = _factorize(raw_items, "raw_items")
        return cls._owned(users, items, values, (user_ids.size, item_ids.size), user_ids,
                          item_ids, duplicates, copy_values=True)

    @classmethod
    def _owned(cls, users, items, values, shape, user_ids, item_ids, duplicates, *,
               copy_values):
        """Validate and wrap index arrays this module created (not copied again)."""
        self = cls.__new__(cls)
        values = _as_1d(values, "values")
        values = values.astype(_values_dtype(values.dtype, "values"), copy=copy_values)
        self._setup(users, items, values, shape, user_ids, item_ids, duplicates, copy=False)
        return self

    @classmethod
    def from_dataframe(cls, df, user="user", item="item", rating="rating", duplicates="error"):
        """Ratings from the columns ``user``, ``item`` and ``rating`` of a
        pandas DataFrame; ids are mapped as in :meth:`from_ids`. A float32
        rating column stays float32."""
        columns = getattr(df, "columns", None)
        if columns is None:
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}.")
        missing = [c for c in (user, item, rating) if c not in columns]
        if missing:
            raise ValueError(f"the DataFrame has no column(s) {', '.join(map(repr, missing))}; "
                             f"its columns are {list(columns)}. Choose the columns with "
                             "user=, item= and rating=.")
        column = df[rating]
        if column.dtype == np.float32:
            values = column.to_numpy()
        else:
            try:
                values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                raise TypeError(f"column {rating!r} must hold numbers, got dtype "
                                f"{column.dtype}.") from None
        return cls.from_ids(df[user].to_numpy(), df[item].to_numpy(), values,
                            duplicates=duplicates)

    @classmethod
    def from_sparse(cls, matrix, duplicates="error"):
        """Ratings from a scipy.sparse matrix or array: rows are users, columns
        items, and every stored entry is a rating, stored zeros included.

        The matrix is never densified. A non-canonical CSR or COO that stores
        a (row, column) more than once follows the ``duplicates`` rule, in the
        matrix's storage order. The matrix is not modified.
        """
        if not sp.issparse(matrix):
            raise TypeError(f"matrix must be a scipy.sparse matrix or array, got "
                            f"{type(matrix).__name__}; use Ratings(users, items, values) for "
                            "index arrays.")
        if matrix.ndim != 2:
            raise ValueError(f"matrix must be 2-dimensional, got shape {matrix.shape}.")
        coo = matrix if matrix.format == "coo" else matrix.tocoo(copy=False)
        if coo.nnz == 0:
            raise ValueError("the matrix stores no entries; a Ratings needs at least one "
                             "rating.")
        return cls(coo.row, coo.col, coo.data, shape=matrix.shape, duplicates=duplicates)

    # ------------------------------------------------------------ accessors

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_users, n_items)``."""
        return self._shape

    @property
    def n_users(self) -> int:
        return self._shape[0]

    @property
    def n_items(self) -> int:
        return self._shape[1]

    @property
    def users(self) -> np.ndarray:
        """User index of each rating (read-only, int32 or int64)."""
        return self._users

    @property
    def items(self) -> np.ndarray:
        """Item index of each rating (read-only, int32 or int64)."""
        return self._items

    @property
    def values(self) -> np.ndarray:
        """The ratings (read-only, float32 or float64)."""
        return self._values

    @property
    def dtype(self) -> np.dtype:
        return self._values.dtype

    @property
    def user_ids(self) -> np.ndarray:
        """Raw id of each user index (read-only)."""
        return self._user_ids

    @property
    def item_ids(self) -> np.ndarray:
        """Raw id of each item index (read-only)."""
        return self._item_ids

    def __len__(self) -> int:
        return int(self._values.size)

    def __repr__(self) -> str:
        m, n = self._shape
        return f"Ratings({m} users x {n} items, {len(self)} ratings, {self.dtype})"

    @property
    def csr(self) -> sp.csr_matrix:
        """users x items ``scipy.sparse.csr_matrix`` with sorted indices and no
        duplicates, built on first access and cached: do not modify it in
        place (copy it first)."""
        if self._csr is None:
            indptr, indices, data = self._compressed(self._users, self._items, self._shape)
            self._csr = sp.csr_matrix((data, indices, indptr), shape=self._shape)
            self._csr.has_sorted_indices = True
        return self._csr

    @property
    def csc(self) -> sp.csc_matrix:
        """users x items ``scipy.sparse.csc_matrix`` with sorted indices, built
        on first access and cached: do not modify it in place."""
        if self._csc is None:
            indptr, indices, data = self._compressed(self._items, self._users,
                                                     self._shape[::-1])
            self._csc = sp.csc_matrix((data, indices, indptr), shape=self._shape)
            self._csc.has_sorted_indices = True
        return self._csc

    def _compressed(self, major, minor, shape):
        """``(indptr, indices, data)`` grouped by ``major``. Ratings already in
        that order (as generated or split data often are) share their arrays
        with the result instead of copying them."""
        index_dtype = np.int32 if max(len(self), shape[1]) <= _INT32_LIMIT else np.int64
        if _pairs_increase(major, minor):
            indptr = np.zeros(shape[0] + 1, dtype=np.int64)
            np.cumsum(np.bincount(major, minlength=shape[0]), out=indptr[1:])
            return (indptr.astype(index_dtype, copy=False),
                    minor.astype(index_dtype, copy=False), self._values)
        indptr, order = self._sorted_order(major, minor, shape)
        indices = minor[order].astype(index_dtype, copy=False)
        data = self._values[order]
        return indptr.astype(index_dtype, copy=False), indices, data

    def user_index(self, raw_ids):
        """Index of each raw user id, -1 for ids not seen. A scalar gives an int."""
        return self._index(raw_ids, self._user_ids, "user")

    def item_index(self, raw_ids):
        """Index of each raw item id, -1 for ids not seen. A scalar gives an int."""
        return self._index(raw_ids, self._item_ids, "item")

    def _index(self, raw_ids, ids, key):
        query = np.asarray(raw_ids)
        scalar = query.ndim == 0
        query = query.reshape(-1)
        sorter = self._sorters.get(key)
        if sorter is None:
            sorted_ids = ids.size < 2 or bool(np.all(ids[1:] > ids[:-1]))
            sorter = self._sorters[key] = (None if sorted_ids
                                           else np.argsort(ids, kind="stable"))
        found = np.full(query.size, -1, dtype=np.int64)
        try:
            pos = np.searchsorted(ids, query, sorter=sorter)
            np.minimum(pos, ids.size - 1, out=pos)
            if sorter is not None:
                pos = sorter[pos]
            hit = ids[pos] == query
        except TypeError:  # ids and query of kinds that do not compare: nothing found
            hit = np.zeros(query.size, dtype=np.bool_)
        if np.ndim(hit) == 0:
            hit = np.full(query.size, bool(hit))
        found[hit] = pos[hit]
        return int(found[0]) if scalar else found

    # ------------------------------------------------------------ subsets

    def subset(self, mask_or_indices) -> Ratings:
        """The ratings selected by a boolean mask of ``len(self)`` entries or by
        integer positions (each at most once); same shape and id maps. The
        selection keeps the order it gives (mask: input order)."""
        selection = np.asarray(mask_or_indices)
        n = len(self)
        if selection.size == 0:
            raise ValueError("the subset selects no ratings; a Ratings needs at least one.")
        if selection.dtype == np.bool_:
            if selection.shape != (n,):
                raise ValueError(f"a boolean mask must have shape ({n},), one entry per "
                                 f"rating, got {selection.shape}.")
        elif selection.dtype.kind in "iu":
            selection = _as_1d(selection, "mask_or_indices")
            if selection.min() < -n or selection.max() >= n:
                raise ValueError(f"subset positions must lie in [-{n}, {n}), got "
                                 f"[{selection.min()}, {selection.max()}].")
            selection = np.where(selection < 0, selection + n, selection)
            if np.bincount(selection, minlength=n).max() > 1:
                raise ValueError("subset positions repeat a rating; select each rating at "
                                 "most once (see np.unique).")
        else:
            raise TypeError(f"mask_or_indices must be a boolean mask or integer positions, "
                            f"got dtype {selection.dtype}.")
        if selection.dtype == np.bool_ and not selection.any():
            raise ValueError("the subset selects no ratings; a Ratings needs at least one.")
        return type(self)._trusted(self._users[selection], self._items[selection],
                                   self._values[selection], self._shape, self._user_ids,
                                   self._item_ids)

    def split(self, test_fraction=0.2, *, by="random", random_state=None):
        """Split into ``(train, test)`` Ratings with the same shape and id maps.

        Every rating lands in exactly one part; both keep the input order.

        * ``by="random"``: a uniformly random set of ``round(test_fraction *
          len(self))`` ratings (at least 1, at most ``len(self) - 1``) is
          held out.
        * ``by="user"``: user ``u`` with ``c`` ratings has ``floor(test_fraction
          * c + U)`` of them held out, ``U`` uniform in [0, 1) (an unbiased
          rounding of ``test_fraction * c``), but at most ``c - 1``: every user
          with at least 2 ratings keeps at least one in train, and a user
          with one rating keeps it in train.

        The same ``random_state`` (None, int, Generator) gives the same split.
        """
        test_fraction = _check_fraction(test_fraction, "test_fraction")
        check_choice(by, ("random", "user"), name="by")
        rng = check_random_state(random_state)
        n = len(self)
        if n < 2:
            raise ValueError("splitting needs at least 2 ratings, one for each part.")
        test = np.zeros(n, dtype=np.bool_)
        if by == "random":
            n_test = min(max(round(test_fraction * n), 1), n - 1)
            test[rng.permutation(n)[:n_test]] = True
        else:
            counts = np.bincount(self._users, minlength=self.n_users)
            quota = np.floor(test_fraction * counts + rng.random(counts.size)).astype(np.int64)
            np.minimum(quota, np.maximum(counts - 1, 0), out=quota)
            _hold_out(self._users, rng.permutation(n), quota, test)
            if not test.any():
                raise ValueError("by='user' held out no rating: every user has a single "
                                 "rating, or test_fraction is too small; use by='random' "
                                 "or a larger test_fraction.")
        return self.subset(~test), self.subset(test)

    # ------------------------------------------------------------ files

    def save(self, path) -> None:
        """Write a binary ``.npz`` file (exactly at ``path``; no suffix is
        added) that :meth:`load` reads back. Ids of dtype object must be all
        numbers or all strings."""
        arrays = self._arrays()
        with open(path, "wb") as file:
            np.savez(file, kind=np.array(_FILE_KIND), format_version=np.array(_FORMAT_VERSION),
                     **arrays)

    def _arrays(self) -> dict:
        return {"users": self._users, "items": self._items, "values": self._values,
                "shape": np.array(self._shape, dtype=np.int64),
                "user_ids": _savable_ids(self._user_ids, "user_ids"),
                "item_ids": _savable_ids(self._item_ids, "item_ids")}

    @classmethod
    def load(cls, path) -> Ratings:
        """Read a file written by :meth:`save`, fully validated again.

        Raises ``ValueError`` for a truncated or corrupt file, a file that
        :meth:`save` did not write, or one of another format version.
        """
        return _read_npz(cls, path, _FILE_KIND, check=True)


def _savable_ids(ids, name) -> np.ndarray:
    if ids.dtype == object:
        plain = _plain_ids(ids)
        if plain.dtype == object:
            raise ValueError(f"{name} of dtype object cannot be saved; convert them to "
                             "numbers or strings first.")
        return plain
    return ids


class _WrongFile(ValueError):
    """A readable ``.npz`` that is not the expected kind or version."""


def _read_npz(cls, path, kind, *, check, key=None):
    """A Ratings from an ``.npz`` of ``kind``; ValueError when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            found_kind = str(npz["kind"]) if "kind" in npz.files else None
            if found_kind != kind:
                raise _WrongFile(f"{path} is not a {kind} file (it holds "
                                 f"{found_kind or 'no kind marker'}).")
            version = int(npz["format_version"])
            if version != _FORMAT_VERSION:
                raise _WrongFile(f"{path} has format version {version}, but this fastsvd "
                                 f"reads version {_FORMAT_VERSION}; save it again with the "
                                 "fastsvd that reads it.")
            if key is not None and str(npz["key"]) != key:
                raise _WrongFile(f"{path} caches another file.")
            arrays = {name: npz[name] for name in ("users", "items", "values", "shape",
                                                   "user_ids", "item_ids")}
    except _WrongFile:
        raise
    except Exception as exc:  # zipfile, zlib, numpy and OS errors of a damaged file
        raise ValueError(f"{path} is not a readable ratings file (truncated or corrupt?): "
                         f"{type(exc).__name__}: {exc}") from None
    shape = tuple(int(s) for s in arrays.pop("shape"))
    self = cls.__new__(cls)
    if check:
        self._setup(arrays["users"], arrays["items"], arrays["values"], shape,
                    arrays["user_ids"], arrays["item_ids"], "error", copy=False)
        return self
    try:
        _check_cached(arrays, shape)
        self._setup(arrays["users"], arrays["items"], arrays["values"], shape,
                    _readonly(arrays["user_ids"]), _readonly(arrays["item_ids"]), "error",
                    copy=False, check=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path} holds inconsistent arrays: {exc}") from None
    return self


def _check_cached(arrays, shape):
    """The cheap checks of a cache file's content (sizes, dtypes, index range)."""
    m, n = _check_shape(shape)
    users, items, values = arrays["users"], arrays["items"], arrays["values"]
    if arrays["user_ids"].shape != (m,) or arrays["item_ids"].shape != (n,):
        raise ValueError("the id maps do not match the shape")
    for index, size in ((users, m), (items, n)):
        if index.dtype.kind not in "iu" or index.ndim != 1 or index.size == 0:
            raise ValueError("bad index array")
        if index.min() < 0 or index.max() >= size:
            raise ValueError("indices out of range")
    if values.dtype.kind != "f" or values.shape != users.shape or items.shape != users.shape:
        raise ValueError("bad values array")


# --------------------------------------------------------------------------- metrics


def _pair(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if y_true.size != y_pred.size:
        raise ValueError(f"y_true and y_pred must have equal lengths, got {y_true.size} and "
                         f"{y_pred.size}.")
    if y_true.size == 0:
        raise ValueError("y_true and y_pred are empty; an error needs at least one rating.")
    for name, array in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contains NaN or infinity; an error over such values is "
                             "undefined.")
    return y_true, y_pred


def rmse(y_true, y_pred) -> float:
    """Root mean squared error ``sqrt(mean((y_true - y_pred) ** 2))``, in float64."""
    y_true, y_pred = _pair(y_true, y_pred)
    diff = y_true - y_pred
    return float(np.sqrt(np.dot(diff, diff) / diff.size))


def mae(y_true, y_pred) -> float:
    """Mean absolute error ``mean(|y_true - y_pred|)``, in float64."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


# --------------------------------------------------------------------------- loaders


def load_ratings(path, *, format="auto", dtype=np.float32, cache=True, cache_dir=None,
                 user="user", item="item", rating="rating") -> Ratings:
    """Read a rating file into :class:`Ratings`.

    Parameters
    ----------
    path : str or Path
        A file, or for ``"netflix"`` a directory of ``mv_*.txt`` files (or
        one with a ``training_set`` subfolder of them).
    format : str
        ``"auto"`` (default: from the file name, extension and first line),
        or one of

        * ``"movielens-100k"``: ``u.data`` style ``user<TAB>item<TAB>rating<TAB>
          timestamp``, no header;
        * ``"movielens-dat"``: ``ratings.dat`` of MovieLens 1M/10M,
          ``user::item::rating::timestamp``;
        * ``"movielens-csv"``: ``ratings.csv`` of later MovieLens releases,
          header ``userId,movieId,rating,timestamp``;
        * ``"netflix"``: Netflix-prize text, ``movie_id:`` lines each followed
          by ``user_id,rating,YYYY-MM-DD`` lines (one or many movies per
          file, as in ``mv_*.txt`` and ``combined_data_*.txt``);
        * ``"csv"`` / ``"tsv"``: delimited text with a header, read with
          pandas; ``"parquet"``: read with pandas (pyarrow engine). The
          columns are named by ``user``, ``item`` and ``rating``.
    dtype : float32 or float64
        dtype of the ratings.
    cache : bool
        Keep the parsed arrays in a binary cache and reuse them while the
        file keeps its path, size and modification time.
    cache_dir : str or Path, optional
        Default: ``$FASTSVD_CACHE/ratings`` if ``FASTSVD_CACHE`` is set, else
        ``~/.cache/fastsvd/ratings``.
    user, item, rating : str
        Column names for the pandas formats.

    Returns
    -------
    Ratings
        Raw ids mapped as in :meth:`Ratings.from_ids` (sorted ids); a
        repeated (user, item) pair raises ``ValueError``.

    Notes
    -----
    The numeric formats are parsed by numba kernels straight from the file's
    bytes, with memory for the results only; a malformed line raises
    ``ValueError`` naming the file and its 1-based line number. Blank lines,
    ``\\r\\n`` line ends and a missing final newline are accepted. A corrupt
    cache file is ignored and rewritten; a cache that cannot be written
    gives a warning, not an error.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such rating file or directory: {path}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}.")
    fmt = detect_format(path) if format == "auto" else check_choice(format, FORMATS,
                                                                       name="format")
    if path.is_dir() and fmt != "netflix":
        raise ValueError(f"{path} is a directory; format {fmt!r} reads a single file.")
    columns = (user, item, rating) if fmt in ("csv", "tsv", "parquet") else ()
    if not cache:
        return _parse(path, fmt, dtype, columns)
    key = _cache_key(path, fmt, dtype, columns)
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    file = _cache_dir(cache_dir) / f"{path.name}-{digest}.npz"
    if file.exists():
        try:
            return _read_npz(Ratings, file, _CACHE_KIND, check=False, key=key)
        except ValueError:
            pass  # corrupt, or of another version: parse again and overwrite it
    ratings = _parse(path, fmt, dtype, columns)
    _write_cache(ratings, file, key)
    return ratings


def _parse(path, fmt, dtype, columns) -> Ratings:
    if fmt in _parsing.FORMATS:
        return _from_parsed(path, fmt, dtype)
    df = _read_table(path, fmt, columns)
    user, item, rating = columns
    try:
        ratings = Ratings.from_dataframe(df, user=user, item=item, rating=rating)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if ratings.dtype != dtype:
        ratings = Ratings._trusted(ratings.users, ratings.items, ratings.values.astype(dtype),
                                   ratings.shape, ratings.user_ids, ratings.item_ids)
    return ratings


def _from_parsed(path, fmt, dtype) -> Ratings:
    """Parse a numeric format and map its raw ids, taking ownership of the
    parser's arrays. Each raw id array is released as soon as it is mapped,
    which keeps the peak memory near that of the parser's output."""
    users, items, values = _parsing.read_ratings_file(path, fmt, dtype)
    user_ids, users = _factorize(users, "users")
    item_ids, items = _factorize(items, "items")
    try:
        return Ratings._owned(users, items, values, (user_ids.size, item_ids.size), user_ids,
                              item_ids, "error", copy_values=False)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _read_table(path, fmt, columns):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a test/bench dependency
        raise ImportError(f"reading format {fmt!r} needs pandas: pip install pandas.") from None
    wanted = set(columns)
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError("reading parquet needs pyarrow: pip install pyarrow.") from None
        df = pd.read_parquet(path, engine="pyarrow")
        available = list(df.columns)
    else:
        sep = "," if fmt == "csv" else "\t"
        available = list(pd.read_csv(path, sep=sep, nrows=0).columns)
        df = pd.read_csv(path, sep=sep, usecols=lambda name: name in wanted)
    missing = [c for c in columns if c not in available]
    if missing:
        raise ValueError(f"{path} has no column(s) {', '.join(map(repr, missing))}; its "
                         f"columns are {available}. Choose the columns with user=, item= and "
                         "rating=.")
    return df


def detect_format(path) -> str:
    """The format of a rating file or directory, from its name, extension and
    first line (see :func:`load_ratings`). Raises ``ValueError`` when unsure."""
    path = Path(path)
    if path.is_dir():
        if _parsing.netflix_files(path):
            return "netflix"
        raise ValueError(f"{path} is a directory without mv_*.txt files; pass the rating "
                         "file itself, or format=.")
    name = path.name.lower()
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    first = _first_line(path)
    if first.startswith("PAR1"):
        return "parquet"
    if name.startswith(("mv_", "combined_data")) and suffix == ".txt":
        return "netflix"
    if name == "u.data" or suffix in (".base", ".test"):
        return "movielens-100k"
    fields = first.strip()
    if fields.endswith(":") and fields[:-1].strip().isdigit():
        return "netflix"
    if "::" in fields:
        return "movielens-dat"
    if fields.replace(" ", "").lower() == "userid,movieid,rating,timestamp":
        return "movielens-csv"
    parts = fields.split("\t")
    if len(parts) == 4 and all(_is_number(p) for p in parts):
        return "movielens-100k"
    parts = fields.split(",")
    if len(parts) == 4 and all(_is_number(p) for p in parts):
        return "movielens-csv"
    if suffix == ".tsv" or (suffix != ".csv" and "\t" in fields):
        return "tsv"
    if suffix == ".csv" or "," in fields:
        return "csv"
    raise ValueError(f"cannot tell the format of {path} from its name or first line "
                     f"{first[:60]!r}; pass format= one of {', '.join(map(repr, FORMATS))}.")


def _first_line(path) -> str:
    with open(path, "rb") as file:
        head = file.read(4096)
    if head.startswith(b"PAR1"):
        return "PAR1"
    return head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r").decode(
        "utf-8", errors="replace")


def _is_number(text) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cache_dir(cache_dir) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    root = os.environ.get("FASTSVD_CACHE")
    return Path(root) / "ratings" if root else Path.home() / ".cache" / "fastsvd" / "ratings"


def _cache_key(path, fmt, dtype, columns) -> str:
    """Absolute path, size and mtime of the file (of each ``mv_*.txt`` for a
    directory), format, dtype and columns: any change gives another key."""
    path = path.resolve()
    files = _parsing.netflix_files(path) if path.is_dir() else [path]
    stamps = []
    for file in files:
        stat = file.stat()
        stamps.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join([f"v{_FORMAT_VERSION}", str(path), fmt, dtype.name, *columns,
                     hashlib.sha256("\n".join(stamps).encode()).hexdigest()])


def _write_cache(ratings, file, key):
    tmp = None
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=file.parent, suffix=".tmp", delete=False) as out:
            tmp = out.name
            np.savez(out, kind=np.array(_CACHE_KIND), format_version=np.array(_FORMAT_VERSION),
                     key=np.array(key), **ratings._arrays())
        os.replace(tmp, file)
    except (OSError, ValueError) as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        warnings.warn(f"could not write the ratings cache {file}: {exc}", RuntimeWarning,
                      stacklevel=3)
