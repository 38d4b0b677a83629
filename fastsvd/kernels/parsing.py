"""Numba byte parsers for the numeric rating formats (MovieLens and Netflix).

A file is read as raw bytes (read at once, or for a large file a read-only
memory map, so nothing but the page cache holds the text) and parsed by one
sequential ``@jit`` kernel that writes raw user ids, raw item ids and ratings
into arrays allocated by the caller. No Python object is created per line,
so a 100M-rating file needs only its output arrays: 4 + 4 bytes of ids (8 + 8
once an id does not fit int32) and 4 or 8 bytes of rating per rating.

Kernels never raise: they stop at the first malformed line and return an
error code, the 1-based line number, the 1-based field number and the byte
offset of the line; :func:`fastsvd.ratings.parsers.read_ratings_file` turns
that into a ``ValueError`` naming the file and the line.

Accepted text: ``\\n`` or ``\\r\\n`` line ends, a missing final newline, blank
lines (empty or only spaces and tabs, anywhere, including trailing ones), a
UTF-8 byte-order mark, and spaces around a field. Integers are optional sign
then 1 to 18 digits; ratings are decimal numbers (``4``, ``3.5``, ``-1.25``,
``5e-1``). A decimal rating with at most 15 significant digits and at most
22 decimals is parsed to the correctly rounded float64.
"""

from __future__ import annotations

import numpy as np

from .._jit import jit

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
NOT_FINITE = 9  # a rating that overflows the output dtype (``1e400``, ``1e39`` in float32)
EMPTY_MOVIE = 10  # a ``movie_id:`` line with no rating line before the next one or the end
MOVIE_TOO_LONG = 11  # a ``movie_id:`` line whose id has more than 18 digits
WIDE_ID = 12  # an id beyond ``limit`` (the int32 id arrays): parse again with int64 ones

# Field kinds of a line's schema (see parse_lines).
USER = 0
ITEM = 1
RATING = 2
INTEGER = 3  # an integer that is checked and dropped (a timestamp)
DATE = 4  # YYYY-MM-DD, checked and dropped

_POW10 = np.array([10.0**k for k in range(23)])  # exact doubles 1e0 .. 1e22
_MAX_DIGITS = 18  # int64 holds every 18-digit number


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
def _split_fields(buf, a, b, sep0, sep1, starts, ends):
    """Record in ``starts``/``ends`` (up to their size) where the fields of
    ``buf[a:b]`` lie, split at the byte ``sep0`` (or the pair ``sep0 sep1``
    when ``sep1 >= 0``); return the number of fields."""
    step = 1 if sep1 < 0 else 2
    n_fields = 0
    field_start = a
    j = a
    while True:
        at_sep = j < b and buf[j] == sep0 and (sep1 < 0 or (j + 1 < b and buf[j + 1] == sep1))
        if j == b or at_sep:
            if n_fields < starts.size:
                starts[n_fields] = field_start
                ends[n_fields] = j
            n_fields += 1
            if j == b:
                return n_fields
            j += step
            field_start = j
        else:
            j += 1


@jit()
def _movie_line(buf, a, b, sep0):
    """``(is_movie_line, movie_id, status)`` for a Netflix ``movie_id:`` line.
    The scan stops at the first ``sep0``: a line with a separator before any
    ``:`` is a rating line (so rating lines are not read twice)."""
    for j in range(a, b):
        if buf[j] == sep0:
            return False, -1, OK
        if buf[j] == 58:  # ':'
            movie, status = _parse_int(buf, a, j)
            if status == TOO_LONG:
                return True, -1, MOVIE_TOO_LONG
            if status != OK or movie < 0 or not _is_blank(buf, j + 1, b):
                return True, -1, BAD_MOVIE
            return True, movie, OK
    return False, -1, OK


