"""Ratings container, metrics and rating-file loaders (fastsvd.ratings)."""

import os

import numpy as np
import pytest
import scipy.sparse as sp

from fastsvd.ratings import Ratings, detect_format, load_ratings, mae, rmse
from fastsvd.ratings import parsers as _parsing

# --------------------------------------------------------------------------- helpers


def raw_triples(n=300, *, seed=0, integer_ratings=False):
    """Distinct (user, item) pairs with sparse raw ids, in random order."""
    rng = np.random.default_rng(seed)
    user_pool = np.sort(rng.choice(10_000, size=40, replace=False)) + 1
    item_pool = np.sort(rng.choice(100_000, size=60, replace=False)) + 1
    cells = rng.choice(user_pool.size * item_pool.size, size=n, replace=False)
    users = user_pool[cells // item_pool.size]
    items = item_pool[cells % item_pool.size]
    if integer_ratings:
        values = rng.integers(1, 6, size=n).astype(np.float64)
    else:
        values = rng.integers(1, 11, size=n) / 2.0
    return users.astype(np.int64), items.astype(np.int64), values


def lines_for(fmt, users, items, values):
    """Text lines of a rating file in ``fmt`` (one line per rating or header)."""
    stamps = 874_965_758 + np.arange(users.size)
    rows = list(zip(users, items, values, stamps, strict=True))
    if fmt == "movielens-100k":
        return [f"{u}\t{i}\t{v:g}\t{t}" for u, i, v, t in rows]
    if fmt == "movielens-dat":
        return [f"{u}::{i}::{v:g}::{t}" for u, i, v, t in rows]
    if fmt == "movielens-csv":
        return ["userId,movieId,rating,timestamp"] + [f"{u},{i},{v:g},{t}" for u, i, v, t in rows]
    if fmt == "netflix":
        lines = []
        for movie in np.unique(items):
            lines.append(f"{movie}:")
            for t in np.flatnonzero(items == movie):
                lines.append(f"{users[t]},{values[t]:g},2005-{1 + t % 12:02d}-{1 + t % 28:02d}")
        return lines
    raise AssertionError(fmt)


def write(path, lines, *, newline="\n", final_newline=True, trailing_blank=False):
    text = newline.join(lines) + (newline if final_newline else "")
    if trailing_blank:
        text += newline + "  " + newline
    path.write_bytes(text.encode())
    return path


def netflix_order(users, items, values):
    """The triples in the order a Netflix file lists them (grouped by movie)."""
    order = np.concatenate([np.flatnonzero(items == m) for m in np.unique(items)])
    return users[order], items[order], values[order]


def assert_same(ratings, expected):
    assert ratings.shape == expected.shape
    np.testing.assert_array_equal(ratings.users, expected.users)
    np.testing.assert_array_equal(ratings.items, expected.items)
    np.testing.assert_array_equal(ratings.values, expected.values)
    np.testing.assert_array_equal(ratings.user_ids, expected.user_ids)
    np.testing.assert_array_equal(ratings.item_ids, expected.item_ids)


def raw_set(ratings):
    """The ratings as a set of (raw user, raw item, rating) tuples."""
    return set(zip(ratings.user_ids[ratings.users].tolist(),
                   ratings.item_ids[ratings.items].tolist(), ratings.values.tolist(),
                   strict=True))


NUMERIC = ["movielens-100k", "movielens-dat", "movielens-csv", "netflix"]
FILE_NAMES = {"movielens-100k": "u.data", "movielens-dat": "ratings.dat",
              "movielens-csv": "ratings.csv", "netflix": "combined_data_1.txt"}


# --------------------------------------------------------------------------- construction


def test_construction_dtypes_shape_and_repr():
    r = Ratings([0, 2, 1], np.array([1, 0, 3], dtype=np.uint8), np.array([1, 2, 3]))
    assert r.shape == (3, 4) and (r.n_users, r.n_items) == (3, 4) and len(r) == 3
    assert r.users.dtype == np.int32 and r.items.dtype == np.int32
    assert r.values.dtype == np.float64
    np.testing.assert_array_equal(r.user_ids, np.arange(3))
    assert repr(r) == "Ratings(3 users x 4 items, 3 ratings, float64)"
    r32 = Ratings([0], [0], np.array([2.5], dtype=np.float32), shape=(5, 7))
    assert r32.values.dtype == np.float32 and r32.shape == (5, 7)
    ids = Ratings([0], [1], [1.0], user_ids=["a", "b"], item_ids=[10, 20, 30])
    assert ids.shape == (2, 3) and ids.user_index("b") == 1


def test_stored_arrays_are_read_only():
    r = Ratings([0, 1], [1, 0], [1.0, 2.0])
    for array in (r.users, r.items, r.values, r.user_ids, r.item_ids):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0


def test_caller_arrays_are_never_modified_nor_shared():
    users = np.array([0, 1, 1, 2, 0], dtype=np.int64)
    items = np.array([0, 0, 0, 1, 2], dtype=np.int32)
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0], dtype=np.float32)
    copies = [users.copy(), items.copy(), values.copy()]
    r = Ratings(users, items, values, duplicates="last")
    r.csr, r.csc, r.split(0.4, random_state=0), r.split(0.4, by="user", random_state=0)
    Ratings.from_ids(users, items, values, duplicates="last")
    for array, copy in zip((users, items, values), copies, strict=True):
        np.testing.assert_array_equal(array, copy)
        assert array.flags.writeable
    unique = Ratings(users[:4:2], items[:4:2], values[:4:2])
    users[:] = 0
    values[:] = -1
    np.testing.assert_array_equal(unique.values, [1.0, 3.0])
    np.testing.assert_array_equal(unique.users, [0, 1])


