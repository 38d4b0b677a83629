"""Numba kernels: arrays in, arrays out, no validation.

Callers (the operators in :mod:`fastsvd._operators`) guarantee well-formed
input: a CSR structure checked once at the facade (indices are passed as an
unsigned view, which spares numba's negative-index handling), C-contiguous
blocks of the same dtype as the matrix values, and chunk boundaries from
:func:`balanced_row_chunks`.

Determinism: every parallel loop runs over a fixed list of row chunks whose
boundaries depend only on the matrix, never on the thread count. Each chunk
writes its own output (rows of ``A @ X``, or a private partial sum of
``A.T @ Y`` that is then reduced in chunk order), so results are
bit-identical at any number of threads.

Row products handle four nonzeros per pass over the ``k`` columns: the
output row is loaded and stored once per four nonzeros, which measured ~1.7x
faster than one at a time on a Netflix-sized matrix.

Blocks of 24 columns or more go to kernels specialised to a tile width known
at compile time (:func:`_tiled_products`): each row's accumulator of one
tile then lives in registers instead of memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import config, prange, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

from ._numba import jit
from ._random import uniform


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
    _reduce_partials(partial, out)


@jit(parallel=True)
def _reduce_partials(partial, out):
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


# Tile widths with kernels of their own, and the narrowest block that uses
# them. One row and nonzero cost a fixed overhead plus the tile's vector work:
# k=32 in one 32-tile 1.5x faster than the loop over a runtime ``k``, k=50 or
# 64 in one 64-tile 1.4-2.4x; two 32-tiles cost more than one 64-tile, a
# 16-tile compiles to scalar code, and below 24 columns padding outweighs the
# gain (120k Netflix-shaped rows, one thread, median of 7).
TILE_WIDTHS = (32, 48, 64)
MIN_TILED_COLUMNS = 24

if config.DISABLE_JIT:
    def _tile_registers(like):
        return np.empty(TILE_WIDTHS[-1], dtype=like.dtype)
else:
    @intrinsic
    def _tile_registers(typingctx, like):
        """Scratch for one tile (the widest), on the calling thread's stack, of
        ``like``'s dtype. The compiler knows that no argument aliases it, so a
        tile indexed by constants is kept in registers."""
        array_type = types.Array(like.dtype, 1, "C")

        def codegen(context, builder, signature, args):
            item_type = context.get_value_type(like.dtype)
            itemsize = context.get_constant(types.intp, context.get_abi_sizeof(item_type))
            array = context.make_array(array_type)(context, builder)
            context.populate_array(
                array, data=cgutils.alloca_once(builder, item_type, size=TILE_WIDTHS[-1]),
                shape=[context.get_constant(types.intp, TILE_WIDTHS[-1])], strides=[itemsize],
                itemsize=itemsize, meminfo=None)
            return array._getvalue()

        return array_type(like), codegen


# Whole-vector row updates for the scatters of the tiled kernels (``acc`` a
# C-contiguous 2-d array, ``y`` a tile from :func:`_tile_registers`, ``width``
# a compile-time constant):
#
# - ``_row_scatter(acc, columns, values, y, width)``: ``acc[columns[q], :width]
#   += values[q] * y[:width]`` for every ``q``, with ``y`` held in registers;
# - ``_row_axpy(acc, j, a, y, width)``: ``acc[j, :width] += a * y[:width]``.
#
# Each row update is whole-vector loads, fused multiply-adds and stores, one
# cache line per vector. Written element by element, the rows a group of
# nonzeros updates cost runtime checks that they do not overlap (the compiler
# cannot know that a row's column indices differ) and a scalar fallback loop;
# as vectors they need neither. Same bits as the element-wise loop; the 32-wide
# scatter ``A.T @ Y`` took 121-125 instead of 165-259 ms on the Netflix shape at
# 2 threads.
if config.DISABLE_JIT:
    def _row_axpy(acc, j, a, y, width):
        acc[j, :width] += a * y[:width]

    def _row_scatter(acc, columns, values, y, width):
        for q in range(values.size):
            _row_axpy(acc, columns[q], values[q], y, width)
else:
    def _vector_type(context, dtype, width):
        itemsize = context.get_abi_sizeof(context.get_value_type(dtype))
        lanes = min(width, 64 // itemsize)
        return ir.VectorType(context.get_value_type(dtype), lanes), itemsize

    def _load_tile(context, builder, y_type, y_value, dtype, width):
        vector, itemsize = _vector_type(context, dtype, width)
        data = context.make_array(y_type)(context, builder, y_value).data
        return [builder.load(builder.bitcast(builder.gep(data, [ir.Constant(ir.IntType(64), i)]),
                                             vector.as_pointer()), align=itemsize)
                for i in range(0, width, vector.count)]

    def _emit_axpy(context, builder, acc_type, acc_value, row, scalar, tile, width):
        """``acc[row, :width] += scalar * tile`` (``row`` an intp)."""
        vector, itemsize = _vector_type(context, acc_type.dtype, width)
        acc_array = context.make_array(acc_type)(context, builder, acc_value)
        start = cgutils.get_item_pointer2(
            context, builder, acc_array.data, cgutils.unpack_tuple(builder, acc_array.shape),
            cgutils.unpack_tuple(builder, acc_array.strides), acc_type.layout,
            [row, context.get_constant(types.intp, 0)])
        broadcast = builder.shuffle_vector(
            builder.insert_element(ir.Constant(vector, ir.Undefined), scalar,
                                   ir.Constant(ir.IntType(32), 0)),
            ir.Constant(vector, ir.Undefined),
            ir.Constant(ir.VectorType(ir.IntType(32), vector.count), [0] * vector.count))
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vector, [vector] * 3),
            f"llvm.fma.v{vector.count}f{8 * itemsize}")
        for i, part in enumerate(tile):
            where = builder.gep(start, [ir.Constant(ir.IntType(64), i * vector.count)])
            destination = builder.bitcast(where, vector.as_pointer())
            updated = builder.call(fma, [broadcast, part,
                                         builder.load(destination, align=itemsize)])
            builder.store(updated, destination, align=itemsize)

    @intrinsic
    def _row_axpy(typingctx, acc, j, a, y, width):
        if not isinstance(width, types.IntegerLiteral):
            return None  # numba retries with the literal width

        def codegen(context, builder, signature, args):
            w = width.literal_value
            tile = _load_tile(context, builder, y, args[3], acc.dtype, w)
            _emit_axpy(context, builder, acc, args[0],
                       context.cast(builder, args[1], j, types.intp),
                       context.cast(builder, args[2], a, acc.dtype), tile, w)
            return context.get_dummy_value()

        return types.none(acc, j, a, y, width), codegen

    @intrinsic
    def _row_scatter(typingctx, acc, columns, values, y, width):
        if not isinstance(width, types.IntegerLiteral):
            return None  # numba retries with the literal width
        if columns.layout != "C" or values.layout != "C":
            raise TypingError("_row_scatter reads columns and values as contiguous runs")

        def codegen(context, builder, signature, args):
            w = width.literal_value
            tile = _load_tile(context, builder, y, args[3], acc.dtype, w)
            column_array = context.make_array(columns)(context, builder, args[1])
            value_array = context.make_array(values)(context, builder, args[2])
            count = cgutils.unpack_tuple(builder, value_array.shape)[0]
            with cgutils.for_range(builder, count) as loop:
                column = builder.load(builder.gep(column_array.data, [loop.index]))
                value = builder.load(builder.gep(value_array.data, [loop.index]))
                _emit_axpy(context, builder, acc, args[0],
                           context.cast(builder, column, columns.dtype, types.intp),
                           context.cast(builder, value, values.dtype, acc.dtype), tile, w)
            return context.get_dummy_value()

        return types.none(acc, columns, values, y, width), codegen


def cache_aligned_empty(shape, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)`` starting on a 64-byte cache line, so the rows
    of a tile (128 or 256 bytes) never straddle one more line than they fill.
    numpy's own alignment is 16 bytes; a misaligned 32- or 64-wide tile made
    the products 1.4-1.55x slower (120k Netflix-shaped rows, one thread)."""
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


