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

from .._checks import check_choice
from . import files, parsers
from ._ids import factorize
from .container import Ratings

#: The formats :func:`load_ratings` reads.
FORMATS = ("movielens-100k", "movielens-dat", "movielens-csv", "netflix", "csv", "tsv",
           "parquet")
_PANDAS_FORMATS = ("csv", "tsv", "parquet")


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
    fmt = detect_format(path) if format == "auto" else check_choice(format, FORMATS,
                                                                       name="format")
    if path.is_dir() and fmt != "netflix":
        raise ValueError(f"{path} is a directory; format {fmt!r} reads a single file.")
    columns = (user, item, rating) if fmt in _PANDAS_FORMATS else ()
    if not cache:
        return _parse(path, fmt, dtype, columns)
    key = _cache_key(path, fmt, dtype, columns)
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    file = _cache_dir(cache_dir) / f"{path.name}-{digest}.npz"
    if file.exists():
        try:
            return Ratings._from_arrays(files.read(file, files.CACHE_KIND, key), file,
                                        check=False)
        except ValueError:
            pass  # corrupt, or of another version: parse again and overwrite it
    ratings = _parse(path, fmt, dtype, columns)
    _write_cache(ratings, file, key)
    return ratings


def _parse(path, fmt, dtype, columns) -> Ratings:
    if fmt not in _PANDAS_FORMATS:
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
    users, items, values = parsers.read_ratings_file(path, fmt, dtype)
    user_ids, users = factorize(users, "users")
    item_ids, items = factorize(items, "items")
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


def _cache_key(path, fmt, dtype, columns) -> str:
    """Absolute path, size and mtime of the file (of each ``mv_*.txt`` for a
    directory), format, dtype and columns: any change gives another key."""
    path = path.resolve()
    stamps = []
    for file in parsers.netflix_files(path) if path.is_dir() else [path]:
        stat = file.stat()
        stamps.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join([f"v{files.FORMAT_VERSION}", str(path), fmt, dtype.name, *columns,
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
