"""A corpus of damaged and unusual rating files: each loads as documented in
load_ratings' Notes or raises a ValueError naming the file and its 1-based
line; nothing crashes and nothing loads in part. Every case runs over the
numeric formats and the pandas CSV reader."""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastsvd.ratings import load_ratings

pytest.importorskip("pandas")

FORMATS = ["movielens-100k", "movielens-dat", "movielens-csv", "netflix", "csv"]
HEADERS = {"movielens-csv": "userId,movieId,rating,timestamp", "csv": "user,item,rating"}
SEPARATORS = {"movielens-100k": "\t", "movielens-dat": "::", "movielens-csv": ",",
              "netflix": ",", "csv": ","}
GOOD = [("1", "10", "4"), ("2", "10", "3"), ("1", "20", "5"), ("3", "20", "2"),
        ("2", "30", "1")]


def render(fmt, rows, *, header=True):
    """``(lines, line_of)``: the text lines of ``rows`` (user, item, rating
    strings; Netflix: grouped by item in order of appearance) and the 1-based
    line of each row."""
    sep = SEPARATORS[fmt]
    lines, line_of = [], {}
    if fmt in HEADERS and header:
        lines.append(HEADERS[fmt])
    if fmt == "netflix":
        for movie in dict.fromkeys(item for _, item, _ in rows):
            lines.append(f"{movie}:")
            for k, (user, item, rating) in enumerate(rows):
                if item == movie:
                    lines.append(f"{user},{rating},2005-0{1 + k % 9}-1{k % 10}")
                    line_of[k] = len(lines)
        return lines, [line_of[k] for k in range(len(rows))]
    for k, (user, item, rating) in enumerate(rows):
        fields = [user, item, rating] + ([] if fmt == "csv" else [str(880_000_000 + k)])
        lines.append(sep.join(fields))
        line_of[k] = len(lines)
    return lines, [line_of[k] for k in range(len(rows))]


def write(path, lines, newline="\n", final=True):
    data = newline.join(lines).encode("utf-8", "surrogateescape")
    path.write_bytes(data + (newline.encode() if final else b""))
    return path


def name(fmt):
    return {"movielens-100k": "u.data", "movielens-dat": "ratings.dat",
            "movielens-csv": "ratings.csv", "netflix": "combined_data_1.txt",
            "csv": "table.csv"}[fmt]


def load(path, fmt, tmp_path, **kwargs):
    kwargs.setdefault("dtype", np.float64)
    return load_ratings(path, format=fmt, cache_dir=tmp_path / "cache", **kwargs)


def expect_error(path, fmt, tmp_path, line, what="", **kwargs):
    """A ValueError that names the file and ``line`` (1-based); no cache is left."""
    with pytest.raises(ValueError) as info:
        load(path, fmt, tmp_path, **kwargs)
    message = str(info.value)
    assert path.name in message, message
    rest = message.replace(str(path.parent), "")  # the test's name is in the path
    if line is not None:
        assert re.search(rf"\bline {line}\b", rest), message
    if what:
        assert re.search(what, rest), message
    assert not list((tmp_path / "cache").glob(f"{path.name}-*.npz"))  # nothing half-written
    return message


def triples(ratings):
    return sorted(zip(ratings.user_ids[ratings.users].tolist(),
                      ratings.item_ids[ratings.items].tolist(), ratings.values.tolist(),
                      strict=True))


def reference(rows):
    return sorted((int(u), int(i), float(r)) for u, i, r in rows)


# --------------------------------------------------------------------------- line ends


