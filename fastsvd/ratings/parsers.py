"""Reading numeric rating files with the byte parsers of
:mod:`fastsvd.kernels.parsing`: the line layout of each format, the output
arrays, and the error messages that name the file and the line.

A file is read (a small one) or memory-mapped read-only (a large one) and
parsed by one sequential kernel that writes raw user ids, raw item ids (int32
while every id fits, else int64) and ratings into arrays allocated here, so a
100M-rating file needs only its output arrays.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..kernels import parsing as kernels

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


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
    kernels.NOT_FINITE: "field {field} ({name}) is not a finite number in {dtype}",
    kernels.EMPTY_MOVIE: "the 'movie_id:' line is followed by no {record} line (a truncated "
                         "file?)",
    kernels.MOVIE_TOO_LONG: "the movie id has more than 18 digits",
}


#: Files up to this size are read into memory; larger ones are memory-mapped.
_READ_LIMIT = 64 << 20


def read_bytes(path) -> np.ndarray:
    """The bytes of ``path`` as a read-only uint8 array: read in one call for
    a small file (cheaper than a map, which matters over 17,770 files),
    memory-mapped for a large one (only the page cache holds its text)."""
    size = os.path.getsize(path)
    if size == 0:
        return np.zeros(0, dtype=np.uint8)
    if size <= _READ_LIMIT:
        with open(path, "rb") as file:
            buf = np.frombuffer(file.read(), dtype=np.uint8)
        if buf.size != size:
            raise ValueError(f"{path} changed size while it was read ({size} bytes, then "
                             f"{buf.size}); read it again once it is complete.")
        return buf
    return np.asarray(np.memmap(path, dtype=np.uint8, mode="r"))


def read_ratings_file(path, fmt: str, dtype=np.float64, *, progress=None, sources=None):
    """Parse one numeric rating file, or for the Netflix formats a directory
    of ``mv_*.txt`` files (:func:`netflix_files`).

    Returns ``(users, items, values)``: raw user ids, raw item ids (both
    int32 when every id fits, else both int64) and ratings of ``dtype`` in
    file order (``values`` is ``None`` for formats without ratings). Raises
    ``ValueError`` naming the file and the 1-based line of the first
    malformed line, or when the files hold no rating (in
    a directory: when any one file holds none). ``progress(n_bytes)`` is
    called after each file; ``sources``, a list, receives one ``(file,
    n_records)`` per file, for :func:`locate`.
    """
    layout = LAYOUTS[fmt]
    path = Path(path)
    files = netflix_files(path) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path} is a directory without mv_*.txt files; pass a Netflix-prize "
                         "training_set directory or a single file.")
    sizes = [f.stat().st_size for f in files]
    # Every rating line has at least ``shortest_line`` bytes: that bounds the count.
    n_max = sum(size // layout.shortest_line + 1 for size in sizes)
    # Ids go to int32 arrays while they fit (half the memory of int64 ones);
    # the first id beyond int32 widens both and parses that file again.
    users = np.empty(n_max, dtype=np.int32)
    items = np.empty(n_max, dtype=np.int32)
    limit = INT32_MAX
    values = np.empty(n_max if layout.has_ratings else 0, dtype=dtype)
    schema = np.array([kind for _, kind in layout.fields], dtype=np.int64)
    sep = layout.separator
    sep1 = sep[1] if len(sep) > 1 else -1
    pos = 0
    for file, size in zip(files, sizes, strict=True):
        buf = read_bytes(file)
        if buf.size > size:  # grew since it was counted: the bound may not hold
            raise ValueError(f"{file} changed size while it was read ({size} bytes, then "
                             f"{buf.size}); read it again once it is complete.")
        start = _text_start(buf)
        skip = layout.header is not None and _has_header(buf, start)
        while True:
            result = kernels.parse_lines(buf, start, sep[0], sep1, skip, layout.grouped,
                                         schema, users, items, values, pos, limit)
            if result[1] != kernels.WIDE_ID:
                break
            users, items, limit = _widen(users, pos), _widen(items, pos), INT64_MAX
        end = _check(result, buf, file, fmt, values.dtype)
        if end == pos and path.is_dir():
            raise ValueError(f"{file} holds no ratings (format {fmt!r}): every mv_*.txt file of "
                             f"{path} must hold some; is it empty or truncated?")
        if sources is not None:
            sources.append((file, end - pos))
        pos = end
        if progress is not None:
            progress(buf.size)
    if pos == 0:
        where = f"the mv_*.txt files in {path} hold" if path.is_dir() else f"{path} holds"
        raise ValueError(f"{where} no ratings (format {fmt!r}); check the file and the format.")
    # Ids are views (callers map them to indices and drop them); the untouched
    # tail of an over-sized allocation is never paged in, so it costs address
    # space only. Ratings are kept: they are trimmed by the caller (trim()) once
    # the ids are mapped, when the copy no longer adds to the peak.
    return users[:pos], items[:pos], values[:pos] if layout.has_ratings else None


def _widen(ids, n):
    """An int64 array of ``ids.size`` entries holding the first ``n`` of ``ids``."""
    wide = np.empty(ids.size, dtype=np.int64)
    wide[:n] = ids[:n]
    return wide


def locate(sources, fmt: str, positions) -> list[tuple[Path, int]]:
    """``(file, line)`` of each record position (0-based, over all files of
    ``sources`` from :func:`read_ratings_file`); for error messages."""
    layout = LAYOUTS[fmt]
    positions = np.asarray(positions, dtype=np.int64)
    found = [None] * positions.size
    first = 0
    for file, count in sources:
        inside = np.flatnonzero((positions >= first) & (positions < first + count))
        if inside.size:
            wanted = positions[inside] - first
            order = np.argsort(wanted, kind="stable")
            lines = np.zeros(inside.size, dtype=np.int64)
            buf = read_bytes(file)
            start = _text_start(buf)
            skip = layout.header is not None and _has_header(buf, start)
            kernels.record_lines(buf, start, layout.separator[0], skip, layout.grouped,
                                 wanted[order], lines)
            for k, line in zip(inside[order].tolist(), lines.tolist(), strict=True):
                found[k] = (file, line)
        first += count
    return found


def trim(array):
    """``array`` without the unused tail of its allocation (copied when
    that frees much address space)."""
    base = array.base if array.base is not None else array
    return array.copy() if array.nbytes < 0.9 * base.nbytes else array


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


def _check(result, buf, path, fmt, dtype=np.float64) -> int:
    """The number of ratings parsed so far, or the ``ValueError`` of a malformed line."""
    end, status, line, field, offset, n_fields = result
    if status == kernels.OK:
        return int(end)
    layout = LAYOUTS[fmt]
    name = layout.fields[field - 1][0] if field else ""
    record = "user" if fmt == "netflix-probe" else "rating"
    what = _PROBLEMS[status].format(expected=len(layout.fields), found=n_fields, field=field,
                                    name=name, layout=layout.description,
                                    dtype=np.dtype(dtype).name, record=record)
    raise ValueError(f"malformed line {line} in {path} (format {fmt!r}): {what}. The line "
                     f"reads {_line_text(buf, offset)!r}.")


def _line_text(buf, offset, limit=120) -> str:
    stop = min(buf.size, offset + limit)
    raw = bytes(buf[offset:stop]).split(b"\n", 1)[0].rstrip(b"\r")
    return raw.decode("utf-8", errors="replace")