def test_from_sparse_does_not_modify_or_share_the_matrix():
    A = sp.random(30, 20, density=0.2, format="csr", random_state=0)
    data = A.data.copy()
    r = Ratings.from_sparse(A)
    A.data[:] = 7
    np.testing.assert_array_equal(np.sort(r.values), np.sort(data))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(users=[0, 1], items=[0], values=[1.0]), ValueError, "equal lengths"),
    (dict(users=[[0, 1]], items=[[0, 1]], values=[[1.0, 1.0]]), ValueError, "1-dimensional"),
    (dict(users=[], items=[], values=[]), ValueError, "at least one rating"),
    (dict(users=[0.0, 1.0], items=[0, 1], values=[1, 2]), TypeError, "integer indices"),
    (dict(users=[0, 1], items=[0, 1], values=["a", "b"]), TypeError, "real numbers"),
    (dict(users=[0, -1, -2], items=[0, 1, 2], values=[1, 2, 3]), ValueError,
     r"users holds 2 negative indices \(the first at position 1: -1\)"),
    (dict(users=[0, 1], items=[0, 5], values=[1, 2], shape=(2, 5)), ValueError,
     r"items holds 1 indices >= 5 \(the first at position 1: 5\)"),
    (dict(users=[0, 1], items=[0, 1], values=[1, 2], shape=(2, 0)), ValueError,
     r"shape\[1\] \(n_items\)=0 is out of range"),
    (dict(users=[0, 1], items=[0, 1], values=[1, 2], shape=3), ValueError, "pair"),
    (dict(users=[0, 1], items=[0, 1], values=[1, 2], shape=(2, 2), user_ids=[5]), ValueError,
     "user_ids has 1 ids but the shape has 2 users"),
    (dict(users=[0, 1], items=[0, 1], values=[1, 2], item_ids=["x", "x"]), ValueError,
     "repeated ids"),
    (dict(users=[0, 1], items=[0, 1], values=[1, 2], duplicates="first"), ValueError,
     "duplicates='first' is not supported"),
])
def test_invalid_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        Ratings(kwargs.pop("users"), kwargs.pop("items"), kwargs.pop("values"), **kwargs)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_ratings_rejected(bad):
    values = np.array([1.0, 2.0, bad, 4.0, bad], dtype=np.float32)
    with pytest.raises(ValueError, match=r"2 NaN or infinite ratings \(the first at position 2"):
        Ratings([0, 1, 2, 3, 4], [0, 0, 0, 0, 0], values)
    with pytest.raises(ValueError, match="NaN or infinite"):
        Ratings.from_ids(["a", "b"], ["x", "y"], [bad, 1.0])


# --------------------------------------------------------------------------- duplicates


def test_duplicates_error_names_first_raw_pair():
    with pytest.raises(ValueError, match=r"\('bob', 'y'\) is rated more than once \(at "
                                         r"positions 1 and 3.*duplicates=\"last\""):
        Ratings.from_ids(["al", "bob", "al", "bob", "al"], ["x", "y", "z", "y", "x"],
                         [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match=r"\(7, 9\) is rated more than once"):
        Ratings([0, 1, 1], [0, 1, 1], [1, 2, 3], user_ids=[5, 7], item_ids=[8, 9])


def test_duplicates_last_keeps_last_occurrence_in_input_order():
    r = Ratings([0, 1, 0, 1, 0, 2], [0, 1, 0, 1, 0, 0], [1, 2, 3, 4, 5, 6], duplicates="last")
    # The survivors are the occurrences at positions 3, 4 and 5, in that order.
    np.testing.assert_array_equal(r.users, [1, 0, 2])
    np.testing.assert_array_equal(r.items, [1, 0, 0])
    np.testing.assert_array_equal(r.values, [4, 5, 6])
    assert r.shape == (3, 2)


def test_from_sparse_stored_zeros_and_duplicates():
    A = sp.csr_matrix((np.array([0.0, 2.0, 3.0]), np.array([1, 0, 2]), np.array([0, 1, 3])),
                      shape=(2, 4))
    r = Ratings.from_sparse(A)
    assert len(r) == 3 and r.shape == (2, 4)
    assert raw_set(r) == {(0, 1, 0.0), (1, 0, 2.0), (1, 2, 3.0)}
    coo = sp.coo_matrix(([1.0, 2.0, 3.0], ([0, 1, 0], [2, 2, 2])), shape=(3, 3))
    with pytest.raises(ValueError, match=r"\(0, 2\) is rated more than once"):
        Ratings.from_sparse(coo)
    last = Ratings.from_sparse(coo, duplicates="last")
    assert raw_set(last) == {(1, 2, 2.0), (0, 2, 3.0)}
    repeated = sp.csr_matrix((np.array([1.0, 2.0]), np.array([1, 1]), np.array([0, 2])),
                             shape=(1, 2))
    assert raw_set(Ratings.from_sparse(repeated, duplicates="last")) == {(0, 1, 2.0)}
    with pytest.raises(ValueError, match="more than once"):
        Ratings.from_sparse(repeated)


def test_from_sparse_never_densifies_and_accepts_arrays():
    A = sp.coo_array(([4.0, 5.0], ([3, 999_999], [999_998, 7])), shape=(10**6, 10**6))
    r = Ratings.from_sparse(A)
    assert r.shape == (10**6, 10**6) and raw_set(r) == {(3, 999_998, 4.0), (999_999, 7, 5.0)}
    assert r.csr.shape == (10**6, 10**6) and r.csr.nnz == 2
    csc = Ratings.from_sparse(sp.csc_matrix(A))
    assert raw_set(csc) == raw_set(r)
    with pytest.raises(TypeError, match=r"scipy\.sparse"):
        Ratings.from_sparse(np.eye(3))
    with pytest.raises(ValueError, match="no entries"):
        Ratings.from_sparse(sp.csr_matrix((3, 3)))


# --------------------------------------------------------------------------- ids


def test_from_ids_maps_sorted_ids_and_index_lookup():
    r = Ratings.from_ids(["carol", "al", "bob", "al"], [30, 10, 30, 20], [1, 2, 3, 4])
    np.testing.assert_array_equal(r.user_ids, ["al", "bob", "carol"])
    np.testing.assert_array_equal(r.item_ids, [10, 20, 30])
    np.testing.assert_array_equal(r.users, [2, 0, 1, 0])
    np.testing.assert_array_equal(r.items, [2, 0, 2, 1])
    np.testing.assert_array_equal(r.user_index(["bob", "zed", "al", ""]), [1, -1, 0, -1])
    np.testing.assert_array_equal(r.item_index([30, 15, 10, 99]), [2, -1, 0, -1])
    assert r.user_index("carol") == 2 and r.item_index(31) == -1
    np.testing.assert_array_equal(r.item_index(["10"]), [-1])  # a string is not an int id
    np.testing.assert_array_equal(r.user_index([3]), [-1])


def test_index_lookup_with_unsorted_id_maps():
    r = Ratings([0, 1, 2], [0, 0, 1], [1, 2, 3], user_ids=[50, 10, 30], item_ids=["b", "a"])
    np.testing.assert_array_equal(r.user_index([10, 30, 50, 40, 60]), [1, 2, 0, -1, -1])
    np.testing.assert_array_equal(r.item_index(["a", "b", "c"]), [1, 0, -1])


def test_from_ids_large_sparse_integer_ids_match_unique():
    rng = np.random.default_rng(3)
    raw = rng.integers(-(2**40), 2**40, size=500)  # too spread for the linear-time path
    raw[::7] = 12
    items = np.arange(500)
    r = Ratings.from_ids(raw, items, np.ones(500))
    ids, inverse = np.unique(raw, return_inverse=True)
    np.testing.assert_array_equal(r.user_ids, ids)
    np.testing.assert_array_equal(r.users, inverse)
    dense = Ratings.from_ids(raw % 1000, items, np.ones(500))
    ids, inverse = np.unique(raw % 1000, return_inverse=True)
    np.testing.assert_array_equal(dense.user_ids, ids)
    np.testing.assert_array_equal(dense.users, inverse)


def test_from_ids_rejects_missing_ids():
    with pytest.raises(ValueError, match="missing"):
        Ratings.from_ids([1.0, np.nan], [1, 2], [1, 2])


def test_from_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"u": ["x", "y", "x"], "i": [3, 1, 1],
                       "r": np.array([1, 2, 3], dtype=np.float32)})
    r = Ratings.from_dataframe(df, user="u", item="i", rating="r")
    assert r.values.dtype == np.float32
    assert raw_set(r) == {("x", 3, 1.0), ("y", 1, 2.0), ("x", 1, 3.0)}
    with pytest.raises(ValueError, match=r"no column\(s\) 'user', 'rating'.*'u', 'i', 'r'"):
        Ratings.from_dataframe(df, item="i")


