"""Numba kernels: arrays in, arrays out, no validation, no Python objects.

By domain:

- :mod:`~fastsvd.kernels.layout`: row chunks, cache-aligned buffers and column
  tiles (plain numpy: plans the products without loading numba);
- :mod:`~fastsvd.kernels.products`: CSR times dense-block products;
- :mod:`~fastsvd.kernels.residuals`: soft-impute's fused residual products
  over the observed entries;
- :mod:`~fastsvd.kernels.parsing`: byte parsers of rating files;
- :mod:`~fastsvd.kernels.sorting`: linear-time sorts and id maps of ratings;
- :mod:`~fastsvd.kernels.random`: counter-based random numbers.

Kernels trust their input: everything that could make them read out of bounds
is checked once, at the facade (:mod:`fastsvd.operators.convert`,
:mod:`fastsvd.ratings`). Every kernel is compiled through
:func:`fastsvd._jit.jit` on first call and cached on disk; importing this
package compiles nothing.
"""