@jit()
def parse_lines(buf, start, sep0, sep1, skip_first, grouped, schema, users, items, values,
                pos, limit):
    """Parse the rating lines of ``buf[start:]`` whose fields follow ``schema``.

    ``schema`` holds one field kind per field (:data:`USER`, :data:`ITEM`,
    :data:`RATING`, :data:`INTEGER` or :data:`DATE`, the last two checked and
    dropped); fields are separated as in :func:`_split_fields`. With
    ``grouped`` (the Netflix-prize layout), ``movie_id:`` lines set the item
    of the lines after them, and each must be followed by at least one rating
    line (:data:`EMPTY_MOVIE` otherwise: a truncated file). With
    ``skip_first`` the first line (a header) is skipped unread. Writes from
    index ``pos`` on (``values`` only when the schema has a rating; a rating
    that is not finite in ``values``' dtype is :data:`NOT_FINITE`); returns
    ``(end, status, line, field, line_offset, n_fields)``: ``end`` is the
    index after the last rating written and, on error, ``line``/``field``
    are 1-based and ``n_fields`` is the number of fields found. Every write
    is bounds-checked against ``users.size`` (:data:`OVERFLOW`). An id whose
    magnitude exceeds ``limit`` (``2**31 - 1`` for int32 id arrays) stops the
    parse with :data:`WIDE_ID`, before anything of its line is written.
    """
    n_expected = schema.size
    has_rating = False
    for f in range(n_expected):
        has_rating = has_rating or schema[f] == RATING
    starts = np.empty(n_expected + 1, dtype=np.int64)
    ends = np.empty(n_expected + 1, dtype=np.int64)
    movie = -1
    movie_line = 0  # line and offset of the current movie line, and its ratings so far
    movie_offset = 0
    movie_count = 0
    i = start
    line = 0
    while i < buf.size:
        line += 1
        offset = i
        b, i = _line_end(buf, i)
        if (line == 1 and skip_first) or _is_blank(buf, offset, b):
            continue
        if grouped:
            is_movie, found, status = _movie_line(buf, offset, b, sep0)
            if status != OK:
                return pos, status, line, 0, offset, 0
            if is_movie:
                if movie_line > 0 and movie_count == 0:
                    return pos, EMPTY_MOVIE, movie_line, 0, movie_offset, 0
                if found > limit:
                    return pos, WIDE_ID, line, 0, offset, 0
                movie = found
                movie_line, movie_offset, movie_count = line, offset, 0
                continue
        n_fields = _split_fields(buf, offset, b, sep0, sep1, starts, ends)
        if n_fields != n_expected:
            return pos, FIELD_COUNT, line, 0, offset, n_fields
        if grouped and movie < 0:
            return pos, NO_MOVIE, line, 0, offset, n_fields
        if pos >= users.size or pos >= items.size or (has_rating and pos >= values.size):
            return pos, OVERFLOW, line, 0, offset, n_fields
        items[pos] = movie
        for f in range(n_expected):
            kind = schema[f]
            status = OK
            if kind == RATING:
                rating, status = _parse_float(buf, starts[f], ends[f])
                values[pos] = rating
                if status == OK and not np.isfinite(values[pos]):
                    status = NOT_FINITE
            elif kind == DATE:
                if not _is_date(buf, starts[f], ends[f]):
                    status = EMPTY_FIELD if _is_blank(buf, starts[f], ends[f]) else BAD_DATE
            else:
                number, status = _parse_int(buf, starts[f], ends[f])
                if status == OK and kind != INTEGER and (number > limit or number < -limit - 1):
                    return pos, WIDE_ID, line, f + 1, offset, n_fields
                if kind == USER:
                    users[pos] = number
                elif kind == ITEM:
                    items[pos] = number
            if status != OK:
                return pos, status, line, f + 1, offset, n_fields
        pos += 1
        movie_count += 1
    if movie_line > 0 and movie_count == 0:
        return pos, EMPTY_MOVIE, movie_line, 0, movie_offset, 0
    return pos, OK, line, 0, 0, 0


@jit()
def record_lines(buf, start, sep0, skip_first, grouped, wanted, out):
    """The 1-based line of records ``wanted`` (sorted, 0-based) of a file that
    :func:`parse_lines` read without error, written to ``out``: a record is
    a line that is not skipped, blank or (``grouped``) a ``movie_id:`` line."""
    i = start
    line = 0
    record = 0
    k = 0
    while i < buf.size and k < wanted.size:
        line += 1
        offset = i
        b, i = _line_end(buf, i)
        if (line == 1 and skip_first) or _is_blank(buf, offset, b):
            continue
        if grouped and _movie_line(buf, offset, b, sep0)[0]:
            continue
        while k < wanted.size and wanted[k] == record:
            out[k] = line
            k += 1
        record += 1
    return k
