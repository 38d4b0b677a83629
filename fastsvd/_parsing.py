"""Numba byte parsers for the numeric rating formats (MovieLens and Netflix).

A file is read as raw bytes (a read-only memory map, so nothing but the page
cache holds the text) and parsed by one sequential ``@jit`` kernel that writes
raw user ids (int64), raw item ids (int64) and ratings into arrays allocated
by the caller. No Python object is created per line, so a 100M-rating file
needs only its output arrays: 8 + 8 bytes of ids and 4 or 8 bytes of rating
per rating.

Kernels never raise: they stop at the first malformed line and return an
error code, the 1-based line number, the 1-based field number and the byte
offset of the line; :func:`read_ratings_file` turns that into a ``ValueError``
naming the file and the line.

Accepted text: ``\\n`` or ``\\r\\n`` line ends, a missing final newline, blank
lines (empty or only spaces and tabs, anywhere, including trailing ones), a
UTF-8 byte-order mark, and spaces around a field. Integers are optional sign
then 1 to 18 digits; ratings are decimal numbers (``4``, ``3.5``, ``-1.25``,
``5e-1``). A decimal rating with at most 15 significant digits and at most
22 decimals is parsed to the correctly rounded float64.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._numba import jit

FORMATS = ("movielens-100k", "movielens-dat", "movielens-csv", "netflix")

# Kernel status codes.
OK = 0
FIELD_COUNT = 1
NOT_A_NUMBER = 2
EMPTY_FIELD = 3
TOO_LONG = 4
NO_MOVIE = 5
BAD_DATE = 6
OVERFLOW = 7
BAD_MOVIE = 8

_POW10 = np.array([10.0**k for k in range(23)])  # exact doubles 1e0 .. 1e22
_MAX_DIGITS = 18  # int64 holds every 18-digit number
_NETFLIX_MIN_LINE = 15  # "u,r,YYYY-MM-DD\n": the shortest rating line, in bytes


# --------------------------------------------------------------------------- kernels


@jit()
def count_lines(buf):
    """Number of lines in ``buf``: newlines plus one (an upper bound on ratings)."""
    n = 1
    for i in range(buf.size):
        if buf[i] == 10:
            n += 1
    return n


@jit()
def _strip(buf, a, b):
    """``[a, b)`` without leading and trailing spaces."""
    while a < b and buf[a] == 32:
        a += 1
    while b > a and buf[b - 1] == 32:
        b -= 1
    return a, b


@jit()
def _is_blank(buf, a, b):
    for i in range(a, b):
        if buf[i] != 32 and buf[i] != 9:
            return False
    return True


@jit()
def _parse_int(buf, a, b):
    """``(value, status)`` of the integer in ``buf[a:b]``."""
    a, b = _strip(buf, a, b)
    if a == b:
        return 0, EMPTY_FIELD
    negative = buf[a] == 45
    if buf[a] == 45 or buf[a] == 43:
        a += 1
    if a == b:
        return 0, NOT_A_NUMBER
    value = 0
    for i in range(a, b):
        digit = np.int64(buf[i]) - 48
        if digit < 0 or digit > 9:
            return 0, NOT_A_NUMBER
        value = value * 10 + digit
    if b - a > _MAX_DIGITS:
        return 0, TOO_LONG
    return (-value if negative else value), OK


@jit()
def _parse_float(buf, a, b):
    """``(value, status)`` of the decimal number in ``buf[a:b]``.

    Up to 18 significant digits are kept in an integer mantissa ``m`` with a
    decimal exponent ``e``; the value is ``m / 10**-e`` (correctly rounded when
    ``m < 2**53`` and ``-22 <= e <= 0``, which covers every rating file).
    """
    a, b = _strip(buf, a, b)
    if a == b:
        return 0.0, EMPTY_FIELD
    negative = buf[a] == 45
    if buf[a] == 45 or buf[a] == 43:
        a += 1
    mantissa = 0
    exponent = 0
    n_digits = 0
    n_kept = 0
    seen_point = False
    i = a
    while i < b:
        c = buf[i]
        if c == 46 and not seen_point:
            seen_point = True
        elif 48 <= c <= 57:
            n_digits += 1
            if n_kept < _MAX_DIGITS:
                if mantissa > 0 or c != 48:
                    n_kept += 1
                mantissa = mantissa * 10 + (np.int64(c) - 48)
                if seen_point:
                    exponent -= 1
            elif not seen_point:
                exponent += 1
        else:
            break
        i += 1
    if n_digits == 0:
        return 0.0, NOT_A_NUMBER
    if i < b:
        if buf[i] != 101 and buf[i] != 69:  # 'e' / 'E'
            return 0.0, NOT_A_NUMBER
        power, status = _parse_int(buf, i + 1, b)
        if status != OK or not -400 < power < 400:
            return 0.0, NOT_A_NUMBER
        exponent += power
    value = np.float64(mantissa)
    if exponent == 0:
        pass
    elif -22 <= exponent < 0:
        value = value / _POW10[-exponent]
    elif 0 < exponent <= 22:
        value = value * _POW10[exponent]
    else:
        value = value * 10.0**exponent
    return (-value if negative else value), OK


@jit()
def _is_date(buf, a, b):
    """True when ``buf[a:b]`` (spaces stripped) reads ``YYYY-MM-DD``."""
    a, b = _strip(buf, a, b)
    if b - a != 10:
        return False
    for k in range(10):
        c = buf[a + k]
        if k == 4 or k == 7:
            if c != 45:
                return False
        elif c < 48 or c > 57:
            return False
    return True


@jit()
def _line_end(buf, i):
    """``(content_end, next_line_start)`` of the line starting at ``i``."""
    e = i
    n = buf.size
    while e < n and buf[e] != 10:
        e += 1
    stop = e
    if stop > i and buf[stop - 1] == 13:
        stop -= 1
    return stop, e + 1


@jit()
def parse_delimited(buf, start, sep0, sep1, skip_first, users, items, values, pos):
    """Parse ``user SEP item SEP rating SEP timestamp`` lines of ``buf[start:]``.

    ``SEP`` is the byte ``sep0``, or the two bytes ``sep0 sep1`` when
    ``sep1 >= 0``. The timestamp must be an integer and is dropped. With
    ``skip_first`` the first line (a header) is skipped unread. Writes from
    index ``pos`` on; returns ``(end, status, line, field, line_offset,
    n_fields)`` where ``end`` is the index after the last rating written and,
    on error, ``line``/``field`` are 1-based and ``n_fields`` is the number of
    fields found.
    """
    starts = np.empty(5, dtype=np.int64)
    ends = np.empty(5, dtype=np.int64)
    step = 1 if sep1 < 0 else 2
    i = start
    line = 0
    while i < buf.size:
        line += 1
        offset = i
        b, i = _line_end(buf, i)
        if (line == 1 and skip_first) or _is_blank(buf, offset, b):
            continue
        n_fields = 0
        field_start = offset
        j = offset
        while True:
            at_sep = j < b and buf[j] == sep0 and (sep1 < 0 or (j + 1 < b and buf[j + 1] == sep1))
            if j == b or at_sep:
                if n_fields < 5:
                    starts[n_fields] = field_start
                    ends[n_fields] = j
                n_fields += 1
                if j == b:
                    break
                j += step
                field_start = j
            else:
                j += 1
        if n_fields != 4:
            return pos, FIELD_COUNT, line, 0, offset, n_fields
        if pos >= users.size:
            return pos, OVERFLOW, line, 0, offset, n_fields
        user, status = _parse_int(buf, starts[0], ends[0])
        if status != OK:
            return pos, status, line, 1, offset, n_fields
        item, status = _parse_int(buf, starts[1], ends[1])
        if status != OK:
            return pos, status, line, 2, offset, n_fields
        rating, status = _parse_float(buf, starts[2], ends[2])
        if status != OK:
            return pos, status, line, 3, offset, n_fields
        _, status = _parse_int(buf, starts[3], ends[3])
        if status != OK:
            return pos, status, line, 4, offset, n_fields
        users[pos] = user
        items[pos] = item
        values[pos] = rating
        pos += 1
    return pos, OK, line, 0, 0, 0


@jit()
def parse_netflix(buf, start, users, items, values, pos):
    """Parse Netflix-prize text: ``movie_id:`` lines, each followed by
    ``user_id,rating,YYYY-MM-DD`` lines. Same outputs as
    :func:`parse_delimited`; the date is checked and dropped."""
    starts = np.empty(4, dtype=np.int64)
    ends = np.empty(4, dtype=np.int64)
    movie = -1
    i = start
    line = 0
    while i < buf.size:
        line += 1
        offset = i
        b, i = _line_end(buf, i)
        if _is_blank(buf, offset, b):
            continue
        colon = -1
        for j in range(offset, b):
            if buf[j] == 58:
                colon = j
                break
        if colon >= 0:
            movie, status = _parse_int(buf, offset, colon)
            if status != OK or movie < 0 or not _is_blank(buf, colon + 1, b):
                return pos, BAD_MOVIE, line, 0, offset, 0
            continue
        n_fields = 0
        field_start = offset
        for j in range(offset, b + 1):
            if j == b or buf[j] == 44:
                if n_fields < 4:
                    starts[n_fields] = field_start
                    ends[n_fields] = j
                n_fields += 1
                field_start = j + 1
        if n_fields != 3:
            return pos, FIELD_COUNT, line, 0, offset, n_fields
        if movie < 0:
            return pos, NO_MOVIE, line, 0, offset, n_fields
        if pos >= users.size:
            return pos, OVERFLOW, line, 0, offset, n_fields
        user, status = _parse_int(buf, starts[0], ends[0])
        if status != OK:
            return pos, status, line, 1, offset, n_fields
        rating, status = _parse_float(buf, starts[1], ends[1])
        if status != OK:
            return pos, status, line, 2, offset, n_fields
        if not _is_date(buf, starts[2], ends[2]):
            status = EMPTY_FIELD if _is_blank(buf, starts[2], ends[2]) else BAD_DATE
            return pos, status, line, 3, offset, n_fields
        users[pos] = user
        items[pos] = movie
        values[pos] = rating
        pos += 1
    return pos, OK, line, 0, 0, 0


# --------------------------------------------------------------------------- Python side

_LAYOUT = {
    # format: (separator bytes, field names, how the fields are separated)
    "movielens-100k": (b"\t", ("user", "item", "rating", "timestamp"), "tabs"),
    "movielens-dat": (b"::", ("user", "item", "rating", "timestamp"), "'::'"),
    "movielens-csv": (b",", ("userId", "movieId", "rating", "timestamp"), "commas"),
}
_NETFLIX_FIELDS = ("user_id", "rating", "date")


def read_bytes(path) -> np.ndarray:
    """The bytes of ``path`` as a read-only uint8 array (memory-mapped)."""
    if os.path.getsize(path) == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.asarray(np.memmap(path, dtype=np.uint8, mode="r"))


def _text_start(buf) -> int:
    """Offset of the text after a UTF-8 byte-order mark, if any."""
    return 3 if buf.size >= 3 and bytes(buf[:3]) == b"\xef\xbb\xbf" else 0


def _has_header(buf, start) -> bool:
    """True when the first line does not start with a number (a CSV header)."""
    i = start
    while i < buf.size and buf[i] in (32, 9):
        i += 1
    return i < buf.size and not (48 <= buf[i] <= 57 or buf[i] in (43, 45, 46))


def read_ratings_file(path, fmt: str, dtype=np.float64):
    """Parse one numeric rating file (or, for ``"netflix"``, a directory of
    ``mv_*.txt`` files).

    Returns ``(users, items, values)``: raw int64 user ids, raw int64 item ids
    and ratings of ``dtype``, in file order. Raises ``ValueError`` naming the
    file and the 1-based line number of the first malformed line, or when the
    file holds no rating.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} has no byte parser; choose one of "
                         f"{', '.join(map(repr, FORMATS))}.")
    path = Path(path)
    if fmt == "netflix" and path.is_dir():
        return _read_netflix_dir(path, dtype)
    buf = read_bytes(path)
    start = _text_start(buf)
    n_max = count_lines(buf[start:])
    users = np.empty(n_max, dtype=np.int64)
    items = np.empty(n_max, dtype=np.int64)
    values = np.empty(n_max, dtype=dtype)
    if fmt == "netflix":
        result = parse_netflix(buf, start, users, items, values, 0)
    else:
        sep = _LAYOUT[fmt][0]
        sep1 = sep[1] if len(sep) > 1 else -1
        skip = fmt == "movielens-csv" and _has_header(buf, start)
        result = parse_delimited(buf, start, sep[0], sep1, skip, users, items, values, 0)
    n = _check(result, buf, path, fmt)
    if n == 0:
        raise ValueError(f"{path} holds no ratings (format {fmt!r}); check the file and the "
                         "format.")
    return users[:n], items[:n], _trim(values, n)


