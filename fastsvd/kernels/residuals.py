"""Soft-impute's residual kernels over the observed entries of a CSR.

For a low-rank model ``own diag(scale) other^T`` the residual at a stored
entry ``(i, j)`` is ``r_ij = x_ij - (own[i] * scale) . other[j]``. These
kernels compute products with the residual matrix ``R`` (``R @ mult`` and
``R.T @ mult``) and ``||R||_F^2`` in one pass, recomputing ``r_ij`` on the fly:
the residuals are never stored. Same conventions as
:mod:`fastsvd.kernels.products` (serial kernels over ranges of row chunks,
partial sums reduced in chunk order: bit-identical at any thread count);
per-entry arithmetic is in the input dtype, squared norms accumulate in
float64.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .._jit import jit
from ._intrinsics import row_axpy, tile_registers
from .random import uniform


@jit(inline=True)
def _residuals4(x, columns, q, a, other, n):
    """The residuals ``x[q + s] - a . other[columns[q + s]]`` of entries ``q``
    to ``q + 3`` of a row, over the first ``n`` factors."""
    o0, o1, o2, o3 = other[columns[q]], other[columns[q + 1]], other[columns[q + 2]], \
        other[columns[q + 3]]
    r0, r1, r2, r3 = x[q], x[q + 1], x[q + 2], x[q + 3]
    for t in range(n):
        r0 -= a[t] * o0[t]
        r1 -= a[t] * o1[t]
        r2 -= a[t] * o2[t]
        r3 -= a[t] * o3[t]
    return r0, r1, r2, r3


@jit(inline=True)
def _residual(x, columns, e, a, other, n):
    """The residual ``x[e] - a . other[columns[e]]`` over the first ``n`` factors."""
    o, r = other[columns[e]], x[e]
    for t in range(n):
        r -= a[t] * o[t]
    return r


class ResidualKernels(NamedTuple):
    """The residual products compiled for one tile width."""

    product: object
    rproduct: object


@functools.cache
def residual_kernels(width: int) -> ResidualKernels:
    """The residual products for models and multipliers of at most ``width``
    columns, ``width`` a compile-time constant (each width compiles on first
    use), or of any number of columns for ``width=0``.

    Both work on the rows of row chunks ``first`` to ``stop``:

    - ``product(indptr, indices, values, own, scale, other, mult, row_chunks,
      first, stop, out, sq_sum)``: ``out[i] = sum_j r_ij mult[j]`` and
      ``sq_sum[i] = sum_j r_ij^2`` for row ``i``;
    - ``rproduct(indptr, indices, values, own, scale, other, mult, row_chunks,
      first, stop, partial, sq_sum)``: row chunk ``c`` accumulates ``sum_i r_ij
      mult[i]`` into ``partial[c, 0]`` (shape ``(n_chunks, 1, n_cols, width or
      k)``; the caller sums the partials in chunk order) and ``sq_sum[c] = sum
      r_ij^2`` over its rows.

    With ``width > 0``, ``other`` (and ``mult`` for ``product``) are one
    column tile each (``column_tiles(., width)[0]``, zero-padded; the same
    array when ``mult`` is ``other``, so each entry reads one row instead of
    two), and the row vectors live in registers. Entries are taken four at a
    time.
    """

    @jit()
    def product(indptr, indices, values, own, scale, other, mult, row_chunks, first, stop, out,
                sq_sum):
        rank, k = own.shape[1], out.shape[1]
        n, n_out = (width, width) if width else (rank, k)
        for c in range(first, stop):
            a = tile_registers(values) if width else np.empty(rank, dtype=values.dtype)
            acc = tile_registers(values) if width else np.empty(k, dtype=values.dtype)
            for i in range(row_chunks[c], row_chunks[c + 1]):
                for t in range(n):
                    a[t] = own[i, t] * scale[t] if t < rank else 0
                for t in range(n_out):
                    acc[t] = 0
                columns = indices[indptr[i]:indptr[i + 1]]
                x = values[indptr[i]:indptr[i + 1]]
                sq = 0.0
                q = 0
                while q + 4 <= x.size:
                    r0, r1, r2, r3 = _residuals4(x, columns, q, a, other, n)
                    sq += (r0 * r0 + r1 * r1) + (r2 * r2 + r3 * r3)
                    w0, w1 = mult[columns[q]], mult[columns[q + 1]]
                    w2, w3 = mult[columns[q + 2]], mult[columns[q + 3]]
                    for t in range(n_out):
                        acc[t] += (r0 * w0[t] + r1 * w1[t]) + (r2 * w2[t] + r3 * w3[t])
                    q += 4
                for e in range(q, x.size):
                    r0 = _residual(x, columns, e, a, other, n)
                    sq += r0 * r0
                    w0 = mult[columns[e]]
                    for t in range(n_out):
                        acc[t] += r0 * w0[t]
                sq_sum[i] = sq
                for t in range(n_out):
                    if t < k:
                        out[i, t] = acc[t]

    @jit()
    def rproduct(indptr, indices, values, own, scale, other, mult, row_chunks, first, stop,
                 partial, sq_sum):
        rank, k = own.shape[1], mult.shape[1]
        n, n_out = (width, width) if width else (rank, k)
        for c in range(first, stop):
            a = tile_registers(values) if width else np.empty(rank, dtype=values.dtype)
            w = tile_registers(values) if width else np.empty(k, dtype=values.dtype)
            acc = partial[c, 0]
            acc[:] = 0
            sq = 0.0
            for i in range(row_chunks[c], row_chunks[c + 1]):
                for t in range(n):
                    a[t] = own[i, t] * scale[t] if t < rank else 0
                for t in range(n_out):
                    w[t] = mult[i, t] if t < k else 0
                columns = indices[indptr[i]:indptr[i + 1]]
                x = values[indptr[i]:indptr[i + 1]]
                q = 0
                while q + 4 <= x.size:
                    r0, r1, r2, r3 = _residuals4(x, columns, q, a, other, n)
                    sq += (r0 * r0 + r1 * r1) + (r2 * r2 + r3 * r3)
                    if width:  # whole-vector row updates (no alias checks)
                        row_axpy(acc, columns[q], r0, w, width)
                        row_axpy(acc, columns[q + 1], r1, w, width)
                        row_axpy(acc, columns[q + 2], r2, w, width)
                        row_axpy(acc, columns[q + 3], r3, w, width)
                    else:
                        d0, d1 = acc[columns[q]], acc[columns[q + 1]]
                        d2, d3 = acc[columns[q + 2]], acc[columns[q + 3]]
                        for t in range(k):
                            d0[t] += r0 * w[t]
                            d1[t] += r1 * w[t]
                            d2[t] += r2 * w[t]
                            d3[t] += r3 * w[t]
                    q += 4
                for e in range(q, x.size):
                    r0 = _residual(x, columns, e, a, other, n)
                    sq += r0 * r0
                    if width:
                        row_axpy(acc, columns[e], r0, w, width)
                    else:
                        d0 = acc[columns[e]]
                        for t in range(k):
                            d0[t] += r0 * w[t]
            sq_sum[c] = sq

    return ResidualKernels(product, rproduct)


@jit()
def csr_residual(indptr, indices, values, own, other, first, stop, out):
    """``out[p] = x_p - own[i] . other[indices[p]]`` for the stored entries of
    rows ``first`` to ``stop``: the residual of a low-rank model at the
    observed entries."""
    for i in range(first, stop):
        columns = indices[indptr[i]:indptr[i + 1]]
        x = values[indptr[i]:indptr[i + 1]]
        for e in range(x.size):
            out[indptr[i] + e] = _residual(x, columns, e, own[i], other, own.shape[1])


@jit()
def csr_holdout_mask(indptr, indices, first_row, key, fraction, first, stop, out, held_per_row):
    """For rows ``first`` to ``stop``: ``out[p] = uniform(key, first_row + i,
    j) < fraction`` for the stored entry ``p = (i, j)``, and
    ``held_per_row[i]`` the number of ``True`` in row ``i``: a counter-based
    coin per entry, so the entries it picks depend on their global position,
    not on how the rows are split into blocks or threads."""
    for i in range(first, stop):
        row = first_row + i
        held = 0
        for p in range(indptr[i], indptr[i + 1]):
            out[p] = uniform(key, row, indices[p]) < fraction
            held += out[p]
        held_per_row[i] = held