@pytest.mark.parametrize("fmt", FORMATS)
def test_crlf_line_ends_load_like_lf(tmp_path, fmt):
    lines, _ = render(fmt, GOOD)
    crlf = write(tmp_path / f"crlf-{name(fmt)}", lines, newline="\r\n")
    unterminated = write(tmp_path / f"open-{name(fmt)}", lines, newline="\r\n", final=False)
    for path in (crlf, unterminated):
        assert triples(load(path, fmt, tmp_path)) == reference(GOOD)


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_last_line(tmp_path, fmt):
    lines, _ = render(fmt, GOOD)
    cut = {"movielens-100k": "3\t30\t", "movielens-dat": "3::30::", "movielens-csv": "3,30,",
           "netflix": "3,", "csv": "3,30,"}[fmt]
    path = write(tmp_path / name(fmt), [*lines, cut], final=False)
    expect_error(path, fmt, tmp_path, len(lines) + 1)


def test_netflix_movie_line_without_ratings_is_a_truncated_file(tmp_path):
    lines, _ = render("netflix", GOOD)
    for extra, line in (([f"{99}:"], len(lines) + 1), (["98:", "99:", "1,3,2005-01-01"],
                                                        len(lines) + 1)):
        path = write(tmp_path / "combined_data_1.txt", lines + extra)
        expect_error(path, "netflix", tmp_path, line, "followed by no rating line")


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_utf8_bytes_in_a_field(tmp_path, fmt):
    rows = list(GOOD)
    rows[2] = ("\udcff\udcfe7", *rows[2][1:])  # bytes 0xff 0xfe before the user id
    lines, line_of = render(fmt, rows)
    path = write(tmp_path / name(fmt), lines)
    expect_error(path, fmt, tmp_path, line_of[2])


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_utf8_bytes_in_a_header_or_comment(tmp_path, fmt):
    lines, _ = render(fmt, GOOD, header=False)
    if fmt == "movielens-csv":  # the optional header line is skipped unread
        path = write(tmp_path / name(fmt), [HEADERS[fmt] + " caf\udce9", *lines])
        assert triples(load(path, fmt, tmp_path)) == reference(GOOD)
        return
    if fmt == "csv":  # the header names the columns: it must be text
        path = write(tmp_path / name(fmt), [HEADERS[fmt] + ",caf\udce9", *lines])
        expect_error(path, fmt, tmp_path, 1, "not UTF-8")
        return
    path = write(tmp_path / name(fmt), ["# ratings, caf\udce9", *lines])  # no comment syntax
    expect_error(path, fmt, tmp_path, 1)


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize("fmt", FORMATS)
def test_header_row_where_the_format_has_none(tmp_path, fmt):
    lines, _ = render(fmt, GOOD, header=False)
    header = {"movielens-100k": "user\titem\trating\ttimestamp",
              "movielens-dat": "user::item::rating::timestamp", "netflix": "user,rating,date",
              "movielens-csv": HEADERS["movielens-csv"], "csv": HEADERS["csv"]}[fmt]
    path = write(tmp_path / name(fmt), [header, *lines])
    if fmt in HEADERS:  # these formats have (movielens-csv: may have) a header
        assert triples(load(path, fmt, tmp_path)) == reference(GOOD)
    else:
        expect_error(path, fmt, tmp_path, 1)
    if fmt == "csv":  # without its header, the columns have no names
        headless = write(tmp_path / "headless.csv", lines)
        expect_error(headless, fmt, tmp_path, None, r"no column\(s\) 'user'")


@pytest.mark.parametrize("fmt", FORMATS)
def test_header_repeated_inside_the_file(tmp_path, fmt):
    """Two files concatenated: the second header is a malformed line."""
    lines, line_of = render(fmt, GOOD)
    header = HEADERS.get(fmt, lines[0] if fmt != "netflix" else "user,rating,date")
    if fmt in ("movielens-100k", "movielens-dat"):
        header = SEPARATORS[fmt].join(["user", "item", "rating", "timestamp"])
    at = line_of[3] - 1  # insert before row 3
    path = write(tmp_path / name(fmt), [*lines[:at], header, *lines[at:]])
    expect_error(path, fmt, tmp_path, at + 1)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("row", [0, 2])
