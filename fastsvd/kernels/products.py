"""CSR times dense-block products: ``A @ X`` and ``A.T @ Y``.

Arrays in, arrays out, no validation. Callers (:class:`fastsvd.operators.
CSROperator`) guarantee well-formed input: a CSR structure checked once at the
facade (indices passed as an unsigned view, which spares numba's
negative-index handling), C-contiguous blocks of the matrix's dtype, and row
chunks from :func:`fastsvd.kernels.layout.balanced_row_chunks`.

Determinism: every parallel loop runs over a fixed list of row chunks whose
boundaries depend only on the matrix, never on the thread count. Each chunk
writes its own output (rows of ``A @ X``, or a private partial sum of
``A.T @ Y`` that is then reduced in chunk order), so results are
bit-identical at any number of threads.

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
from numba import prange

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


@jit(parallel=True)
def csr_matmat(indptr, indices, data, X, row_chunks, out):
    """``out[:] = A @ X`` for CSR ``A`` and a C-contiguous block ``X``."""
    for c in prange(row_chunks.size - 1):
        for i in range(row_chunks[c], row_chunks[c + 1]):
            _gather_row(indptr, indices, data, X, i, out[i])


@jit(parallel=True)
def csr_rmatmat(indptr, indices, data, Y, row_chunks, partial, out):
    """``out[:] = A.T @ Y`` for CSR ``A``.

    ``partial`` is scratch of shape ``(n_chunks, 1, n_cols, k)``: row chunk
    ``c`` accumulates into ``partial[c, 0]``, then the partials are summed in
    order.
    """
    for c in prange(row_chunks.size - 1):
        acc = partial[c, 0]
        acc[:] = 0
        for i in range(row_chunks[c], row_chunks[c + 1]):
            _scatter_row(indptr, indices, data, Y[i], i, acc)
    reduce_partials(partial, out)


@jit(parallel=True)
def reduce_partials(partial, out):
    n_cols = out.shape[0]
    n_blocks = 64
    for b in prange(n_blocks):
        _sum_partials(partial, out, b * n_cols // n_blocks, (b + 1) * n_cols // n_blocks)


@jit(parallel=True)
def csr_rmatmat_by_columns(indptr, indices, data, Y, column_bounds, segment_starts, out):
    """``out[:] = A.T @ Y`` for CSR ``A`` with its columns split into blocks.

    Block ``b`` (columns ``column_bounds[b]`` to ``column_bounds[b + 1]``) is
    one task: it scans every row's segment of entries in those columns
    (``segment_starts[i, b]`` to ``segment_starts[i, b + 1]``) and owns its
    rows of ``out``. No partial sums, and each ``out[j]`` adds the rows in
    order, so the result is the same for any split into blocks.
    """
    for b in prange(column_bounds.size - 1):
        out[column_bounds[b]:column_bounds[b + 1]] = 0
        for i in range(indptr.size - 1):
            _scatter_segment(indices, data, Y[i], segment_starts[i, b], segment_starts[i, b + 1],
                             out)


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

    @jit(parallel=True)
    def matmat(indptr, indices, data, X_tiles, row_chunks, out):
        """``out[:] = A @ X`` with ``X_tiles = column_tiles(X, width)``."""
        k = out.shape[1]
        X = X_tiles
        for c in prange(row_chunks.size - 1):
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

    @jit(parallel=True)
    def rmatmat(indptr, indices, data, Y, row_chunks, partial, out):
        """``out[:] = A.T @ Y``; ``partial`` is scratch of shape ``(n_chunks,
        ceil(k / width), n_cols, width)``, summed in chunk order."""
        k = Y.shape[1]
        for c in prange(row_chunks.size - 1):
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
        reduce_partials(partial, out)

    return TiledProducts(matmat, rmatmat)


@jit(parallel=True)
def csr_segment_starts(indptr, indices, column_bounds, out):
    """``out[i, b]``: the first entry of row ``i`` in a column ``>=
    column_bounds[b]``, and ``out[i, -1] = indptr[i + 1]``. Valid only for rows
    whose column indices are sorted: returns the number of rows that are not
    (then the caller must not use ``out``)."""
    n_blocks = column_bounds.size - 1
    unsorted = 0
    for i in prange(indptr.size - 1):
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


@jit(parallel=True)
def csr_structure_errors(indptr, indices, data, n_cols):
    """Count, in one parallel pass: rows whose indptr decreases, column indices
    outside ``[0, n_cols)`` and non-finite values. Assumes ``indptr`` has
    ``n_rows + 1`` entries and ``indices``/``data`` have ``indptr[-1]``."""
    n_rows = indptr.size - 1
    bad_rows = 0
    for i in prange(n_rows):
        if indptr[i + 1] < indptr[i]:
            bad_rows += 1
    bad_indices = 0
    non_finite = 0
    n_chunks = 64
    nnz = indices.size
    for c in prange(n_chunks):
        bad = 0
        nan = 0
        for p in range(c * nnz // n_chunks, (c + 1) * nnz // n_chunks):
            j = indices[p]
            bad += (j < 0) | (j >= n_cols)
            nan += not np.isfinite(data[p])
        bad_indices += bad
        non_finite += nan
    return bad_rows, bad_indices, non_finite
