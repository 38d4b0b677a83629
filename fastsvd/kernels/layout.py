"""Memory layout of the sparse kernels' inputs: row chunks, cache-aligned
buffers and column tiles. Plain numpy (no numba), so operators can plan a
product without loading the kernels.
"""

from __future__ import annotations

import numpy as np

# Tile widths with kernels of their own, and the narrowest block that uses
# them (docs/design.md, "Register tiles", has the measurements behind them).
TILE_WIDTHS = (32, 48, 64)
MIN_TILED_COLUMNS = 24


def balanced_row_chunks(indptr: np.ndarray, n_chunks: int) -> np.ndarray:
    """Row boundaries splitting a CSR into ``n_chunks`` parts of about equal work.

    Work per row is its number of nonzeros plus one (so empty rows still
    count). Returns an int64 array ``b`` with ``b[0] == 0`` and
    ``b[-1] == n_rows``; chunks may be empty.
    """
    n_rows = indptr.size - 1
    work = indptr.astype(np.int64) + np.arange(n_rows + 1, dtype=np.int64)
    targets = work[-1] * np.arange(n_chunks + 1, dtype=np.float64) / n_chunks
    bounds = np.searchsorted(work, targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, n_rows
    return np.maximum.accumulate(np.minimum(bounds, n_rows))



def cache_aligned_empty(shape, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)`` starting on a 64-byte cache line, so the rows
    of a tile (128 or 256 bytes) never straddle one more line than they fill.
    numpy's own alignment is 16 bytes, and misaligned tiles make the products
    markedly slower (docs/design.md)."""
    return cache_aligned_view(np.empty(aligned_nbytes(shape, dtype), dtype=np.uint8), shape,
                              dtype)


def aligned_nbytes(shape, dtype) -> int:
    """Bytes of a buffer that holds a cache-aligned array of ``shape``."""
    return int(np.prod(shape)) * np.dtype(dtype).itemsize + 64


def cache_aligned_view(buffer: np.ndarray, shape, dtype) -> np.ndarray:
    """An array of ``shape`` and ``dtype`` in the bytes of ``buffer`` (uint8,
    at least ``aligned_nbytes(shape, dtype)`` of them), starting on a 64-byte
    cache line."""
    start = -buffer.ctypes.data % 64
    size = aligned_nbytes(shape, dtype) - 64
    return buffer[start:start + size].view(dtype).reshape(shape)


def column_tiles(X: np.ndarray, width: int) -> np.ndarray:
    """``X`` (``n x k``) as ``ceil(k / width)`` C-contiguous, cache-aligned
    tiles of ``width`` columns, shape ``(n_tiles, n, width)``, the last one
    padded with zeros."""
    n, k = X.shape
    tiles = cache_aligned_empty((-(-k // width), n, width), X.dtype)
    tiles[-1] = 0
    for tile in range(tiles.shape[0]):
        columns = X[:, tile * width:(tile + 1) * width]
        tiles[tile, :, :columns.shape[1]] = columns
    return tiles



def tile_width(k: int) -> int | None:
    """The tile width for a block of ``k`` columns (``None``: the generic
    kernels): the narrowest tile that holds ``k``; past the widest, the
    widest when its tiles pad ``k`` by at most an eighth (padding is work),
    else the generic kernels."""
    if k < MIN_TILED_COLUMNS:
        return None
    widest = TILE_WIDTHS[-1]
    if k > widest:
        return widest if 8 * (-k % widest) <= k else None
    return next(width for width in TILE_WIDTHS if k <= width)


def one_tile(rank: int, k: int) -> int | None:
    """The tile width of the residual kernels for a model of ``rank`` and a
    multiplier of ``k`` columns, when one tile holds both (else ``None``)."""
    width = tile_width(max(rank, k))
    return width if width is not None and max(rank, k) <= width else None
