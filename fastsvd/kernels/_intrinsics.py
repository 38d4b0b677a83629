"""LLVM intrinsics the tiled kernels are built from.

- :func:`tile_registers`: scratch for one tile on the calling thread's stack;
- :func:`row_axpy` and :func:`row_scatter`: whole-vector row updates of a
  partial sum, one cache line per vector, with no runtime alias checks.

Under ``NUMBA_DISABLE_JIT`` they are plain numpy functions with the same
results, so the kernels that use them run as Python too.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import config, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .layout import TILE_WIDTHS

if config.DISABLE_JIT:
    def tile_registers(like):
        return np.empty(TILE_WIDTHS[-1], dtype=like.dtype)
else:
    @intrinsic
    def tile_registers(typingctx, like):
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
# C-contiguous 2-d array, ``y`` a tile from :func:`tile_registers`, ``width``
# a compile-time constant):
#
# - ``row_scatter(acc, columns, values, y, width)``: ``acc[columns[q], :width]
#   += values[q] * y[:width]`` for every ``q``, with ``y`` held in registers;
# - ``row_axpy(acc, j, a, y, width)``: ``acc[j, :width] += a * y[:width]``.
#
# Each row update is whole-vector loads, fused multiply-adds and stores, one
# cache line per vector. Written element by element, the rows a group of
# nonzeros updates cost runtime checks that they do not overlap (the compiler
# cannot know that a row's column indices differ) and a scalar fallback loop;
# as vectors they need neither. Same bits as the element-wise loop.
if config.DISABLE_JIT:
    def row_axpy(acc, j, a, y, width):
        acc[j, :width] += a * y[:width]

    def row_scatter(acc, columns, values, y, width):
        for q in range(values.size):
            row_axpy(acc, columns[q], values[q], y, width)
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
    def row_axpy(typingctx, acc, j, a, y, width):
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
    def row_scatter(typingctx, acc, columns, values, y, width):
        if not isinstance(width, types.IntegerLiteral):
            return None  # numba retries with the literal width
        if columns.layout != "C" or values.layout != "C":
            raise TypingError("row_scatter reads columns and values as contiguous runs")

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