class TiledKernels(NamedTuple):
    """The kernels compiled for one tile width."""

    matmat: Callable
    rmatmat: Callable
    residual_product: Callable
    residual_rproduct: Callable


def _tiled_products(width):
    """The CSR products and soft-impute's residual products for blocks in tiles
    of ``width`` columns, ``width`` a compile-time constant. Same scheme as the
    generic kernels (partial sums per row chunk reduced in order); the gathers
    take four nonzeros per pass, a row's last one to three as one group with
    zero weights for the missing ones, and index the tiles of ``X`` directly
    (a view of one tile per row cost an atomic reference count on memory both
    threads share: the 32-wide gather ran 1.2-1.7x faster on two threads
    than on one, against 1.7-2.0x now). The scatters update one row of the
    partial sum per nonzero, as whole vectors (``_row_scatter``, ``_row_axpy``).
    Rows are walked as slices from 0, which spares the negative-index fix-ups
    of a position read from ``indptr`` (5-15% here)."""

    @jit(parallel=True)
    def matmat(indptr, indices, data, X_tiles, row_chunks, out):
        """``out[:] = A @ X`` with ``X_tiles = column_tiles(X, width)``."""
        k = out.shape[1]
        X = X_tiles
        for c in prange(row_chunks.size - 1):
            acc = _tile_registers(data)
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
            y = _tile_registers(data)
            for tile in range(partial.shape[1]):
                acc = partial[c, tile]
                acc[:] = 0
                start = tile * width
                for i in range(row_chunks[c], row_chunks[c + 1]):
                    for t in range(width):
                        y[t] = Y[i, start + t] if start + t < k else 0
                    _row_scatter(acc, indices[indptr[i]:indptr[i + 1]],
                                 data[indptr[i]:indptr[i + 1]], y, width)
        _reduce_partials(partial, out)

    @jit(parallel=True)
    def residual_product(indptr, indices, values, own, scale, other_tiles, mult_tiles, row_chunks,
                         out, sq_sum):
        """:func:`csr_residual_product` with ``other`` and ``mult`` as one tile
        each (``column_tiles(., width)`` with ``k <= width``; the same array
        when ``mult`` is ``other``)."""
        rank, k = own.shape[1], out.shape[1]
        other, mult = other_tiles[0], mult_tiles[0]
        for c in prange(row_chunks.size - 1):
            a = _tile_registers(values)
            acc = _tile_registers(values)
            for i in range(row_chunks[c], row_chunks[c + 1]):
                for t in range(width):
                    a[t] = own[i, t] * scale[t] if t < rank else 0
                    acc[t] = 0
                columns = indices[indptr[i]:indptr[i + 1]]
                x = values[indptr[i]:indptr[i + 1]]
                sq = 0.0
                q = 0
                while q + 4 <= x.size:
                    o0, o1, o2, o3 = (other[columns[q]], other[columns[q + 1]],
                                      other[columns[q + 2]], other[columns[q + 3]])
                    r0, r1, r2, r3 = x[q], x[q + 1], x[q + 2], x[q + 3]
                    for t in range(width):
                        r0 -= a[t] * o0[t]
                        r1 -= a[t] * o1[t]
                        r2 -= a[t] * o2[t]
                        r3 -= a[t] * o3[t]
                    sq += (r0 * r0 + r1 * r1) + (r2 * r2 + r3 * r3)
                    w0, w1 = mult[columns[q]], mult[columns[q + 1]]
                    w2, w3 = mult[columns[q + 2]], mult[columns[q + 3]]
                    for t in range(width):
                        acc[t] += (r0 * w0[t] + r1 * w1[t]) + (r2 * w2[t] + r3 * w3[t])
                    q += 4
                for e in range(q, x.size):
                    o0, r0 = other[columns[e]], x[e]
                    for t in range(width):
                        r0 -= a[t] * o0[t]
                    sq += r0 * r0
                    w0 = mult[columns[e]]
                    for t in range(width):
                        acc[t] += r0 * w0[t]
                sq_sum[i] = sq
                for t in range(width):
                    if t < k:
                        out[i, t] = acc[t]

    @jit(parallel=True)
    def residual_rproduct(indptr, indices, values, own, scale, other_tiles, mult, row_chunks,
                          partial, out, sq_sum):
        """:func:`csr_residual_rproduct` with ``other`` as one tile
        (``column_tiles(other, width)``) and ``partial`` of shape ``(n_chunks,
        1, n_cols, width)``. The four residuals are written out as in
        ``residual_product``, for the reason given in
        :func:`_residual_scatter_row`."""
        rank, k = own.shape[1], mult.shape[1]
        other = other_tiles[0]
        for c in prange(row_chunks.size - 1):
            a = _tile_registers(values)
            w = _tile_registers(values)
            acc = partial[c, 0]
            acc[:] = 0
            sq = 0.0
            for i in range(row_chunks[c], row_chunks[c + 1]):
                for t in range(width):
                    a[t] = own[i, t] * scale[t] if t < rank else 0
                    w[t] = mult[i, t] if t < k else 0
                columns = indices[indptr[i]:indptr[i + 1]]
                x = values[indptr[i]:indptr[i + 1]]
                q = 0
                while q + 4 <= x.size:
                    o0, o1, o2, o3 = (other[columns[q]], other[columns[q + 1]],
                                      other[columns[q + 2]], other[columns[q + 3]])
                    r0, r1, r2, r3 = x[q], x[q + 1], x[q + 2], x[q + 3]
                    for t in range(width):
                        r0 -= a[t] * o0[t]
                        r1 -= a[t] * o1[t]
                        r2 -= a[t] * o2[t]
                        r3 -= a[t] * o3[t]
                    sq += (r0 * r0 + r1 * r1) + (r2 * r2 + r3 * r3)
                    _row_axpy(acc, columns[q], r0, w, width)
                    _row_axpy(acc, columns[q + 1], r1, w, width)
                    _row_axpy(acc, columns[q + 2], r2, w, width)
                    _row_axpy(acc, columns[q + 3], r3, w, width)
                    q += 4
                for e in range(q, x.size):
                    o0, r0 = other[columns[e]], x[e]
                    for t in range(width):
                        r0 -= a[t] * o0[t]
                    sq += r0 * r0
                    _row_axpy(acc, columns[e], r0, w, width)
            sq_sum[c] = sq
        _reduce_partials(partial, out)

    return TiledKernels(matmat, rmatmat, residual_product, residual_rproduct)