def test_a_line_with_an_extra_field(tmp_path, fmt, row):
    """An extra field is an error, also on the first data line (where pandas
    would take the first column for an index and shift the others)."""
    lines, line_of = render(fmt, GOOD)
    lines[line_of[row] - 1] += SEPARATORS[fmt] + "9"
    expect_error(write(tmp_path / name(fmt), lines), fmt, tmp_path, line_of[row])


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize("fmt", FORMATS)
def test_ids_beyond_int32_load_as_int64(tmp_path, fmt):
    rows = [("3000000000", "4000000123", "4"), ("2", "4000000123", "3"),
            ("999999999999999999", "7", "5")]  # 18 digits: the longest id
    path = write(tmp_path / name(fmt), render(fmt, rows)[0])
    ratings = load(path, fmt, tmp_path)
    assert ratings.user_ids.dtype == np.int64 and ratings.item_ids.dtype == np.int64
    assert triples(ratings) == reference(rows)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("field", [0, 1])
def test_ids_beyond_int64_are_an_error(tmp_path, fmt, field):
    rows = list(GOOD)
    row = list(rows[3])
    row[field] = "123456789012345678901"  # 21 digits
    rows[3] = tuple(row)
    lines, line_of = render(fmt, rows)
    path = write(tmp_path / name(fmt), lines)
    line = line_of[3] - 1 if fmt == "netflix" and field == 1 else line_of[3]  # movie line
    expect_error(path, fmt, tmp_path, line, "18 digits|int64")


@pytest.mark.parametrize("fmt", FORMATS[:4])
def test_nineteen_digit_ids_are_an_error_in_the_numeric_formats(tmp_path, fmt):
    rows = [*GOOD[:2], ("1234567890123456789", "10", "4")]
    lines, line_of = render(fmt, rows)
    expect_error(write(tmp_path / name(fmt), lines), fmt, tmp_path, line_of[2],
                 "more than 18 digits")


# --------------------------------------------------------------------------- ratings


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("rating", ["nan", "NaN", "", "inf", "-inf", "1e400", "4,5"])
def test_missing_or_non_finite_ratings_are_an_error(tmp_path, fmt, rating):
    rows = list(GOOD)
    rows[1] = (*rows[1][:2], rating)
    lines, line_of = render(fmt, rows)
    path = write(tmp_path / name(fmt), lines)
    expect_error(path, fmt, tmp_path, line_of[1])


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_rating_beyond_float32_is_an_error_in_float32(tmp_path, fmt):
    rows = [*GOOD[:2], ("7", "10", "1e39")]
    lines, line_of = render(fmt, rows)
    path = write(tmp_path / name(fmt), lines)
    expect_error(path, fmt, tmp_path, line_of[2], "finite", dtype=np.float32)
    loaded = load_ratings(path, format=fmt, dtype=np.float64, cache=False)
    assert loaded.values.max() == pytest.approx(1e39, rel=1e-15)


# --------------------------------------------------------------------------- empty files


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_empty_files_hold_no_ratings(tmp_path, fmt, content):
    path = tmp_path / name(fmt)
    path.write_bytes(content)
    expect_error(path, fmt, tmp_path, None, "no ratings|empty|no column")
    if fmt in HEADERS:
        write(path, [HEADERS[fmt]])
        expect_error(path, fmt, tmp_path, None, "no ratings")


