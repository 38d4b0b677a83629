"""Soft-impute's residual kernels over the observed entries of a CSR.

For a low-rank model ``own diag(scale) other^T`` the residual at a stored
entry ``(i, j)`` is ``r_ij = x_ij - (own[i] * scale) . other[j]``. These
kernels compute products with the residual matrix ``R`` (``R @ mult`` and
``R.T @ mult``) and ``||R||_F^2`` in one pass, recomputing ``r_ij`` on the fly:
the residuals are never stored. Same conventions as
:mod:`fastsvd.kernels.products` (row chunks, partial sums reduced in chunk
order: bit-identical at any thread count); per-entry arithmetic is in the
input dtype, squared norms accumulate in float64.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from numba import prange

from .._jit import jit
from ._intrinsics import row_axpy, tile_registers
from .products import reduce_partials
from .random import uniform


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
    reduce_partials(partial, out)


class TiledResiduals(NamedTuple):
    """The residual products compiled for one tile width."""

    residual_product: object
    residual_rproduct: object


@functools.cache
def tiled_residuals(width: int) -> TiledResiduals:
    """:func:`csr_residual_product` and :func:`csr_residual_rproduct` for a
    model and a multiplier that fit in one tile of ``width`` columns (a
    compile-time constant; each width compiles on first use)."""

    @jit(parallel=True)
    def residual_product(indptr, indices, values, own, scale, other_tiles, mult_tiles, row_chunks,
                         out, sq_sum):
        """:func:`csr_residual_product` with ``other`` and ``mult`` as one tile
        each (``column_tiles(., width)`` with ``k <= width``; the same array
        when ``mult`` is ``other``)."""
        rank, k = own.shape[1], out.shape[1]
        other, mult = other_tiles[0], mult_tiles[0]
        for c in prange(row_chunks.size - 1):
            a = tile_registers(values)
            acc = tile_registers(values)
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
            a = tile_registers(values)
            w = tile_registers(values)
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
                    row_axpy(acc, columns[q], r0, w, width)
                    row_axpy(acc, columns[q + 1], r1, w, width)
                    row_axpy(acc, columns[q + 2], r2, w, width)
                    row_axpy(acc, columns[q + 3], r3, w, width)
                    q += 4
                for e in range(q, x.size):
                    o0, r0 = other[columns[e]], x[e]
                    for t in range(width):
                        r0 -= a[t] * o0[t]
                    sq += r0 * r0
                    row_axpy(acc, columns[e], r0, w, width)
            sq_sum[c] = sq
        reduce_partials(partial, out)


    return TiledResiduals(residual_product, residual_rproduct)
