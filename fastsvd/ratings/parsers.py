"""Reading numeric rating files with the byte parsers of
:mod:`fastsvd.kernels.parsing`: the line layout of each format, the output
arrays, and the error messages that name the file and the line.

A file is memory-mapped read-only and parsed by one sequential kernel that
writes raw user ids (int64), raw item ids (int64) and ratings into arrays
allocated here, so a 100M-rating file needs only its output arrays.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..kernels import parsing as kernels


class Layout(NamedTuple):
    """How the lines of a format read."""

    separator: bytes
    fields: tuple  # (name, kind) per field; kinds from fastsvd.kernels.parsing
    grouped: bool  # Netflix-prize style: ``movie_id:`` lines set the item
    header: str | None  # a header this format may start with, or None
    shortest_line: int  # bytes of the shortest rating line (bounds the rating count)

    @property
    def description(self) -> str:
        names = ", ".join(name for name, _ in self.fields)
        how = {b"\t": "tabs", b"::": "'::'", b",": "commas"}[self.separator]
        text = f"{len(self.fields)} fields separated by {how} ({names})"
        return f"'movie_id:' or {text}" if self.grouped else text

    @property
    def has_ratings(self) -> bool:
        return any(kind == kernels.RATING for _, kind in self.fields)


_U, _I, _R = kernels.USER, kernels.ITEM, kernels.RATING
_INT, _DATE = kernels.INTEGER, kernels.DATE
LAYOUTS = {
    "movielens-100k": Layout(b"\t", (("user", _U), ("item", _I), ("rating", _R),
                                     ("timestamp", _INT)), False, None, 8),
    "movielens-dat": Layout(b"::", (("user", _U), ("item", _I), ("rating", _R),
                                    ("timestamp", _INT)), False, None, 11),
    "movielens-csv": Layout(b",", (("userId", _U), ("movieId", _I), ("rating", _R),
                                   ("timestamp", _INT)), False, "userId", 8),
    "netflix": Layout(b",", (("user_id", _U), ("rating", _R), ("date", _DATE)), True, None, 15),
    # The Netflix prize's probe.txt (movie_id: lines, then user ids) and
    # qualifying.txt (movie_id: lines, then user_id,date): pairs, no ratings.
    "netflix-probe": Layout(b",", (("user_id", _U),), True, None, 2),
    "netflix-qualifying": Layout(b",", (("user_id", _U), ("date", _DATE)), True, None, 13),
}
#: Formats read by the byte parsers.
FORMATS = tuple(LAYOUTS)

_PROBLEMS = {
    kernels.FIELD_COUNT: "expected {expected} fields, found {found}; each line must read "
                         "{layout}",
    kernels.EMPTY_FIELD: "field {field} ({name}) is empty",
    kernels.NOT_A_NUMBER: "field {field} ({name}) is not a number; each line must read {layout}",
    kernels.TOO_LONG: "field {field} ({name}) has more than 18 digits",
    kernels.BAD_DATE: "field {field} ({name}) is not a date of the form YYYY-MM-DD",
    kernels.BAD_MOVIE: "a movie line must read 'movie_id:' with a non-negative integer id",
    kernels.NO_MOVIE: "a rating comes before the first 'movie_id:' line",
    kernels.OVERFLOW: "more ratings than lines (internal error)",
}


def read_bytes(path) -> np.ndarray:
    """The bytes of ``path`` as a read-only uint8 array (memory-mapped)."""
    if os.path.getsize(path) == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.asarray(np.memmap(path, dtype=np.uint8, mode="r"))


def read_ratings_file(path, fmt: str, dtype=np.float64, *, progress=None):
    """Parse one numeric rating file, or for the Netflix formats a directory
    of ``mv_*.txt`` files (:func:`netflix_files`).

    Returns ``(users, items, values)``: raw int64 user ids, raw int64 item ids
    and ratings of ``dtype`` in file order (``values`` is ``None`` for formats
    without ratings). Raises ``ValueError`` naming the file and the 1-based
    line of the first malformed line, or when the files hold no rating.
    ``progress(n_bytes)`` is called after each file.
    """
    layout = LAYOUTS[fmt]
    path = Path(path)
    files = netflix_files(path) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path} is a directory without mv_*.txt files; pass a Netflix-prize "
                         "training_set directory or a single file.")
    # Every rating line has at least ``shortest_line`` bytes: that bounds the count.
    n_max = sum(f.stat().st_size // layout.shortest_line + 1 for f in files)
    users = np.empty(n_max, dtype=np.int64)
    items = np.empty(n_max, dtype=np.int64)
    values = np.empty(n_max if layout.has_ratings else 0, dtype=dtype)
    schema = np.array([kind for _, kind in layout.fields], dtype=np.int64)
    sep = layout.separator
    pos = 0
    for file in files:
        buf = read_bytes(file)
        start = _text_start(buf)
        skip = layout.header is not None and _has_header(buf, start)
        result = kernels.parse_lines(buf, start, sep[0], sep[1] if len(sep) > 1 else -1, skip,
                                     layout.grouped, schema, users, items, values, pos)
        pos = _check(result, buf, file, fmt)
        if progress is not None:
            progress(buf.size)
    if pos == 0:
        where = f"the mv_*.txt files in {path} hold" if path.is_dir() else f"{path} holds"
        raise ValueError(f"{where} no ratings (format {fmt!r}); check the file and the format.")
    # Ids are views (callers map them to indices and drop them); the untouched
    # tail of an over-sized allocation is never paged in. Ratings are kept, so
    # they are copied when the tail is large.
    return users[:pos], items[:pos], _trim(values, pos) if layout.has_ratings else None


def netflix_files(path) -> list[Path]:
    """The ``mv_*.txt`` files of a Netflix-prize directory (or of its
    ``training_set`` subfolder), sorted by name."""
    path = Path(path)
    files = sorted(path.glob("mv_*.txt"))
    if not files and (path / "training_set").is_dir():
        files = sorted((path / "training_set").glob("mv_*.txt"))
    return files


def _text_start(buf) -> int:
    """Offset of the text after a UTF-8 byte-order mark, if any."""
    return 3 if buf.size >= 3 and bytes(buf[:3]) == b"\xef\xbb\xbf" else 0


def _has_header(buf, start) -> bool:
    """True when the first line does not start with a number (a CSV header)."""
    i = start
    while i < buf.size and buf[i] in (32, 9):
        i += 1
    return i < buf.size and not (48 <= buf[i] <= 57 or buf[i] in (43, 45, 46))


def _trim(array, n):
    """``array[:n]``, copied when that frees much memory."""
    return array[:n].copy() if n < 0.9 * array.size else array[:n]


def _check(result, buf, path, fmt) -> int:
    """The number of ratings parsed so far, or the ``ValueError`` of a malformed line."""
    end, status, line, field, offset, n_fields = result
    if status == kernels.OK:
        return int(end)
    layout = LAYOUTS[fmt]
    name = layout.fields[field - 1][0] if field else ""
    what = _PROBLEMS[status].format(expected=len(layout.fields), found=n_fields, field=field,
                                    name=name, layout=layout.description)
    raise ValueError(f"malformed line {line} in {path} (format {fmt!r}): {what}. The line "
                     f"reads {_line_text(buf, offset)!r}.")


def _line_text(buf, offset, limit=120) -> str:
    stop = min(buf.size, offset + limit)
    raw = bytes(buf[offset:stop]).split(b"\n", 1)[0].rstrip(b"\r")
    return raw.decode("utf-8", errors="replace")