# --------------------------------------------------------------------------- matrices


def test_csr_and_csc_agree_with_triples():
    users, items, values = raw_triples(400, seed=1)
    r = Ratings.from_ids(users, items, values)
    dense = np.zeros(r.shape)
    dense[r.users, r.items] = r.values
    for matrix, kind in ((r.csr, sp.csr_matrix), (r.csc, sp.csc_matrix)):
        assert isinstance(matrix, kind) and matrix.shape == r.shape and matrix.nnz == len(r)
        assert matrix.has_canonical_format
        np.testing.assert_array_equal(matrix.toarray(), dense)
        for k in range(matrix.indptr.size - 1):
            segment = matrix.indices[matrix.indptr[k]:matrix.indptr[k + 1]]
            assert np.all(np.diff(segment) > 0)
    assert r.csr is r.csr and r.csc is r.csc


def test_ratings_in_matrix_order_share_their_arrays():
    rng = np.random.default_rng(3)
    dense = np.where(rng.random((30, 20)) < 0.3, rng.integers(1, 6, (30, 20)), 0)
    users, items = np.nonzero(dense)  # row-major order: already sorted by (user, item)
    in_order = Ratings(users, items, dense[users, items].astype(float), shape=dense.shape)
    shuffled = rng.permutation(users.size)
    other = Ratings(users[shuffled], items[shuffled], dense[users, items][shuffled].astype(float),
                    shape=dense.shape)
    for r in (in_order, other):
        np.testing.assert_array_equal(r.csr.toarray(), dense)
        np.testing.assert_array_equal(r.csc.toarray(), dense)
        assert r.csr.has_canonical_format
    assert np.shares_memory(in_order.csr.data, in_order.values)
    assert np.shares_memory(in_order.csr.indices, in_order.items)
    assert not np.shares_memory(other.csr.data, other.values)
    assert not np.shares_memory(in_order.csc.data, in_order.values)  # sorted by user, not item
    with pytest.raises(ValueError):  # shared arrays stay read-only
        in_order.csr.data[0] = 0


def test_csr_keeps_stored_zeros():
    r = Ratings([0, 1], [1, 0], [0.0, 2.0])
    assert r.csr.nnz == 2 and r.csc.nnz == 2


# --------------------------------------------------------------------------- subsets and splits


