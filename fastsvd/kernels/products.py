"""CSR times dense-block products: ``A @ X`` and ``A.T @ Y``.

Arrays in, arrays out, no validation. Callers (:class:`fastsvd.operators.
CSROperator`) guarantee well-formed input: a CSR structure checked once at the
facade (indices passed as an unsigned view, which spares numba's
negative-index handling), C-contiguous blocks of the matrix's dtype, and row
chunks from :func:`fastsvd.kernels.layout.balanced_row_chunks`.

Kernels are serial: each takes a range of row chunks (or rows, or output
columns) and the operators share the ranges out over threads
(:func:`fastsvd._threads.map_in_parallel`; kernels release the GIL). Serial
kernels compile several times faster than ``prange`` ones, and any number of
Python threads may run them at once.

Determinism: the row chunks' boundaries depend only on the matrix, never on
the thread count. Each chunk writes its own output (rows of ``A @ X``, or a
private partial sum of ``A.T @ Y`` that is then reduced in chunk order), so
results are bit-identical at any number of threads.

Row products handle four nonzeros per pass over the ``k`` columns: the output
row is loaded and stored once per four nonzeros. Blocks of 24 columns or more
go to kernels specialised to a tile width known at compile time
(:func:`tiled_products`): each row's accumulator of one tile then lives in
registers instead of memory.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .._jit import jit
from ._intrinsics import row_scatter, tile_registers


@jit()
def _gather_row(indptr, indices, data, X, i, out):
    """``out[:] = sum_p data[p] * X[indices[p]]`` over the nonzeros of row ``i``."""
    k = X.shape[1]
    out[:] = 0
    p = indptr[i]
    end = indptr[i + 1]
    while p + 4 <= end:
        a0, a1, a2, a3 = data[p], data[p + 1], data[p + 2], data[p + 3]
        x0, x1 = X[indices[p]], X[indices[p + 1]]
        x2, x3 = X[indices[p + 2]], X[indices[p + 3]]
        for t in range(k):
            out[t] += (a0 * x0[t] + a1 * x1[t]) + (a2 * x2[t] + a3 * x3[t])
        p += 4
    while p < end:
        a0, x0 = data[p], X[indices[p]]
        for t in range(k):
            out[t] += a0 * x0[t]
        p += 1


@jit()
def _scatter_row(indptr, indices, data, y, i, acc):
    """``acc[indices[p]] += data[p] * y`` over the nonzeros of row ``i``."""
    _scatter_segment(indices, data, y, indptr[i], indptr[i + 1], acc)


@jit()
def _scatter_segment(indices, data, y, p, end, acc):
    """``acc[indices[q]] += data[q] * y`` for the nonzeros ``p <= q < end``."""
    k = y.size
    while p + 4 <= end:
        a0, a1, a2, a3 = data[p], data[p + 1], data[p + 2], data[p + 3]
        d0, d1 = acc[indices[p]], acc[indices[p + 1]]
        d2, d3 = acc[indices[p + 2]], acc[indices[p + 3]]
        for t in range(k):
            yt = y[t]
            d0[t] += a0 * yt
            d1[t] += a1 * yt
            d2[t] += a2 * yt
            d3[t] += a3 * yt
        p += 4
    while p < end:
        a0, d0 = data[p], acc[indices[p]]
        for t in range(k):
            d0[t] += a0 * y[t]
        p += 1


@jit()
def _sum_partials(partial, out, first, stop):
    """``out[j, tile * w + t] = partial[0, tile, j, t] + partial[1, tile, j, t]
    + ...`` (in chunk order) for ``first <= j < stop``, where ``partial`` has
    shape ``(n_chunks, n_tiles, n_cols, w)`` (columns past ``out``'s are
    padding)."""
    k = out.shape[1]
    n_tiles, width = partial.shape[1], partial.shape[3]
    for j in range(first, stop):
        dst = out[j]
        for tile in range(n_tiles):
            start = tile * width
            stop_t = min(width, k - start)
            for t in range(stop_t):
                dst[start + t] = partial[0, tile, j, t]
            for c in range(1, partial.shape[0]):
                src = partial[c, tile, j]
                for t in range(stop_t):
                    dst[start + t] += src[t]


@jit()
def csr_matmat(indptr, indices, data, X, row_chunks, first, stop, out):
    """``out[rows] = (A @ X)[rows]`` for the rows of chunks ``first`` to
    ``stop`` (CSR ``A``, a C-contiguous block ``X``)."""
    for c in range(first, stop):
        for i in range(row_chunks[c], row_chunks[c + 1]):
            _gather_row(indptr, indices, data, X, i, out[i])


@jit()
def csr_rmatmat(indptr, indices, data, Y, row_chunks, first, stop, partial):
    """The partial sums of ``A.T @ Y``: row chunk ``c`` (``first <= c <
    stop``) accumulates its rows into ``partial[c, 0]`` (scratch of shape
    ``(n_chunks, 1, n_cols, k)``); :func:`reduce_partials` sums them."""
    for c in range(first, stop):
        acc = partial[c, 0]
        acc[:] = 0
        for i in range(row_chunks[c], row_chunks[c + 1]):
            _scatter_row(indptr, indices, data, Y[i], i, acc)


@jit()
def reduce_partials(partial, out, first, stop):
    """Rows ``first`` to ``stop`` of the sum of the partial sums, in chunk order."""
    _sum_partials(partial, out, first, stop)


@jit()
def csr_rmatmat_by_columns(indptr, indices, data, Y, column_bounds, block, segment_starts,
                           out):
    """Rows ``column_bounds[block]`` to ``column_bounds[block + 1]`` of ``A.T @ Y``
    for CSR ``A`` with its columns split into blocks: the block scans every
    row's segment of entries in its columns (``segment_starts[i, block]`` to
    ``segment_starts[i, block + 1]``) and owns those rows of ``out``. No
    partial sums, and each ``out[j]`` adds the rows in order, so the result is
    the same for any split into blocks."""
    out[column_bounds[block]:column_bounds[block + 1]] = 0
    for i in range(indptr.size - 1):
        _scatter_segment(indices, data, Y[i], segment_starts[i, block],
                         segment_starts[i, block + 1], out)


class TiledProducts(NamedTuple):
    """``A @ X`` and ``A.T @ Y`` compiled for one tile width."""

    matmat: object
    rmatmat: object


@functools.cache
def tiled_products(width: int) -> TiledProducts:
    """The CSR products for blocks in tiles of ``width`` columns, ``width`` a
    compile-time constant (each width compiles on first use). Same scheme as
    the generic kernels (partial sums per row chunk reduced in order). The
    gather takes four nonzeros per pass, a row's last one to three as one
    group with zero weights for the missing ones, and indexes the tiles of
    ``X`` directly (a view of one tile per row would cost an atomic reference
    count on memory both threads share). The scatter updates one row of the
    partial sum per nonzero, as whole vectors (:func:`row_scatter`). Rows are
    walked as slices from 0, which spares the negative-index fix-ups of a
    position read from ``indptr``."""

    @jit()
    def matmat(indptr, indices, data, X_tiles, row_chunks, first, stop, out):
        """:func:`csr_matmat` with ``X_tiles = column_tiles(X, width)``."""
        k = out.shape[1]
        X = X_tiles
        for c in range(first, stop):
            acc = tile_registers(data)
            for i in range(row_chunks[c], row_chunks[c + 1]):
                columns, values = indices[indptr[i]:indptr[i + 1]], data[indptr[i]:indptr[i + 1]]
                for tile in range(X.shape[0]):
                    for t in range(width):
                        acc[t] = 0
                    q = 0
                    while q + 4 <= values.size:
                        a0, a1, a2, a3 = values[q], values[q + 1], values[q + 2], values[q + 3]
                        j0, j1, j2, j3 = columns[q], columns[q + 1], columns[q + 2], columns[q + 3]
                        for t in range(width):
                            acc[t] += ((a0 * X[tile, j0, t] + a1 * X[tile, j1, t])
                                       + (a2 * X[tile, j2, t] + a3 * X[tile, j3, t]))
                        q += 4
                    if q < values.size:  # the last one to three: a group with zero weights
                        last = values.size - 1
                        zero = values[q] * 0
                        a0 = values[q]
                        a1 = values[q + 1] if q + 1 <= last else zero
                        a2 = values[q + 2] if q + 2 <= last else zero
                        j0, j1, j2 = columns[q], columns[min(q + 1, last)], columns[last]
                        for t in range(width):
                            acc[t] += ((a0 * X[tile, j0, t] + a1 * X[tile, j1, t])
                                       + a2 * X[tile, j2, t])
                    start = tile * width
                    for t in range(width):  # constant trip count: acc stays in registers
                        if start + t < k:
                            out[i, start + t] = acc[t]

    @jit()
    def rmatmat(indptr, indices, data, Y, row_chunks, first, stop, partial):
        """:func:`csr_rmatmat` into ``partial`` of shape ``(n_chunks,
        ceil(k / width), n_cols, width)``."""
        k = Y.shape[1]
        for c in range(first, stop):
            y = tile_registers(data)
            for tile in range(partial.shape[1]):
                acc = partial[c, tile]
                acc[:] = 0
                start = tile * width
                for i in range(row_chunks[c], row_chunks[c + 1]):
                    for t in range(width):
                        y[t] = Y[i, start + t] if start + t < k else 0
                    row_scatter(acc, indices[indptr[i]:indptr[i + 1]],
                                data[indptr[i]:indptr[i + 1]], y, width)

    return TiledProducts(matmat, rmatmat)


@jit()
def csr_segment_starts(indptr, indices, column_bounds, first, stop, out):
    """For rows ``first`` to ``stop``: ``out[i, b]``, the first entry of row
    ``i`` in a column ``>= column_bounds[b]``, and ``out[i, -1] = indptr[i +
    1]``. Valid only for rows whose column indices are sorted: returns the
    number of rows that are not (then the caller must not use ``out``)."""
    n_blocks = column_bounds.size - 1
    unsorted = 0
    for i in range(first, stop):
        p, end = indptr[i], indptr[i + 1]
        for q in range(p + 1, end):
            if indices[q] < indices[q - 1]:
                unsorted += 1
                break
        for b in range(n_blocks):
            while p < end and indices[p] < column_bounds[b]:
                p += 1
            out[i, b] = p
        out[i, n_blocks] = end
    return unsorted


@jit()
def csr_structure_errors(indptr, indices, data, n_cols, first, stop):
    """Count, over the entries ``first`` to ``stop``: column indices outside
    ``[0, n_cols)`` and non-finite values; and over the rows in that range of
    ``indptr`` positions, rows whose ``indptr`` decreases. Assumes
    ``indices`` and ``data`` have ``indptr[-1]`` entries."""
    bad_indices = 0
    non_finite = 0
    for p in range(first, stop):
        j = indices[p]
        bad_indices += (j < 0) | (j >= n_cols)
        non_finite += not np.isfinite(data[p])
    return bad_indices, non_finite