TILED_PRODUCTS = {width: _tiled_products(width) for width in TILE_WIDTHS}


def tile_width(k: int) -> int | None:
    """The tile width for a block of ``k`` columns (``None``: the generic
    kernels): the narrowest tile that holds ``k``; past the widest, the
    widest when its tiles pad ``k`` by at most an eighth, else the generic
    kernels. Padding is work: on a 30M-nonzero Netflix-shaped matrix ``A @
    X`` took 0.063 ns per nonzero and column at k=200 in four 64-tiles (256
    columns computed) against 0.050 generic, and 0.033 vs 0.037 at k=128
    (median of 7)."""
    if k < MIN_TILED_COLUMNS:
        return None
    widest = TILE_WIDTHS[-1]
    if k > widest:
        return widest if 8 * (-k % widest) <= k else None
    return next(width for width in TILE_WIDTHS if k <= width)


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


@jit()
def _dot(a, b):
    """``a . b`` accumulated in the arrays' own dtype (vectorises)."""
    total = a[0] * b[0]
    for t in range(1, a.size):
        total += a[t] * b[t]
    return total


@jit()
def _residual_gather_row(indptr, indices, values, a, other, mult, i, acc):
    """``acc[:] = sum_j r_ij mult[j]`` over row ``i`` with ``r_ij = x_ij - a .
    other[j]``; returns ``sum_j r_ij^2`` (float64). Four entries per pass, as
    in :func:`_gather_row` (measured 1.25x at rank 50)."""
    acc[:] = 0
    sq = 0.0
    p, end = indptr[i], indptr[i + 1]
    while p + 4 <= end:
        j0, j1, j2, j3 = indices[p], indices[p + 1], indices[p + 2], indices[p + 3]
        r0 = values[p] - _dot(a, other[j0])
        r1 = values[p + 1] - _dot(a, other[j1])
        r2 = values[p + 2] - _dot(a, other[j2])
        r3 = values[p + 3] - _dot(a, other[j3])
        sq += (r0 * r0 + r1 * r1) + (r2 * r2 + r3 * r3)
        w0, w1, w2, w3 = mult[j0], mult[j1], mult[j2], mult[j3]
        for t in range(acc.size):
            acc[t] += (r0 * w0[t] + r1 * w1[t]) + (r2 * w2[t] + r3 * w3[t])
        p += 4
    while p < end:
        j = indices[p]
        res = values[p] - _dot(a, other[j])
        sq += res * res
        w = mult[j]
        for t in range(acc.size):
            acc[t] += res * w[t]
        p += 1
    return sq


