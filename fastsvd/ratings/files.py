"""The binary ``.npz`` format of :class:`fastsvd.Ratings` files and caches.

A file holds the arrays of a Ratings (users, items, values, shape, id maps)
with a ``kind`` marker and a format version; a cache file also holds the key
of the file it caches. Reading checks the marker, the version and the key and
turns every error of a damaged file into a ``ValueError``. A cache's large
arrays are memory-mapped rather than read (:func:`read`'s ``mapped``).
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib

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


def read(path, kind: str, key: str | None = None, *, mapped=()) -> dict:
    """The arrays of a file of ``kind`` (and ``key``, for a cache).

    The arrays named in ``mapped`` are memory-mapped read-only instead of
    read into new memory (their CRC is still checked): a 100M-rating cache
    then loads in about a second instead of several.
    """
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
            arrays = {name: npz[name] for name in ARRAYS if name not in mapped}
        arrays.update(_map_members(path, mapped))
        return arrays
    except WrongFile:
        raise
    except Exception as exc:  # zipfile, zlib, numpy and OS errors of a damaged file
        raise ValueError(f"{path} is not a readable ratings file (truncated or corrupt?): "
                         f"{type(exc).__name__}: {exc}") from None


def _map_members(path, names) -> dict:
    """Read-only memory maps of the uncompressed ``.npy`` members ``names``
    of the ``.npz`` at ``path`` (as :func:`numpy.savez` writes them)."""
    arrays = {}
    if not names:
        return arrays
    with zipfile.ZipFile(path) as archive, open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        for name in names:
            info = archive.getinfo(f"{name}.npy")
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"member {name} is compressed")
            file.seek(info.header_offset)
            local = file.read(30)
            if len(local) != 30 or local[:4] != b"PK\x03\x04":
                raise ValueError(f"bad local header of member {name}")
            name_length, extra_length = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_length + extra_length
            file.seek(start)
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(file)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(file)
            offset = file.tell()
            n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if dtype.hasobject or fortran or len(shape) != 1:
                raise ValueError(f"member {name} is not a plain 1-d array")
            if offset + n_bytes != start + info.file_size or offset + n_bytes > size:
                raise ValueError(f"member {name} is truncated")
            file.seek(start)
            crc = zlib.crc32(file.read(offset - start))
            if n_bytes == 0:
                array = np.zeros(shape, dtype=dtype)
            else:
                array = np.asarray(np.memmap(path, dtype=dtype, mode="r", offset=offset,
                                             shape=shape))
            if zlib.crc32(array, crc) != info.CRC:  # the check zipfile makes on a read
                raise ValueError(f"member {name} fails its CRC check")
            arrays[name] = array
    return arrays


def savable(array: np.ndarray, name: str) -> np.ndarray:
    """``array`` in a form ``np.load(allow_pickle=False)`` reads back."""
    if array.dtype != object:
        return array
    plain = plain_ids(array)
    if plain.dtype == object:
        raise ValueError(f"{name} of dtype object cannot be saved; convert them to numbers or "
                         "strings first.")
    return plain