def test_an_empty_file_in_a_netflix_folder_is_an_error(tmp_path):
    folder = tmp_path / "training_set"
    folder.mkdir()
    write(folder / "mv_0000001.txt", ["1:", "7,4,2005-01-01"])
    (folder / "mv_0000002.txt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"mv_0000002\.txt holds no ratings"):
        load_ratings(folder, cache=False)


# --------------------------------------------------------------------------- folders


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_folder_with_foreign_files(tmp_path, fmt):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "README.txt").write_text("The ratings of 1998.\n1\t2\t3\t4\n")
    (folder / "notes.csv").write_bytes(b"user,item,rating\nx,\xff,nan\n")
    if fmt == "netflix":
        users = {"10": [("1", "4"), ("2", "3")], "20": [("1", "5")]}
        for movie, pairs in users.items():
            write(folder / f"mv_{int(movie):07d}.txt",
                  [f"{movie}:", *(f"{u},{r},2005-01-01" for u, r in pairs)])
        expected = [(1, 10, 4.0), (2, 10, 3.0), (1, 20, 5.0)]
        for path in (folder, tmp_path):  # the folder, or its parent with a training_set/
            if path == tmp_path:
                folder.rename(tmp_path / "training_set")
            ratings = load_ratings(path, format="auto", dtype=np.float64, cache=False)
            assert triples(ratings) == sorted(expected)
        return
    path = write(folder / name(fmt), render(fmt, GOOD)[0])
    with pytest.raises(ValueError, match=r"is a directory; format .* reads a single file"):
        load_ratings(folder, format=fmt, cache=False)
    assert triples(load(path, fmt, tmp_path)) == reference(GOOD)


# --------------------------------------------------------------------------- duplicates


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_pairs_name_both_lines(tmp_path, fmt):
    rows = [*GOOD, ("3", "20", "5")]  # repeats row 3 (user 3, item 20)
    lines, line_of = render(fmt, rows)
    path = write(tmp_path / name(fmt), lines)
    message = expect_error(path, fmt, tmp_path, None, r"\(3, 20\).* more than once")
    assert re.search(rf"lines {line_of[3]} and {line_of[5]}\b", message.replace(
        str(tmp_path), "")), message
    last = load(path, fmt, tmp_path, duplicates="last")
    assert triples(last) == reference([*GOOD[:3], GOOD[4], rows[5]])


def test_duplicates_across_the_files_of_a_netflix_folder(tmp_path):
    folder = tmp_path / "training_set"
    folder.mkdir()
    write(folder / "mv_0000001.txt", ["1:", "7,4,2005-01-01", "8,2,2005-01-01"])
    write(folder / "mv_0000002.txt", ["2:", "7,3,2005-01-01"])
    write(folder / "mv_1.txt", ["1:", "9,1,2005-01-01", "8,5,2005-01-01"])  # movie 1 again
    with pytest.raises(ValueError, match=r"\(8, 1\) is rated more than once, on line 3 of "
                                         r".*mv_0000001\.txt and line 3 of .*mv_1\.txt"):
        load_ratings(folder, cache=False)
    ratings = load_ratings(folder, cache=False, duplicates="last")
    assert triples(ratings) == [(7, 1, 4.0), (7, 2, 3.0), (8, 1, 5.0), (9, 1, 1.0)]


# --------------------------------------------------------------------------- arbitrary bytes


@pytest.mark.parametrize("fmt", FORMATS)
def test_binary_garbage_is_an_error_not_a_crash(tmp_path, fmt):
    rng = np.random.default_rng(0)
    for seed in range(5):
        path = tmp_path / f"{seed}-{name(fmt)}"
        path.write_bytes(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
        with pytest.raises(ValueError, match=re.escape(path.name)):
            load_ratings(path, format=fmt, cache=False)


ALPHABET = st.sampled_from([*b"0123456789,:\t\n\r .-+eE", 0, 0xFF, ord("n"), ord("a")])


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(ALPHABET, max_size=200).map(bytes), fmt=st.sampled_from(FORMATS[:4]))
def test_any_bytes_load_or_raise_value_error(tmp_path, data, fmt):
    """The byte parsers never read or write out of bounds (numba does not
    check): arbitrary text either loads or is a ValueError."""
    path = tmp_path / "fuzz.txt"
    path.write_bytes(data)
    try:
        ratings = load_ratings(path, format=fmt, dtype=np.float64, cache=False)
    except ValueError as exc:
        assert "fuzz.txt" in str(exc)
    else:
        assert len(ratings) >= 1 and np.isfinite(ratings.values).all()