@jit()
def _scaled_row(own, i, scale, a):
    """``a[:] = own[i] * scale``: row ``i`` of ``own diag(scale)``."""
    for t in range(a.size):
        a[t] = own[i, t] * scale[t]
    return a


@jit(parallel=True)
def csr_residual_product(indptr, indices, values, own, scale, other, mult, row_chunks, out,
                         sq_sum):
    """One pass of soft-impute over the stored entries of a CSR ``X``.

    For row ``i`` with entries ``x_ij``, the model ``own diag(scale) other^T``
    leaves the residual ``r_ij = x_ij - (own[i] * scale) . other[j]``; this
    computes ``out[i] = sum_j r_ij mult[j]`` and ``sq_sum[i] = sum_j r_ij^2``
    without storing the residuals. ``mult`` may be ``other``: each entry then
    reads one row of it instead of two (measured 1.4x at rank 50 on the
    Netflix shape). Per-entry arithmetic is in the input dtype; ``sq_sum``
    accumulates in float64.
    """
    for c in prange(row_chunks.size - 1):
        acc = np.empty(mult.shape[1], dtype=mult.dtype)
        a = np.empty(own.shape[1], dtype=own.dtype)
        for i in range(row_chunks[c], row_chunks[c + 1]):
            sq_sum[i] = _residual_gather_row(indptr, indices, values, _scaled_row(own, i, scale, a),
                                             other, mult, i, acc)
            out[i] = acc


