"""The :class:`Ratings` container: observed ratings of users x items.

It holds ``n`` observed ratings as three arrays (user index, item index,
rating) plus the maps from index back to raw id, and builds the CSR and CSC
matrices that matrix-completion algorithms consume. Everything runs in time
linear in the number of ratings, without one Python object per rating.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._checks import check_choice, check_fraction, check_random_state, working_dtype
from ..kernels import sorting
from . import files
from ._ids import (
    INT32_LIMIT,
    as_1d,
    check_ids,
    check_indices,
    check_shape,
    factorize,
    index_dtype,
    readonly,
    scalar,
)

DUPLICATES = ("error", "last")


class DuplicateRatings(ValueError):
    """A (user, item) pair rated more than once (``duplicates="error"``).

    ``pair`` holds the raw ids, ``positions`` the input positions of the
    first repetition and of the occurrence before it, ``count`` the number
    of ratings that repeat an earlier pair; file loaders turn the positions
    into file lines.
    """

    def __init__(self, message, pair, positions, count):
        super().__init__(message)
        self.pair, self.positions, self.count = pair, positions, count


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
        check_choice(duplicates, DUPLICATES, name="duplicates")
        users, items, values = (as_1d(users, "users"), as_1d(items, "items"),
                                as_1d(values, "values"))
        if not users.size == items.size == values.size:
            raise ValueError(f"users, items and values must have equal lengths, got "
                             f"{users.size}, {items.size} and {values.size}.")
        if users.size == 0:
            raise ValueError("no ratings: users, items and values are empty; a Ratings needs "
                             "at least one rating.")
        check_indices(users, "users")
        check_indices(items, "items")
        dtype = working_dtype(values.dtype, name="values")
        if shape is None:
            shape = (len(user_ids) if user_ids is not None else int(users.max()) + 1,
                     len(item_ids) if item_ids is not None else int(items.max()) + 1)
        m, n = check_shape(shape)
        for name, index, size in (("users", users, m), ("items", items, n)):
            if check and index.max() >= size:
                over = index >= size
                first = int(np.argmax(over))
                raise ValueError(f"{name} holds {int(over.sum())} indices >= {size} (the "
                                 f"first at position {first}: {index[first]}), outside the "
                                 f"shape {(m, n)}; pass a larger shape or fix the indices.")
        self._shape = (m, n)
        self._users = readonly(users.astype(index_dtype(m), copy=copy))
        self._items = readonly(items.astype(index_dtype(n), copy=copy))
        self._values = readonly(values.astype(dtype, copy=copy))
        if check:
            finite = np.isfinite(self._values)
            if not finite.all():
                first = int(np.argmin(finite))
                raise ValueError(f"values holds {finite.size - int(finite.sum())} NaN or "
                                 f"infinite ratings (the first at position {first}: "
                                 f"{self._values[first]}); drop or impute them first.")
            del finite
        self._user_ids = (user_ids if not check and user_ids is not None
                          else check_ids(user_ids, m, "user_ids"))
        self._item_ids = (item_ids if not check and item_ids is not None
                          else check_ids(item_ids, n, "item_ids"))
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
        keep = np.ones(len(self), dtype=np.bool_)
        m, n = self._shape
        # Ratings grouped by item (Netflix files) or by user (sorted MovieLens
        # files) take one pass; others a counting sort (8 bytes per rating more).
        for major, minor, shape in ((self._items, self._users, (n, m)),
                                    (self._users, self._items, (m, n))):
            grouped, count, first, previous = sorting.grouped_duplicates(major, minor, *shape,
                                                                         keep)
            if grouped:
                break
            keep[:] = True
        else:
            order = self._sorted_order(self._users, self._items, self._shape)[1]
            count, first, previous = sorting.mark_duplicates(self._users, self._items, order,
                                                             keep)
            del order
        if not count:
            return
        if duplicates == "error":
            user = scalar(self._user_ids[self._users[first]])
            item = scalar(self._item_ids[self._items[first]])
            raise DuplicateRatings(
                f"the (user, item) pair ({user!r}, {item!r}) is rated more than once (at "
                f"positions {previous} and {first}; {count} rating(s) repeat an earlier pair "
                "in all). Pass duplicates=\"last\" to keep the last rating of each pair, or "
                "remove the duplicates.", (user, item), (int(previous), int(first)), int(count))
        self._users = readonly(self._users[keep])
        self._items = readonly(self._items[keep])
        self._values = readonly(self._values[keep])

    @staticmethod
    def _sorted_order(major, minor, shape):
        """``(indptr, order)`` of :func:`_sort_pairs` over ``shape = (n_major, n_minor)``."""
        n = major.size
        index_dtype = np.int32 if n <= INT32_LIMIT else np.int64
        indptr = np.empty(shape[0] + 1, dtype=np.int64)
        order = np.empty(n, dtype=index_dtype)
        scratch = np.empty(n, dtype=index_dtype)
        sorting.sort_pairs(major, minor, shape[0], shape[1], indptr, order, scratch)
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
        raw_users, raw_items = as_1d(raw_users, "raw_users"), as_1d(raw_items, "raw_items")
        values = as_1d(values, "values")
        if not raw_users.size == raw_items.size == values.size:
            raise ValueError(f"raw_users, raw_items and values must have equal lengths, got "
                             f"{raw_users.size}, {raw_items.size} and {values.size}.")
        if raw_users.size == 0:
            raise ValueError("no ratings: raw_users, raw_items and values are empty; a Ratings "
                             "needs at least one rating.")
        user_ids, users = factorize(raw_users, "raw_users")
        item_ids, items = factorize(raw_items, "raw_items")
        return cls._owned(users, items, values, (user_ids.size, item_ids.size), user_ids,
                          item_ids, duplicates, copy_values=True)

    @classmethod
    def _owned(cls, users, items, values, shape, user_ids, item_ids, duplicates, *,
               copy_values):
        """Validate and wrap index arrays this module created (not copied again)."""
        self = cls.__new__(cls)
        values = as_1d(values, "values")
        values = values.astype(working_dtype(values.dtype, name="values"), copy=copy_values)
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
        index_dtype = np.int32 if max(len(self), shape[1]) <= INT32_LIMIT else np.int64
        if sorting.pairs_increase(major, minor):
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
            selection = as_1d(selection, "mask_or_indices")
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
        test_fraction = check_fraction(test_fraction, name="test_fraction")
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
            sorting.hold_out(self._users, rng.permutation(n), quota, test)
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
        with open(path, "wb") as file:
            files.write(file, self._arrays(), files.FILE_KIND)

    def _arrays(self) -> dict:
        return {"users": self._users, "items": self._items, "values": self._values,
                "shape": np.array(self._shape, dtype=np.int64), "user_ids": self._user_ids,
                "item_ids": self._item_ids}

    @classmethod
    def load(cls, path) -> Ratings:
        """Read a file written by :meth:`save`, fully validated again.

        Raises ``ValueError`` for a truncated or corrupt file, a file that
        :meth:`save` did not write, or one of another format version.
        """
        return cls._from_arrays(files.read(path, files.FILE_KIND), path, check=True)

    @classmethod
    def _from_arrays(cls, arrays, path, *, check) -> Ratings:
        """A Ratings over arrays read from ``path``. ``check=False`` (a cache
        this library wrote) runs only the cheap checks: sizes, dtypes and
        index ranges."""
        shape = tuple(int(s) for s in arrays["shape"])
        self = cls.__new__(cls)
        if check:
            self._setup(arrays["users"], arrays["items"], arrays["values"], shape,
                        arrays["user_ids"], arrays["item_ids"], "error", copy=False)
            return self
        try:
            _check_cached(arrays, shape)
            self._setup(arrays["users"], arrays["items"], arrays["values"], shape,
                        readonly(arrays["user_ids"]), readonly(arrays["item_ids"]), "error",
                        copy=False, check=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path} holds inconsistent arrays: {exc}") from None
        return self


def _check_cached(arrays, shape):
    """The cheap checks of a cache file's content (sizes, dtypes, index range)."""
    m, n = check_shape(shape)
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
