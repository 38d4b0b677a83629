"""Generic CSV, TSV and Parquet rating files, read with pandas.

pandas parses the text; this module checks what it read before a
:class:`Ratings` is built, so that every problem of the file is a
``ValueError`` naming the file and its 1-based line: text that is not
UTF-8, a line with more fields than the header, a missing (empty or NaN),
non-numeric or infinite rating, a missing id, an integer id beyond int64,
a (user, item) pair rated twice.
"""

from __future__ import annotations

import warnings

import numpy as np

from .container import DuplicateRatings, Ratings


def read_table(path, fmt, columns):
    """The DataFrame of a ``csv``, ``tsv`` or ``parquet`` file with (at least)
    the three ``columns``."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a test/bench dependency
        raise ImportError(f"reading format {fmt!r} needs pandas: pip install pandas.") from None
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError("reading parquet needs pyarrow: pip install pyarrow.") from None
        try:
            df = pd.read_parquet(path, engine="pyarrow")
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} is not a readable parquet file: {exc}") from None
    else:
        sep = "," if fmt == "csv" else "\t"
        try:
            with warnings.catch_warnings():
                # index_col=False: a line with more fields than the header is an
                # error, never a shift of the columns into an index.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                df = pd.read_csv(path, sep=sep, index_col=False)
        except UnicodeDecodeError:
            raise ValueError(f"{path}: line {_first_non_utf8_line(path)} is not UTF-8 text; "
                             "re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)."
                             ) from None
        except pd.errors.EmptyDataError:
            raise ValueError(f"{path} is empty: it holds no header and no ratings.") from None
        except pd.errors.ParserWarning:
            raise ValueError(f"{path}: the first data line has more fields than the header "
                             f"(line {_first_data_line(path)}); each line must have one field "
                             "per column.") from None
        except pd.errors.ParserError as exc:
            raise ValueError(f"{path}: {str(exc).strip()}; each line must have one field per "
                             "column of the header.") from None
    available = list(df.columns)
    missing = [c for c in columns if c not in available]
    if missing:
        raise ValueError(f"{path} has no column(s) {', '.join(map(repr, missing))}; its "
                         f"columns are {available}. Choose the columns with user=, item= and "
                         "rating=.")
    return df[list(columns)]


def from_table(df, path, fmt, columns, dtype, duplicates) -> Ratings:
    """Check the three columns of ``df`` (read from ``path``) and build the Ratings."""
    import pandas as pd

    user, item, rating = columns
    where = _Rows(path, fmt, len(df))
    if len(df) == 0:
        raise ValueError(f"{path} holds no ratings: it has a header but no data lines.")
    for name in columns:
        missing = df[name].isna().to_numpy()
        if missing.any():
            raise ValueError(f"{path}: {where(np.argmax(missing))} has no {name!r} value "
                             f"(empty or NaN); {int(missing.sum())} line(s) miss one in all. "
                             "Drop or fill them first.")
    column = df[rating]
    if column.dtype.kind == "f":
        values = column.to_numpy()
    else:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64,
                                                                na_value=np.nan)
    with np.errstate(over="ignore"):  # ratings beyond float32 become inf: reported below
        values = values.astype(dtype, copy=False)
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(f"{path}: {where(first)} has the rating {column.iloc[first]!r}, not a "
                         f"finite {np.dtype(dtype).name} number; {int(bad.sum())} line(s) in "
                         "all.")
    raw = []
    for name in (user, item):
        ids = df[name].to_numpy()
        big = None
        if ids.dtype == np.uint64:
            big = ids >= 2**63
        elif ids.dtype == object and pd.api.types.infer_dtype(ids, skipna=True) in (
                "integer", "mixed-integer"):
            big = np.array([isinstance(v, int) and not -2**63 <= v < 2**63
                            for v in ids.tolist()])
        if big is not None and big.any():
            first = int(np.argmax(big))
            raise ValueError(f"{path}: {where(first)} has the {name!r} id {ids[first]}, beyond "
                             "the int64 range; integer ids must lie in [-2**63, 2**63).")
        raw.append(ids)
    try:
        ratings = Ratings.from_ids(raw[0], raw[1], values, duplicates=duplicates)
    except DuplicateRatings as exc:
        first, second = (where(p) for p in exc.positions)
        both = (f"lines {first[5:]} and {second[5:]}" if first.startswith("line ")
                else f"{first} and {second}")
        raise ValueError(f"{path}: the (user, item) pair {exc.pair!r} is rated more than once, "
                         f"on {both} ({exc.count} rating(s) repeat an earlier "
                         "pair in all). Pass duplicates=\"last\" to keep the last rating of "
                         "each pair, or remove the duplicates.") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return ratings


class _Rows:
    """Names a data row of a table by its line in the file (``line 7``), or
    by its position when the lines cannot be matched to the rows (quoted line
    breaks; parquet)."""

    def __init__(self, path, fmt, n_rows):
        self.path, self.fmt, self.n_rows, self._lines = path, fmt, n_rows, None

    def __call__(self, row) -> str:
        if self._lines is None:
            self._lines = _data_lines(self.path) if self.fmt != "parquet" else []
            if len(self._lines) != self.n_rows:
                self._lines = []
        if self._lines:
            return f"line {self._lines[int(row)]}"
        return f"data row {int(row) + 1}"


def _data_lines(path) -> list[int]:
    """1-based numbers of the lines pandas reads as data rows: every line
    after the header that is not blank (pandas skips those)."""
    with open(path, "rb") as file:
        lines = file.read().removeprefix(b"\xef\xbb\xbf").split(b"\n")
    numbers = [n for n, line in enumerate(lines, 1) if line.strip()]
    return numbers[1:]


def _first_data_line(path) -> int:
    lines = _data_lines(path)
    return lines[0] if lines else 2


def _first_non_utf8_line(path) -> int:
    with open(path, "rb") as file:
        data = file.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    return 1  # pragma: no cover - pandas found what Python does not