@jit(parallel=True)
def csr_residual(indptr, indices, values, own, other, row_chunks, out):
    """``out[p] = x_p - own[i] . other[indices[p]]`` for the stored entries of
    row ``i``: the residual of a low-rank model at the observed entries."""
    for c in prange(row_chunks.size - 1):
        for i in range(row_chunks[c], row_chunks[c + 1]):
            a = own[i]
            for p in range(indptr[i], indptr[i + 1]):
                out[p] = values[p] - _dot(a, other[indices[p]])


@jit(parallel=True)
def csr_holdout_mask(indptr, indices, first_row, key, fraction, out, held_per_row):
    """``out[p] = uniform(key, first_row + i, j) < fraction`` for the stored
    entry ``p = (i, j)``, and ``held_per_row[i]`` the number of ``True`` in
    row ``i``: a counter-based coin per entry, so the entries it picks depend
    on their global position, not on how the rows are split into blocks or
    threads."""
    for i in prange(indptr.size - 1):
        row = first_row + i
        held = 0
        for p in range(indptr[i], indptr[i + 1]):
            out[p] = uniform(key, row, indices[p]) < fraction
            held += out[p]
        held_per_row[i] = held


@jit()
def _residual_scatter_row(indptr, indices, values, a, other, w, i, acc):
    """``acc[j] += r_ij w`` over row ``i`` with ``r_ij = x_ij - a . other[j]``;
    returns ``sum_j r_ij^2`` (float64). Four entries per pass. The four
    residuals are written out here as in :func:`_residual_gather_row`: a
    shared helper returning them as a tuple measured 1.2-2.6x slower."""
    sq = 0.0
    p, end = indptr[i], indptr[i + 1]
    while p + 4 <= end:
        j0, j1, j2, j3 = indices[p], indices[p + 1], indices[p + 2], indices[p + 3]
        r0 = values[p] - _dot(a, other[j0])
        r1 = values[p + 1] - _dot(a, other[j1])
        r2 = values[p + 2] - _dot(a, other[j2])
        r3 = values[p + 3] - _dot(a, other[j3])
        sq += (r0 * r0 + r1 * r1) + (r2 * r2 + r3 * r3)
        d0, d1, d2, d3 = acc[j0], acc[j1], acc[j2], acc[j3]
        for t in range(w.size):
            wt = w[t]
            d0[t] += r0 * wt
            d1[t] += r1 * wt
            d2[t] += r2 * wt
            d3[t] += r3 * wt
        p += 4
    while p < end:
        j = indices[p]
        res = values[p] - _dot(a, other[j])
        sq += res * res
        d = acc[j]
        for t in range(w.size):
            d[t] += res * w[t]
        p += 1
    return sq


@jit(parallel=True)
def csr_residual_rproduct(indptr, indices, values, own, scale, other, mult, row_chunks, partial,
                          out, sq_sum):
    """``out[j] = sum_i r_ij mult[i]`` and ``sq_sum[c] = sum r_ij^2`` over row
    chunk ``c``, for the residual ``r_ij = x_ij - (own[i] * scale) . other[j]``
    at the stored entries (the transpose-side twin of
    :func:`csr_residual_product`). ``partial`` is scratch of shape
    ``(n_chunks, 1, n_cols, k)`` in the input dtype, summed in chunk order
    into float64 ``out`` (deterministic)."""
    for c in prange(row_chunks.size - 1):
        acc = partial[c, 0]
        acc[:] = 0
        a = np.empty(own.shape[1], dtype=own.dtype)
        sq = 0.0
        for i in range(row_chunks[c], row_chunks[c + 1]):
            sq += _residual_scatter_row(indptr, indices, values, _scaled_row(own, i, scale, a),
                                        other, mult[i], i, acc)
        sq_sum[c] = sq
    _reduce_partials(partial, out)