def netflix_files(path) -> list[Path]:
    """The ``mv_*.txt`` files of a Netflix-prize directory (or of its
    ``training_set`` subfolder), sorted by name."""
    path = Path(path)
    files = sorted(path.glob("mv_*.txt"))
    if not files and (path / "training_set").is_dir():
        files = sorted((path / "training_set").glob("mv_*.txt"))
    return files


def _read_netflix_dir(path, dtype):
    files = netflix_files(path)
    if not files:
        raise ValueError(f"{path} is a directory without mv_*.txt files; pass a Netflix-prize "
                         "training_set directory or a single file.")
    # A rating line has at least _NETFLIX_MIN_LINE bytes, which bounds the count.
    n_max = sum((f.stat().st_size + 1) // _NETFLIX_MIN_LINE for f in files) + 1
    users = np.empty(n_max, dtype=np.int64)
    items = np.empty(n_max, dtype=np.int64)
    values = np.empty(n_max, dtype=dtype)
    pos = 0
    for file in files:
        buf = read_bytes(file)
        pos = _check(parse_netflix(buf, _text_start(buf), users, items, values, pos), buf,
                     file, "netflix")
    if pos == 0:
        raise ValueError(f"the mv_*.txt files in {path} hold no ratings.")
    # Ids are views (callers map them to indices and drop them); the untouched
    # tail of an over-sized allocation is never paged in. Ratings are kept, so
    # they are copied when the tail is large.
    return users[:pos], items[:pos], _trim(values, pos)


def _trim(array, n):
    """``array[:n]``, copied when that frees much memory."""
    return array[:n].copy() if n < 0.9 * array.size else array[:n]


def _check(result, buf, path, fmt) -> int:
    end, status, line, field, offset, n_fields = result
    if status == OK:
        return int(end)
    text = _line_text(buf, offset)
    if fmt == "netflix":
        names = _NETFLIX_FIELDS
        layout = "'movie_id:' or 'user_id,rating,YYYY-MM-DD'"
        n_expected = 3
    else:
        _, names, how = _LAYOUT[fmt]
        layout = f"{len(names)} fields separated by {how} ({', '.join(names)})"
        n_expected = len(names)
    name = names[field - 1] if field else ""
    if status == FIELD_COUNT:
        what = f"expected {n_expected} fields, found {n_fields}; each line must read {layout}"
    elif status == EMPTY_FIELD:
        what = f"field {field} ({name}) is empty"
    elif status == NOT_A_NUMBER:
        what = f"field {field} ({name}) is not a number; each line must read {layout}"
    elif status == TOO_LONG:
        what = f"field {field} ({name}) has more than {_MAX_DIGITS} digits"
    elif status == BAD_DATE:
        what = f"field {field} ({name}) is not a date of the form YYYY-MM-DD"
    elif status == BAD_MOVIE:
        what = "a movie line must read 'movie_id:' with a non-negative integer id"
    elif status == NO_MOVIE:
        what = "a rating comes before the first 'movie_id:' line"
    else:  # OVERFLOW: cannot happen with the sizes computed above
        what = "more ratings than lines (internal error)"
    raise ValueError(f"malformed line {line} in {path} (format {fmt!r}): {what}. The line "
                     f"reads {text!r}.")


def _line_text(buf, offset, limit=120) -> str:
    stop = min(buf.size, offset + limit)
    raw = bytes(buf[offset:stop]).split(b"\n", 1)[0].rstrip(b"\r")
    return raw.decode("utf-8", errors="replace")
