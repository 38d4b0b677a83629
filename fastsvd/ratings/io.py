"""Reading rating files: :func:`load_ratings`, format detection and the cache.

The MovieLens and Netflix-prize formats are parsed by numba byte parsers
(:mod:`fastsvd.ratings.parsers`); generic CSV, TSV and Parquet files go
through pandas. A binary cache makes a second load of the same file take
seconds even at 100M ratings.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .._checks import check_bool, check_choice
from .._progress import progress as progress_bar
from . import files, parsers, tables
from ._ids import factorize
from .container import DUPLICATES, DuplicateRatings, Ratings

#: The formats :func:`load_ratings` reads.
FORMATS = ("movielens-100k", "movielens-dat", "movielens-csv", "netflix", "csv", "tsv",
           "parquet")
_PANDAS_FORMATS = ("csv", "tsv", "parquet")
# The cache's per-rating arrays are memory-mapped: a load copies nothing and
# pages in only what is used (the index checks read users and items once).
_MAPPED = ("users", "items", "values")


def load_ratings(path, *, format="auto", dtype=np.float32, cache=True, cache_dir=None,
                 user="user", item="item", rating="rating", duplicates="error",
                 progress=False) -> Ratings:
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
    duplicates : {"error", "last"}
        A (user, item) pair rated more than once raises ``ValueError``
        naming the file and the lines of the first repetition (default), or
        keeps its last rating in file order (``"last"``).
    progress : bool
        Show a progress bar over the bytes parsed (tqdm when installed, else
        a line on stderr now and then); nothing when the cache answers.

    Returns
    -------
    Ratings
        Raw ids mapped as in :meth:`Ratings.from_ids` (sorted ids); the
        ratings keep the file order (files in name order for a directory).

    Notes
    -----
    The numeric formats are parsed by numba kernels straight from the file's
    bytes, with memory for the results only. Every problem raises a
    ``ValueError`` that names the file and, where there is one, its 1-based
    line; nothing is loaded in part. In detail:

    * Accepted as well-formed: blank lines (empty or spaces and tabs, also
      trailing), ``\\r\\n`` line ends, a missing final newline, a UTF-8
      byte-order mark, spaces around a field. There are no comment lines.
    * A malformed line (too few or too many fields, a field that is empty or
      not a number, a truncated last line such as ``1<TAB>2<TAB>``, a header
      row in a format without one, bytes that are not UTF-8 inside a field)
      names its line and shows it. Ratings ``nan``, ``inf`` and any rating
      that is not finite in ``dtype`` (``1e39`` in float32) are errors.
      ``movielens-csv`` skips a first line that does not start with a
      number, unread (its bytes need not be UTF-8).
    * Ids are integers of at most 18 digits, read as int64 (ids beyond int32
      load); longer ids are an error. Negative ids load as they are.
    * Netflix: every ``movie_id:`` line must be followed by a rating line
      (else the file is truncated: an error at that movie line). A directory
      reads its ``mv_*.txt`` files (other files, e.g. ``README.txt``, are
      ignored), each of which must hold a rating.
    * An empty file, or one with only blank lines (or only a header), holds no
      ratings: an error.
    * A repeated (user, item) pair: see ``duplicates``; across the files of a
      directory too.
    * The pandas formats give the same errors for what pandas reads: a line
      with more fields than the header, text that is not UTF-8, an empty,
      NaN, non-numeric or infinite rating, a missing id, an integer id beyond
      int64. Their lines are counted as pandas does (blank lines skipped);
      with quoted line breaks the message names the data row instead.

    A corrupt cache file is ignored and rewritten; a cache that cannot be
    written gives a warning, not an error.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fastsvd import load_ratings
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "u.data").write_text("1\\t10\\t4\\t0\\n1\\t20\\t3\\t0\\n2\\t10\\t5\\t0\\n")
    >>> ratings = load_ratings(folder / "u.data", cache=False)
    >>> ratings
    Ratings(2 users x 2 items, 3 ratings, float32)
    >>> ratings.user_ids.tolist(), ratings.item_ids.tolist()
    ([1, 2], [10, 20])
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such rating file or directory: {path}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}.")
    check_choice(duplicates, DUPLICATES, name="duplicates")
    check_bool(progress, name="progress")
    fmt = detect_format(path) if format == "auto" else check_choice(format, FORMATS,
                                                                       name="format")
    if path.is_dir() and fmt != "netflix":
        raise ValueError(f"{path} is a directory; format {fmt!r} reads a single file.")
    columns = (user, item, rating) if fmt in _PANDAS_FORMATS else ()
    if not cache:
        return _parse(path, fmt, dtype, columns, duplicates, progress)
    key = _cache_key(path, fmt, dtype, columns, duplicates)
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    file = _cache_dir(cache_dir) / f"{path.name}-{digest}.npz"
    if file.exists():
        try:
            arrays = files.read(file, files.CACHE_KIND, key, mapped=_MAPPED)
            return Ratings._from_arrays(arrays, file, check=False)
        except ValueError:
            pass  # corrupt, or of another version: parse again and overwrite it
    ratings = _parse(path, fmt, dtype, columns, duplicates, progress)
    _write_cache(ratings, file, key)
    return ratings


def _parse(path, fmt, dtype, columns, duplicates, progress) -> Ratings:
    if fmt not in _PANDAS_FORMATS:
        return _from_parsed(path, fmt, dtype, duplicates, progress)
    df = tables.read_table(path, fmt, columns)
    return tables.from_table(df, path, fmt, columns, dtype, duplicates)


def _from_parsed(path, fmt, dtype, duplicates, progress) -> Ratings:
    """Parse a numeric format and map its raw ids, taking ownership of the
    parser's arrays. Each raw id array is released as soon as it is mapped,
    and the ratings are trimmed only then, which keeps the peak memory near
    that of the parser's output."""
    sources = []
    with _bar(path, progress) as bar:
        users, items, values = parsers.read_ratings_file(path, fmt, dtype, progress=bar.update,
                                                         sources=sources)
    user_ids, users = factorize(users, "users")
    item_ids, items = factorize(items, "items")
    user_ids, item_ids = user_ids.astype(np.int64), item_ids.astype(np.int64)  # raw ids: int64
    values = parsers.trim(values)
    try:
        return Ratings._owned(users, items, values, (user_ids.size, item_ids.size), user_ids,
                              item_ids, duplicates, copy_values=False)
    except DuplicateRatings as exc:
        (file_a, line_a), (file_b, line_b) = parsers.locate(sources, fmt, exc.positions)
        where = (f"lines {line_a} and {line_b} of {file_a}" if file_a == file_b else
                 f"line {line_a} of {file_a} and line {line_b} of {file_b}")
        raise ValueError(f"{path}: the (user, item) pair {exc.pair!r} is rated more than once, "
                         f"on {where} ({exc.count} rating(s) repeat an earlier pair in all). "
                         "Pass duplicates=\"last\" to keep the last rating of each pair, or "
                         "remove the duplicates.") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _bar(path, enabled):
    """A progress bar over the bytes of the file or of the ``mv_*.txt`` files."""
    if not enabled:
        return progress_bar(enabled=False)
    paths = parsers.netflix_files(path) if path.is_dir() else [path]
    total = sum(p.stat().st_size for p in paths)
    what = f"{len(paths)} files" if path.is_dir() else "1 file"
    return progress_bar(total=total, desc=f"{path.name} ({what})", unit="B", scale=True)


def detect_format(path) -> str:
    """The format of a rating file or directory, from its name, extension and
    first line (see :func:`load_ratings`). Raises ``ValueError`` when unsure."""
    path = Path(path)
    if path.is_dir():
        if parsers.netflix_files(path):
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


def _cache_key(path, fmt, dtype, columns, duplicates="error") -> str:
    """Absolute path, size and mtime of the file (of each ``mv_*.txt`` for a
    directory), format, dtype and columns: any change gives another key."""
    path = path.resolve()
    stamps = []
    for file in parsers.netflix_files(path) if path.is_dir() else [path]:
        stat = file.stat()
        stamps.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join([f"v{files.FORMAT_VERSION}", str(path), fmt, dtype.name, *columns, duplicates,
                     hashlib.sha256("\n".join(stamps).encode()).hexdigest()])


def _write_cache(ratings, file, key):
    tmp = None
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=file.parent, suffix=".tmp", delete=False) as out:
            tmp = out.name
            files.write(out, ratings._arrays(), files.CACHE_KIND, key)
        os.replace(tmp, file)
    except (OSError, ValueError) as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        warnings.warn(f"could not write the ratings cache {file}: {exc}", RuntimeWarning,
                      stacklevel=3)