def test_subset_by_mask_and_indices():
    r = Ratings.from_ids(*raw_triples(50))
    mask = np.arange(50) % 3 == 0
    sub = r.subset(mask)
    np.testing.assert_array_equal(sub.values, r.values[mask])
    assert sub.shape == r.shape and sub.user_ids is r.user_ids and sub.item_ids is r.item_ids
    picked = r.subset([5, -1, 0])
    np.testing.assert_array_equal(picked.users, r.users[[5, 49, 0]])
    with pytest.raises(ValueError, match="repeat"):
        r.subset([1, 2, 1])
    with pytest.raises(ValueError, match=r"\[-50, 50\)"):
        r.subset([50])
    with pytest.raises(ValueError, match="selects no ratings"):
        r.subset(np.zeros(50, dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        r.subset(np.ones(49, dtype=bool))
    with pytest.raises(ValueError, match="selects no ratings"):
        r.subset([])
    with pytest.raises(TypeError, match="boolean mask or integer positions"):
        r.subset([0.5])


def test_random_split_partitions_the_ratings():
    r = Ratings.from_ids(*raw_triples(1000, seed=2))
    train, test = r.split(0.25, random_state=7)
    assert len(test) == 250 and len(train) == 750
    assert raw_set(train).isdisjoint(raw_set(test))
    assert raw_set(train) | raw_set(test) == raw_set(r)
    for part in (train, test):
        assert part.shape == r.shape and part.user_ids is r.user_ids
    again = r.split(0.25, random_state=7)
    assert_same(again[0], train)
    assert_same(again[1], test)
    assert raw_set(r.split(0.25, random_state=8)[1]) != raw_set(test)


def test_split_by_user_holds_out_per_user():
    rng = np.random.default_rng(5)
    counts = rng.integers(1, 30, size=200)
    users = np.repeat(np.arange(200), counts)
    items = np.concatenate([rng.choice(500, size=c, replace=False) for c in counts])
    r = Ratings(users, items, rng.random(users.size))
    fraction = 0.3
    train, test = r.split(fraction, by="user", random_state=0)
    assert raw_set(train).isdisjoint(raw_set(test))
    assert raw_set(train) | raw_set(test) == raw_set(r)
    n_train = np.bincount(train.users, minlength=200)
    n_test = np.bincount(test.users, minlength=200)
    assert np.all(n_train >= 1)  # every user keeps a rating in train
    assert np.all(n_test[counts == 1] == 0)
    expected = fraction * counts
    assert np.all(np.abs(n_test - expected) < 1)
    assert abs(len(test) / len(r) - fraction) < 0.03
    assert_same(r.split(fraction, by="user", random_state=0)[1], test)


@pytest.mark.parametrize(("kwargs", "error"), [
    (dict(test_fraction=0.0), ValueError), (dict(test_fraction=1.0), ValueError),
    (dict(test_fraction="0.2"), TypeError), (dict(by="item"), ValueError),
])
def test_split_invalid_arguments(kwargs, error):
    with pytest.raises(error):
        Ratings([0, 1, 2], [0, 1, 2], [1, 2, 3]).split(**kwargs)


def test_split_needs_something_to_hold_out():
    with pytest.raises(ValueError, match="at least 2"):
        Ratings([0], [0], [1.0]).split()
    with pytest.raises(ValueError, match="held out no rating"):
        Ratings([0, 1, 2], [0, 0, 0], [1, 2, 3]).split(by="user")


# --------------------------------------------------------------------------- metrics


def test_metrics():
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(np.sqrt(4 / 3))
    assert mae(np.array([1, 2, 3], dtype=np.float32), [2, 2, 1]) == pytest.approx(1.0)
    assert rmse([4.0], [4.0]) == 0.0
    for metric in (rmse, mae):
        with pytest.raises(ValueError, match="equal lengths"):
            metric([1, 2], [1])
        with pytest.raises(ValueError, match="empty"):
            metric([], [])
        with pytest.raises(ValueError, match="NaN"):
            metric([1.0], [np.nan])


# --------------------------------------------------------------------------- save / load


@pytest.mark.parametrize("string_ids", [False, True])
def test_save_load_round_trip(tmp_path, string_ids):
    users, items, values = raw_triples(200, seed=4)
    if string_ids:
        users = np.array([f"user-{u}" for u in users], dtype=object)
    r = Ratings.from_ids(users, items, values.astype(np.float32))
    path = tmp_path / "ratings.bin"
    r.save(path)
    assert path.exists()  # no suffix added
    loaded = Ratings.load(path)
    assert_same(loaded, r)
    assert loaded.values.dtype == np.float32


def test_load_rejects_corrupt_truncated_foreign_and_other_version(tmp_path):
    r = Ratings.from_ids(*raw_triples(100))
    good = tmp_path / "good.npz"
    r.save(good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(bytes(flipped))
    text = tmp_path / "text.npz"
    text.write_text("user,item\n")
    for path in (truncated, corrupt, text):
        with pytest.raises(ValueError, match="not a readable ratings file"):
            Ratings.load(path)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.arange(3))
    with pytest.raises(ValueError, match=r"not a fastsvd\.Ratings file"):
        Ratings.load(foreign)
    with np.load(good) as npz:
        arrays = dict(npz)
    arrays["format_version"] = np.array(2)
    newer = tmp_path / "newer.npz"
    np.savez(newer, **arrays)
    with pytest.raises(ValueError, match=r"format version 2.*reads version 1"):
        Ratings.load(newer)


# --------------------------------------------------------------------------- loaders


@pytest.mark.parametrize("fmt", NUMERIC)
@pytest.mark.parametrize(("newline", "final_newline", "trailing_blank"), [
    ("\n", True, False), ("\r\n", True, True), ("\n", False, False), ("\r\n", False, False),
    ("\n", True, True),
])
def test_numeric_formats_round_trip(tmp_path, fmt, newline, final_newline, trailing_blank):
    users, items, values = raw_triples(300, seed=6, integer_ratings=fmt == "netflix")
    if fmt == "netflix":
        users, items, values = netflix_order(users, items, values)
    path = write(tmp_path / FILE_NAMES[fmt], lines_for(fmt, users, items, values),
                 newline=newline, final_newline=final_newline, trailing_blank=trailing_blank)
    expected = Ratings.from_ids(users, items, values)
    for format in (fmt, "auto"):
        loaded = load_ratings(path, format=format, dtype=np.float64, cache=False)
        assert_same(loaded, expected)
    assert load_ratings(path, cache=False).values.dtype == np.float32


def test_netflix_directory_and_single_movie_files(tmp_path):
    users, items, values = netflix_order(*raw_triples(200, seed=8, integer_ratings=True))
    folder = tmp_path / "training_set"
    folder.mkdir()
    for movie in np.unique(items):
        rows = items == movie
        write(folder / f"mv_{movie:07d}.txt",
              lines_for("netflix", users[rows], items[rows], values[rows]))
    expected = Ratings.from_ids(users, items, values)
    assert_same(load_ratings(folder, dtype=np.float64, cache=False), expected)
    assert_same(load_ratings(tmp_path, format="netflix", dtype=np.float64, cache=False),
                expected)
    single = sorted(folder.glob("mv_*.txt"))[0]
    assert detect_format(single) == "netflix"
    bad = sorted(folder.glob("mv_*.txt"))[1]
    bad.write_text(bad.read_text() + "12,3,2005-13\n")
    n_lines = bad.read_text().count("\n")
    with pytest.raises(ValueError, match=f"malformed line {n_lines} in .*{bad.name}"):
        load_ratings(folder, cache=False)


def test_parser_reads_decimals_exactly(tmp_path):
    rng = np.random.default_rng(9)
    numbers, digits = rng.uniform(-50, 50, 400), rng.integers(0, 9, 400)
    texts = [f"{x:.{k}f}" for x, k in zip(numbers, digits, strict=True)]
    texts += ["5e-1", "+3", "-2.25", "0.1", "4.", ".5", "0007.50", "1E2", "2.5e+1",
              "123456789.123456", "0.000001"]
    lines = [f"{t}\t1\t{v}\t0" for t, v in enumerate(texts)]
    path = write(tmp_path / "decimals.tsv", lines)
    r = load_ratings(path, format="movielens-100k", dtype=np.float64, cache=False)
    np.testing.assert_array_equal(r.values, [float(v) for v in texts])


def test_bom_header_and_spaces_are_accepted(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_bytes(b"\xef\xbb\xbfuserId,movieId,rating,timestamp\n1, 2 ,3.5,0\n\n2,2,4,1")
    r = load_ratings(path, dtype=np.float64, cache=False)
    assert raw_set(r) == {(1, 2, 3.5), (2, 2, 4.0)}
    no_header = write(tmp_path / "plain.csv", ["1,2,3.5,0", "2,2,4,1"])
    assert detect_format(no_header) == "movielens-csv"
    assert len(load_ratings(no_header, cache=False)) == 2


MALFORMED = [
    ("movielens-100k", ["1\t2\t3\t4", "1\t2\t3"], 2, "expected 4 fields, found 3"),
    ("movielens-100k", ["1\t2\t3\t4", "", "1\tx\t3\t4"], 3, r"field 2 \(item\) is not a number"),
    ("movielens-100k", ["1\t2\t\t4"], 1, r"field 3 \(rating\) is empty"),
    ("movielens-100k", ["1\t2\t3\t4\t5"], 1, "found 5"),
    ("movielens-100k", ["1 2 3 4"], 1, "found 1"),
    ("movielens-100k", ["1\t2\t3\t4", "1\t3\t3\t2020-01-01"], 2, "timestamp"),
    ("movielens-100k", ["1234567890123456789\t2\t3\t4"], 1, "more than 18 digits"),
    ("movielens-dat", ["1::2::3::4", "1::2::3"], 2, "found 3"),
    ("movielens-dat", ["1::2::3::4", "1::2::nan::4"], 2, "rating"),
    ("movielens-dat", ["1:2:3:4"], 1, "found 1"),
    ("movielens-csv", ["userId,movieId,rating,timestamp", "1,2,3.5,4", "1,3,3.5"], 3,
     "found 3"),
    ("movielens-csv", ["userId,movieId,rating,timestamp", "1,,3.5,4"], 2, "movieId"),
    ("movielens-csv", ["userId,movieId,rating,timestamp", "1,2,3.5.1,4"], 2, "rating"),
    ("netflix", ["1,3,2005-01-01"], 1, "before the first 'movie_id:'"),
    ("netflix", ["1:", "1,3,2005-01-01", "2,3"], 3, "expected 3 fields, found 2"),
    ("netflix", ["1:", "1,3,2005-01-01", "x:"], 3, "movie line"),
    ("netflix", ["1:", "1,3,01/02/2005"], 2, "YYYY-MM-DD"),
    ("netflix", ["1:", "1,,2005-01-02"], 2, r"field 2 \(rating\) is empty"),
    ("netflix", ["1:", "u1,3,2005-01-02"], 2, r"field 1 \(user_id\) is not a number"),
]


@pytest.mark.parametrize(("fmt", "lines", "line", "what"), MALFORMED)
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_malformed_line_names_file_and_line(tmp_path, fmt, lines, line, what, newline):
    path = write(tmp_path / "bad-file.txt", lines, newline=newline)
    with pytest.raises(ValueError, match=f"malformed line {line} in .*bad-file.txt.*{what}"):
        load_ratings(path, format=fmt, cache=False)
    with pytest.raises(ValueError, match=f"malformed line {line} in "):
        _parsing.read_ratings_file(path, fmt)


@pytest.mark.parametrize("fmt", NUMERIC)
def test_empty_files_and_duplicates_in_files(tmp_path, fmt):
    empty = write(tmp_path / "empty.txt", ["", ""])
    with pytest.raises(ValueError, match="holds no ratings"):
        load_ratings(empty, format=fmt, cache=False)
    lines = lines_for(fmt, np.array([1, 2, 1]), np.array([5, 5, 5]), np.array([1.0, 2.0, 3.0]))
    path = write(tmp_path / "dup.txt", lines)
    with pytest.raises(ValueError, match=r"dup.txt.*\(1, 5\) is rated more than once"):
        load_ratings(path, format=fmt, cache=False)


def test_format_detection(tmp_path):
    cases = {
        "a.txt": (["1\t2\t3\t4"], "movielens-100k"),
        "u1.base": (["1\t2\t3\t4"], "movielens-100k"),
        "b.txt": (["1::2::3::4"], "movielens-dat"),
        "c.txt": (["userId,movieId,rating,timestamp"], "movielens-csv"),
        "d.txt": (["17:", "1,2,2005-01-01"], "netflix"),
        "e.csv": (["user,item,rating"], "csv"),
        "f.tsv": (["user\titem\trating"], "tsv"),
        "g.txt": (["a\tb\tc"], "tsv"),
    }
    for name, (lines, fmt) in cases.items():
        assert detect_format(write(tmp_path / name, lines)) == fmt, name
    assert detect_format(tmp_path / "h.parquet") == "parquet"
    with pytest.raises(ValueError, match="cannot tell the format"):
        detect_format(write(tmp_path / "i.txt", ["hello"]))
    with pytest.raises(ValueError, match="without mv_"):
        detect_format(tmp_path)
    with pytest.raises(ValueError, match="format='xml' is not supported"):
        load_ratings(tmp_path / "a.txt", format="xml")
    with pytest.raises(FileNotFoundError):
        load_ratings(tmp_path / "missing.txt")


def test_csv_and_tsv_through_pandas(tmp_path):
    pytest.importorskip("pandas")
    csv = write(tmp_path / "r.csv", ["user,item,rating,extra", "ann,i1,4.5,x", "bob,i1,3,y",
                                     "ann,i2,1,z"])
    r = load_ratings(csv, cache=False)
    assert r.values.dtype == np.float32
    assert raw_set(r) == {("ann", "i1", 4.5), ("bob", "i1", 3.0), ("ann", "i2", 1.0)}
    np.testing.assert_array_equal(r.user_ids, ["ann", "bob"])
    tsv = write(tmp_path / "r.tsv", ["u\tm\tscore", "3\t7\t2", "1\t7\t5"])
    r = load_ratings(tsv, user="u", item="m", rating="score", dtype=np.float64, cache=False)
    assert raw_set(r) == {(3, 7, 2.0), (1, 7, 5.0)}
    with pytest.raises(ValueError, match=r"r.tsv has no column\(s\) 'user', 'item'.*'score'"):
        load_ratings(tsv, cache=False)
    nan = write(tmp_path / "nan.csv", ["user,item,rating", "1,2,", "1,3,4"])
    with pytest.raises(ValueError, match=r"nan.csv: line 2 has no 'rating' value"):
        load_ratings(nan, cache=False)


def test_parquet_without_pyarrow_says_what_to_install(tmp_path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyarrow is installed")
    path = tmp_path / "r.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(ImportError, match="pip install pyarrow"):
        load_ratings(path, cache=False)


def test_parquet_through_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = tmp_path / "r.parquet"
    pd.DataFrame({"user": [1, 2], "item": ["a", "b"], "rating": [1.5, 2.0]}).to_parquet(path)
    r = load_ratings(path, cache=False)
    assert raw_set(r) == {(1, "a", 1.5), (2, "b", 2.0)}


# --------------------------------------------------------------------------- cache


def _forbid_parsing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the file was parsed again instead of read from the cache")

    monkeypatch.setattr(_parsing, "read_ratings_file", refuse)


@pytest.mark.parametrize("fmt", NUMERIC)
def test_second_load_comes_from_the_cache(tmp_path, monkeypatch, fmt):
    users, items, values = raw_triples(100, seed=10, integer_ratings=True)
    if fmt == "netflix":
        users, items, values = netflix_order(users, items, values)
    path = write(tmp_path / FILE_NAMES[fmt], lines_for(fmt, users, items, values))
    cache_dir = tmp_path / "cache"
    first = load_ratings(path, cache_dir=cache_dir)
    assert len(list(cache_dir.glob("*.npz"))) == 1
    _forbid_parsing(monkeypatch)
    second = load_ratings(path, cache_dir=cache_dir)
    assert_same(second, first)
    assert second.values.dtype == np.float32
    with pytest.raises(AssertionError, match="parsed again"):  # another dtype: another key
        load_ratings(path, cache_dir=cache_dir, dtype=np.float64)


def test_cache_is_invalidated_when_the_file_changes(tmp_path, monkeypatch):
    path = write(tmp_path / "u.data", ["1\t2\t3\t4", "2\t2\t5\t4"])
    cache_dir = tmp_path / "cache"
    load_ratings(path, cache_dir=cache_dir)
    write(path, ["1\t2\t3\t4", "2\t2\t5\t4", "3\t3\t1\t4"])
    os.utime(path, ns=(1, 1))
    assert len(load_ratings(path, cache_dir=cache_dir)) == 3
    _forbid_parsing(monkeypatch)
    assert len(load_ratings(path, cache_dir=cache_dir)) == 3


def test_corrupt_cache_is_ignored_and_rewritten(tmp_path, monkeypatch):
    path = write(tmp_path / "u.data", ["1\t2\t3\t4", "2\t2\t5\t4"])
    cache_dir = tmp_path / "cache"
    expected = load_ratings(path, cache_dir=cache_dir)
    (cache_file,) = cache_dir.glob("*.npz")
    cache_file.write_bytes(cache_file.read_bytes()[:100])
    assert_same(load_ratings(path, cache_dir=cache_dir), expected)
    _forbid_parsing(monkeypatch)
    assert_same(load_ratings(path, cache_dir=cache_dir), expected)


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTSVD_CACHE", str(tmp_path / "env"))
    path = write(tmp_path / "ratings.dat", ["1::2::3::4"])
    load_ratings(path)
    assert len(list((tmp_path / "env" / "ratings").glob("ratings.dat-*.npz"))) == 1
    no_cache = tmp_path / "none"
    load_ratings(path, cache=False, cache_dir=no_cache)
    assert not no_cache.exists()


def test_pandas_formats_are_cached_too(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    path = write(tmp_path / "r.csv", ["user,item,rating", "a,b,1", "c,b,2"])
    first = load_ratings(path, cache_dir=tmp_path / "cache")

    def refuse(*args, **kwargs):
        raise AssertionError("read again")

    monkeypatch.setattr(pd, "read_csv", refuse)
    assert_same(load_ratings(path, cache_dir=tmp_path / "cache"), first)


# --------------------------------------------------------------------------- real data


def test_movielens_100k(shared_data, tmp_path):
    folder = shared_data / "movielens-100k"
    if not (folder / "u.data").exists():
        pytest.skip("movielens-100k not in the shared data folder")
    r = load_ratings(folder / "u.data", cache=False)
    assert r.shape == (943, 1682) and len(r) == 100_000
    assert abs(float(np.mean(r.values, dtype=np.float64)) - 3.52986) < 1e-5
    np.testing.assert_array_equal(r.user_ids, np.arange(1, 944))
    np.testing.assert_array_equal(r.item_ids, np.arange(1, 1683))
    assert r.csr.nnz == 100_000
    base = load_ratings(folder / "u1.base", cache_dir=tmp_path)
    test = load_ratings(folder / "u1.test", cache_dir=tmp_path)
    assert len(base) + len(test) == len(r)
    assert raw_set(base) | raw_set(test) == raw_set(r)


def test_a_damaged_cache_array_fails_its_crc_and_is_parsed_again(tmp_path, monkeypatch):
    import zipfile

    users, items, values = raw_triples(200, seed=11)
    path = write(tmp_path / "u.data", lines_for("movielens-100k", users, items, values))
    cache_dir = tmp_path / "cache"
    expected = load_ratings(path, cache_dir=cache_dir)
    (cache_file,) = cache_dir.glob("*.npz")
    with zipfile.ZipFile(cache_file) as archive:
        info = archive.getinfo("values.npy")
    data = bytearray(cache_file.read_bytes())
    data[info.header_offset + 200] ^= 0x40  # inside the memory-mapped ratings
    cache_file.write_bytes(bytes(data))
    calls = []
    original = _parsing.read_ratings_file
    monkeypatch.setattr(_parsing, "read_ratings_file",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    assert_same(load_ratings(path, cache_dir=cache_dir), expected)
    assert calls == [1]
    assert_same(load_ratings(path, cache_dir=cache_dir), expected)  # rewritten: from the cache
    assert calls == [1]


# --------------------------------------------------------------------------- duplicates by pass


@pytest.mark.parametrize("order", ["by item", "by user", "random"])
def test_duplicates_resolved_alike_in_any_order(order):
    """Ratings grouped by item or user take the one-pass duplicate check,
    others the counting sort: the same errors and survivors either way."""
    rng = np.random.default_rng(12)
    users = rng.integers(0, 30, 400)
    items = rng.integers(0, 20, 400)
    key = {"by item": items * 1000 + np.arange(400), "by user": users * 1000 + np.arange(400),
           "random": rng.permutation(400)}[order]
    sort = np.argsort(key, kind="stable")
    users, items = users[sort], items[sort]
    values = np.arange(400, dtype=np.float64)
    last = {}
    for t, pair in enumerate(zip(users.tolist(), items.tolist(), strict=True)):
        last[pair] = t
    kept = sorted(last.values())
    r = Ratings(users, items, values, shape=(30, 20), duplicates="last")
    np.testing.assert_array_equal(r.values, values[kept])
    seen, first = {}, None
    for t, pair in enumerate(zip(users.tolist(), items.tolist(), strict=True)):
        if pair in seen and first is None:
            first = (seen[pair], t)
        seen[pair] = t
    with pytest.raises(ValueError, match=rf"at positions {first[0]} and {first[1]}; "
                                         rf"{400 - len(kept)} rating"):
        Ratings(users, items, values, shape=(30, 20))


def test_ids_beyond_int32_midway_through_a_netflix_folder(tmp_path):
    """Ids are parsed into int32 arrays until one does not fit; the arrays
    are then widened and that file parsed again, with nothing lost."""
    folder = tmp_path / "training_set"
    folder.mkdir()
    rows = {1: [(5, 1), (2**31 - 1, 2)], 2: [(7, 3), (2**31, 4), (8, 5)], 2**33: [(9, 1)]}
    for movie, pairs in rows.items():
        write(folder / f"mv_{movie:011d}.txt",
              [f"{movie}:", *(f"{u},{r},2005-01-01" for u, r in pairs)])
    r = load_ratings(folder, dtype=np.float64, cache=False)
    assert r.user_ids.dtype == np.int64 and r.item_ids.dtype == np.int64
    assert raw_set(r) == {(u, m, float(v)) for m, pairs in rows.items() for u, v in pairs}


# --------------------------------------------------------------------------- Netflix prize


def netflix_prize_folder(root, *, seed=0, n_users=40, n_movies=6, n_ratings=150):
    """A small Netflix-prize folder: ``training_set/mv_*.txt``, ``probe.txt``
    and ``qualifying.txt``; returns the plain-Python truth."""
    rng = np.random.default_rng(seed)
    user_ids = rng.choice(np.arange(1, 2_649_430), n_users, replace=False).tolist()
    cells = rng.choice(n_users * n_movies, n_ratings, replace=False)
    by_movie = {}
    for cell in cells.tolist():
        movie = cell % n_movies + 1
        by_movie.setdefault(movie, []).append(
            (user_ids[cell // n_movies], int(rng.integers(1, 6)),
             f"{rng.integers(1999, 2006)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"))
    folder = root / "training_set"
    folder.mkdir()
    training = []  # (user, movie, rating) in file order
    for movie in sorted(by_movie):
        lines = [f"{movie}:"] + [f"{u},{r},{d}" for u, r, d in by_movie[movie]]
        write(folder / f"mv_{movie:07d}.txt", lines)
        training += [(u, movie, float(r)) for u, r, _ in by_movie[movie]]
    probe = [training[t] for t in sorted(rng.choice(len(training), 20, replace=False).tolist())]
    probe_lines = []
    for movie in dict.fromkeys(m for _, m, _ in probe):
        probe_lines += [f"{movie}:"] + [str(u) for u, m, _ in probe if m == movie]
    probe_order = [(u, m) for m in dict.fromkeys(m for _, m, _ in probe)
                   for u, mm, _ in probe if mm == m]
    rated = {(u, m) for u, m, _ in training}
    qualifying = []
    while len(qualifying) < 15:
        pair = (user_ids[int(rng.integers(n_users))], int(rng.integers(1, n_movies + 1)))
        if pair not in rated and pair not in qualifying and pair[1] in by_movie:
            qualifying.append(pair)
    qualifying.sort(key=lambda pair: pair[1])
    q_lines = []
    for movie in dict.fromkeys(m for _, m in qualifying):
        q_lines += [f"{movie}:"] + [f"{u},2005-12-0{k % 9 + 1}" for k, (u, m) in
                                    enumerate(qualifying) if m == movie]
    write(root / "probe.txt", probe_lines, newline="\r\n")
    write(root / "qualifying.txt", q_lines)
    return training, probe_order, qualifying


def triples_in_order(ratings):
    return list(zip(ratings.user_ids[ratings.users].tolist(),
                    ratings.item_ids[ratings.items].tolist(), ratings.values.tolist(),
                    strict=True))


@pytest.mark.parametrize("cache", [False, True])
def test_netflix_prize_probe_split_matches_a_plain_python_split(tmp_path, cache):
    from fastsvd.ratings import load_netflix_prize

    training, probe, qualifying = netflix_prize_folder(tmp_path)
    rating_of = {(u, m): r for u, m, r in training}
    for _ in range(2):  # the second time from the cache, if any
        train, test, pairs = load_netflix_prize(
            tmp_path / "training_set", probe=tmp_path / "probe.txt",
            qualifying=tmp_path / "qualifying.txt", dtype=np.float64, cache=cache,
            cache_dir=tmp_path / "cache")
        probe_set = set(probe)
        assert triples_in_order(train) == [t for t in training if t[:2] not in probe_set]
        assert triples_in_order(test) == [(u, m, rating_of[u, m]) for u, m in probe]
        assert list(zip(pairs.raw_users.tolist(), pairs.raw_items.tolist(),
                        strict=True)) == qualifying
        assert len(pairs) == len(qualifying)
        # one indexing for all three: same maps, same shape
        for part in (test, pairs):
            assert part.user_ids is train.user_ids and part.item_ids is train.item_ids
        assert train.shape == test.shape == (len({u for u, _, _ in training}),
                                             len({m for _, m, _ in training}))
        np.testing.assert_array_equal(train.user_ids, sorted({u for u, _, _ in training}))
    assert len(list((tmp_path / "cache").glob("*.npz"))) == (1 if cache else 0)


def test_netflix_prize_without_probe_or_qualifying(tmp_path):
    from fastsvd.ratings import load_netflix_prize

    training, _, _ = netflix_prize_folder(tmp_path, seed=1)
    train, test, pairs = load_netflix_prize(tmp_path, cache=False)  # the parent folder works
    assert test is None and pairs is None
    assert triples_in_order(train) == [(u, m, r) for u, m, r in training]
    assert train.values.dtype == np.float32


def test_netflix_prize_errors_name_file_and_line(tmp_path):
    from fastsvd.ratings import load_netflix_prize

    training, _, _ = netflix_prize_folder(tmp_path, seed=2)
    folder, bad = tmp_path / "training_set", tmp_path / "bad.txt"
    (u1, m1, _), (u2, m2, _) = training[0], training[1]
    unrated = next((u, m1) for u, _, _ in training if (u, m1) not in
                   {(a, b) for a, b, _ in training})
    cases = [
        ([f"{m1}:", str(u1), f"{unrated[0]}"], r"bad\.txt, line 3: the probe pair \(user "
         rf"{unrated[0]}, movie {m1}\) is not rated in the training set"),
        ([f"{m1}:", str(u1), "999"], r"bad\.txt, line 3: user 999 is not in the training set"),
        (["99:", str(u1)], r"bad\.txt, line 2: movie 99 is not in the training set"),
        ([f"{m1}:", str(u1), f"{m2}:", str(u2), f"{m1}:", str(u1)],
         rf"bad\.txt: the pair \(user {u1}, movie {m1}\) is listed twice, on lines 2 and 6"),
        ([f"{m1}:", f"{u1},3"], r"malformed line 2 in .*bad\.txt .*netflix-probe"),
        ([f"{m1}:"], r"malformed line 1 .*followed by no user line"),
    ]
    for lines, match in cases:
        write(bad, lines)
        with pytest.raises(ValueError, match=match):
            load_netflix_prize(folder, probe=bad, cache=False)
    write(bad, [f"{m1}:", f"{u1},2005-01-01", "99:", f"{u1},2005-01-01"])
    with pytest.raises(ValueError, match=r"bad\.txt, line 4: movie 99 is not in the training"):
        load_netflix_prize(folder, qualifying=bad, cache=False)
    write(bad, [f"{m1}:", f"{u1}"])
    with pytest.raises(ValueError, match=r"malformed line 2 .*netflix-qualifying"):
        load_netflix_prize(folder, qualifying=bad, cache=False)
    everything = []
    for movie in dict.fromkeys(m for _, m, _ in training):
        everything += [f"{movie}:"] + [str(u) for u, m, _ in training if m == movie]
    write(bad, everything)
    with pytest.raises(ValueError, match="lists every rating"):
        load_netflix_prize(folder, probe=bad, cache=False)


def test_a_directory_load_shows_progress(tmp_path, capsys):
    netflix_prize_folder(tmp_path, seed=3)
    load_ratings(tmp_path / "training_set", cache=False, progress=True)
    err = capsys.readouterr().err
    assert "training_set (6 files)" in err and "100%" in err
    load_ratings(tmp_path / "training_set", cache=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="progress"):
        load_ratings(tmp_path / "training_set", cache=False, progress="yes")
