"""The binary ``.npz`` format of :class:`fastsvd.Ratings` files and caches.

A file holds the arrays of a Ratings (users, items, values, shape, id maps)
with a ``kind`` marker and a format version; a cache file also holds the key
of the file it caches. Reading checks the marker, the version and the key and
turns every error of a damaged file into a ``ValueError``.
"""

from __future__ import annotations

import numpy as np

from ._ids import plain_ids

FILE_KIND = "fastsvd.Ratings"
CACHE_KIND = "fastsvd.ratings-cache"
FORMAT_VERSION = 1
ARRAYS = ("users", "items", "values", "shape", "user_ids", "item_ids")


class WrongFile(ValueError):
    """A readable ``.npz`` that is not the expected kind, version or key."""


def write(file, arrays: dict, kind: str, key: str | None = None) -> None:
    """Write ``arrays`` (the names in :data:`ARRAYS`) to an open binary file."""
    extra = {} if key is None else {"key": np.array(key)}
    np.savez(file, kind=np.array(kind), format_version=np.array(FORMAT_VERSION), **extra,
             **{name: savable(arrays[name], name) for name in ARRAYS})


def read(path, kind: str, key: str | None = None) -> dict:
    """The arrays of a file of ``kind`` (and ``key``, for a cache)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            found_kind = str(npz["kind"]) if "kind" in npz.files else None
            if found_kind != kind:
                raise WrongFile(f"{path} is not a {kind} file (it holds "
                                f"{found_kind or 'no kind marker'}).")
            version = int(npz["format_version"])
            if version != FORMAT_VERSION:
                raise WrongFile(f"{path} has format version {version}, but this fastsvd "
                                f"reads version {FORMAT_VERSION}; save it again with the "
                                "fastsvd that reads it.")
            if key is not None and str(npz["key"]) != key:
                raise WrongFile(f"{path} caches another file.")
            return {name: npz[name] for name in ARRAYS}
    except WrongFile:
        raise
    except Exception as exc:  # zipfile, zlib, numpy and OS errors of a damaged file
        raise ValueError(f"{path} is not a readable ratings file (truncated or corrupt?): "
                         f"{type(exc).__name__}: {exc}") from None


def savable(array: np.ndarray, name: str) -> np.ndarray:
    """``array`` in a form ``np.load(allow_pickle=False)`` reads back."""
    if array.dtype != object:
        return array
    plain = plain_ids(array)
    if plain.dtype == object:
        raise ValueError(f"{name} of dtype object cannot be saved; convert them to numbers or "
                         "strings first.")
    return plain
