"""The Netflix-prize files: the training set with its probe split, and the
qualifying pairs (:func:`load_netflix_prize`).

The prize data come as ``training_set/mv_*.txt`` (``movie_id:`` then
``user_id,rating,YYYY-MM-DD`` lines), ``probe.txt`` (``movie_id:`` then user
ids: pairs of the training set held out for validation) and
``qualifying.txt`` (``movie_id:`` then ``user_id,YYYY-MM-DD``: pairs to
predict, without ratings). Everything is parsed by the byte parsers and
matched in expected linear time through a hash table of the pairs: no Python
object per rating.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._checks import check_bool
from ..kernels import sorting
from . import parsers
from ._ids import index_dtype, index_of, readonly
from .container import Ratings
from .io import load_ratings


@dataclass(frozen=True, eq=False)
class Pairs:
    """(user, item) pairs without ratings, indexed like a :class:`Ratings`.

    ``users[k]`` and ``items[k]`` are indices into ``user_ids`` and
    ``item_ids`` (the id maps of the training ratings, shared, read-only);
    :attr:`raw_users` and :attr:`raw_items` give the raw ids, which is what
    :meth:`fastsvd.SoftImpute.predict` takes.
    """

    users: np.ndarray
    items: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray

    def __len__(self) -> int:
        return int(self.users.size)

    @property
    def raw_users(self) -> np.ndarray:
        return self.user_ids[self.users]

    @property
    def raw_items(self) -> np.ndarray:
        return self.item_ids[self.items]

    def __repr__(self) -> str:
        return f"Pairs({len(self)} (user, item) pairs)"


class NetflixPrize(NamedTuple):
    """What :func:`load_netflix_prize` returns (unpacks as a tuple)."""

    train: Ratings
    test: Ratings | None
    qualifying: Pairs | None


def load_netflix_prize(training_set, *, probe=None, qualifying=None, dtype=np.float32,
                       cache=True, cache_dir=None, progress=False) -> NetflixPrize:
    """Read the Netflix-prize files: the training set, its probe split and the
    qualifying pairs.

    Parameters
    ----------
    training_set : str or Path
        The ``training_set`` directory of ``mv_*.txt`` files (or its parent,
        or one ``combined_data`` style file), read by :func:`load_ratings`
        with ``format="netflix"`` (and its cache).
    probe : str or Path, optional
        ``probe.txt``: ``movie_id:`` lines, each followed by the ids of users
        who rated that movie in the training set.
    qualifying : str or Path, optional
        ``qualifying.txt``: ``movie_id:`` lines, each followed by
        ``user_id,YYYY-MM-DD`` lines.
    dtype, cache, cache_dir, progress
        As in :func:`load_ratings`, for the training set.

    Returns
    -------
    NetflixPrize
        ``(train, test, qualifying)``. With ``probe``: ``train`` holds the
        training ratings minus the probe pairs (in file order) and ``test``
        the probe pairs with their training-set ratings, in the order of
        ``probe.txt``; without it, ``train`` holds every rating and ``test``
        is ``None``. ``qualifying`` is a :class:`Pairs` in the order of
        ``qualifying.txt`` (``None`` without the file). All three share the
        id maps (and shape) of the whole training set, so a model fitted on
        ``train`` predicts ``test`` and ``qualifying`` by raw ids, and a user
        whose every rating is in the probe keeps its index.

    Raises
    ------
    ValueError
        Naming the file and 1-based line: a malformed line, a probe pair the
        training set does not rate (or a user or movie it does not know), a
        qualifying pair of an unknown user or movie, or a pair listed twice
        in ``probe.txt`` or in ``qualifying.txt``. Also when the probe holds
        every rating (nothing would be left to train on).

    Notes
    -----
    Linear time in the number of ratings and pairs (a hash table of the
    probe pairs, one pass over the training ratings). Qualifying pairs are
    not checked against the training ratings (in the prize data they are
    disjoint from them).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fastsvd.ratings import load_netflix_prize
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "training_set").mkdir()
    >>> _ = (root / "training_set" / "mv_0000001.txt").write_text(
    ...     "1:\\n7,4,2005-01-02\\n9,3,2005-02-03\\n")
    >>> _ = (root / "training_set" / "mv_0000002.txt").write_text("2:\\n7,5,2005-03-04\\n")
    >>> _ = (root / "probe.txt").write_text("1:\\n9\\n")
    >>> _ = (root / "qualifying.txt").write_text("2:\\n9,2005-09-01\\n")
    >>> train, test, pairs = load_netflix_prize(root / "training_set", probe=root / "probe.txt",
    ...                                         qualifying=root / "qualifying.txt", cache=False)
    >>> len(train), test.values.tolist(), test.user_ids[test.users].tolist()
    (2, [3.0], [9])
    >>> pairs.raw_users.tolist(), pairs.raw_items.tolist()
    ([9], [2])
    """
    check_bool(progress, name="progress")
    for what, path in (("probe", probe), ("qualifying", qualifying)):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"no such {what} file: {path}")
    ratings = load_ratings(training_set, format="netflix", dtype=dtype, cache=cache,
                           cache_dir=cache_dir, progress=progress)
    pairs = None
    if qualifying is not None:
        pairs = _read_pairs(Path(qualifying), "netflix-qualifying", ratings, training_set)[0]
    if probe is None:
        return NetflixPrize(ratings, None, pairs)
    owner = [ratings]  # handed over, so that the split can release the whole set part by part
    del ratings
    train, test = _probe_split(owner, Path(probe), training_set)
    return NetflixPrize(train, test, pairs)


def _probe_split(owner, probe, training_set):
    """``(train, test)`` of the Ratings in the list ``owner`` (taken out of it)."""
    ratings = owner.pop()
    pairs, keys, slots, sources = _read_pairs(probe, "netflix-probe", ratings, training_set)
    found = np.full(len(pairs), -1, dtype=np.int64)
    in_probe = np.zeros(len(ratings), dtype=np.bool_)
    sorting.find_pairs(ratings.users, ratings.items, ratings.n_items, keys, slots, found,
                       in_probe)
    del keys, slots
    missing = found < 0
    if missing.any():
        first = int(np.argmax(missing))
        raise ValueError(f"{_where(sources, 'netflix-probe', first)}: the probe pair (user "
                         f"{pairs.raw_users[first]}, movie {pairs.raw_items[first]}) is not "
                         f"rated in the training set {training_set} ({int(missing.sum())} "
                         "probe pair(s) in all); the probe must list pairs of the training "
                         "set.")
    if in_probe.all():
        raise ValueError(f"{probe} lists every rating of {training_set}: nothing is left to "
                         "train on.")
    shape, user_ids, item_ids = ratings.shape, ratings.user_ids, ratings.item_ids
    test = Ratings._trusted(ratings.users[found], ratings.items[found], ratings.values[found],
                            shape, user_ids, item_ids)
    del found
    # Train: one array at a time, each dropping its whole-set original (the
    # peak is the whole set plus one array, not twice the set).
    arrays = [ratings.users, ratings.items, ratings.values]
    del ratings
    keep = np.logical_not(in_probe, out=in_probe)
    for k in range(3):
        arrays[k] = arrays[k][keep]
    del keep, in_probe
    return Ratings._trusted(*arrays, shape, user_ids, item_ids), test


def _read_pairs(path, fmt, ratings, training_set):
    """The pairs of ``probe.txt`` or ``qualifying.txt`` as a :class:`Pairs`
    over the ids of ``ratings``, with their hash table and the parser's sources."""
    sources = []
    raw_users, raw_items, _ = parsers.read_ratings_file(path, fmt, sources=sources)
    users = index_of(ratings.user_ids, raw_users)
    items = index_of(ratings.item_ids, raw_items)
    unknown = (users < 0) | (items < 0)
    if unknown.any():
        first = int(np.argmax(unknown))
        what = (f"user {raw_users[first]}" if users[first] < 0 else
                f"movie {raw_items[first]}")
        raise ValueError(f"{_where(sources, fmt, first)}: {what} is not in the training set "
                         f"{training_set} ({int(unknown.sum())} pair(s) of unknown users or "
                         "movies in all).")
    del raw_users, raw_items, unknown
    size = 1 << max(4, int(2 * users.size).bit_length())
    keys = np.full(size, -1, dtype=np.int64)
    slots = np.empty(size, dtype=np.int64)
    first, previous = sorting.pair_table(users, items, ratings.n_items, keys, slots)
    if first >= 0:
        (file, line_a), (_, line_b) = parsers.locate(sources, fmt, [previous, first])
        raise ValueError(f"{file}: the pair (user {ratings.user_ids[users[first]]}, movie "
                         f"{ratings.item_ids[items[first]]}) is listed twice, on lines "
                         f"{line_a} and {line_b}.")
    pairs = Pairs(readonly(users.astype(index_dtype(ratings.n_users))),
                  readonly(items.astype(index_dtype(ratings.n_items))), ratings.user_ids,
                  ratings.item_ids)
    return pairs, keys, slots, sources


def _where(sources, fmt, position) -> str:
    (file, line), = parsers.locate(sources, fmt, [position])
    return f"{file}, line {line}"
