""":func:`as_operator`: input checks and conversion to an operator, done once
at the facade.

Kernels do no bounds checks, so everything that could make them read out of
bounds (a malformed CSR) or compute garbage (NaN, Inf, wrong dtypes) is
rejected here with a message that names the argument and says how to fix it.
Nothing here modifies the caller's arrays, and sparse input is never
densified.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .. import _backends
from .._checks import working_dtype
from .._threads import over_ranges
from ..protocols import LinearOperator
from .base import Operator
from .csr import CSROperator
from .dense import DenseOperator
from .wrappers import LinearOperatorAdapter


def as_operator(A, *, name: str = "A") -> Operator:
    """Validate ``A`` and wrap it in an :class:`Operator` without copying it
    when its dtype already is float32 or float64.

    Accepts, in this order: fastsvd operators (used as they are); input a
    registered backend converts (a matrix on a Dask cluster, see
    :mod:`fastsvd.distributed`); scipy.sparse matrices and arrays (CSR used in
    place, CSC as a transposed CSR, others converted to CSR with a warning);
    any object with ``shape``, ``dtype``, ``matmat`` and ``rmatmat`` (the
    :class:`~fastsvd.protocols.LinearOperator` protocol, which
    ``scipy.sparse.linalg.LinearOperator`` follows); and dense array-likes.

    Examples
    --------
    >>> import numpy as np, fastsvd
    >>> class Diagonal:
    ...     def __init__(self, d):
    ...         self.d, self.shape, self.dtype = d, (d.size, d.size), d.dtype
    ...     def matmat(self, X):
    ...         return self.d[:, None] * X
    ...     def rmatmat(self, Y):
    ...         return self.d[:, None] * Y
    >>> op = fastsvd.as_operator(Diagonal(np.arange(1.0, 6.0)))
    >>> op.shape
    (5, 5)
    >>> fastsvd.svd(op, 2, method="krylov", random_state=0).s
    array([5., 4.])
    """
    if isinstance(A, Operator):
        _check_shape(A.shape, name)
        return A
    converted = _backends.convert("matrix", A, name=name)
    if converted is not None:
        return converted
    if sp.issparse(A):
        return _sparse_operator(A, name)
    if isinstance(A, (spla.LinearOperator, LinearOperator)):
        return _linear_operator(A, name)
    return _dense_operator(A, name)


def _check_shape(shape, name):
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-dimensional, got {len(shape)} dimension(s) with shape "
                         f"{tuple(shape)}; reshape it, e.g. {name}.reshape(-1, 1) for one column.")
    m, n = shape
    if m < 1 or n < 1:
        raise ValueError(f"{name} is empty (shape {tuple(shape)}); it needs at least one row and "
                         "one column.")


def _dense_operator(A, name):
    if isinstance(A, np.ndarray):
        array = A
    else:
        try:
            array = np.asarray(A)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} could not be converted to a numeric array: {exc}") from None
    if array.dtype == object:
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} holds non-numeric values (dtype object); pass an array of "
                            "numbers.") from None
    dtype = working_dtype(array.dtype, name=name)
    _check_shape(array.shape, name)
    array = array.astype(dtype, copy=False)
    _check_finite(array, name)
    return DenseOperator(array)


def _sparse_operator(A, name):
    _check_shape(A.shape, name)
    fmt = A.format
    if fmt not in ("csr", "csc", "coo"):
        warnings.warn(f"{name} is a sparse matrix in {fmt.upper()} format; converting it to CSR "
                      "(a copy). Pass CSR or CSC to avoid the copy.", sp.SparseEfficiencyWarning,
                      stacklevel=4)
    if fmt == "csc":
        return _csr_from_arrays(A.indptr, A.indices, A.data, A.shape[::-1], name).T
    if fmt != "csr":
        A = A.tocsr()
    return _csr_from_arrays(A.indptr, A.indices, A.data, A.shape, name)


def _csr_from_arrays(indptr, indices, data, shape, name):
    """Check a CSR (or, transposed, CSC) structure so kernels can trust it."""
    m, n = shape
    dtype = working_dtype(data.dtype, name=name)
    for label, array in (("indptr", indptr), ("indices", indices)):
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise ValueError(f"{name}.{label} must be a 1-d integer array, got dtype "
                             f"{array.dtype} with {array.ndim} dimension(s).")
    if indptr.size != m + 1:
        raise ValueError(f"{name} is a malformed sparse matrix: indptr has {indptr.size} entries, "
                         f"expected {m + 1} (rows + 1). Rebuild it with scipy.sparse.")
    nnz = int(indptr[-1])
    if indptr[0] != 0 or nnz != indices.size or nnz != data.size:
        raise ValueError(f"{name} is a malformed sparse matrix: indptr[0]={indptr[0]}, "
                         f"indptr[-1]={nnz}, len(indices)={indices.size}, len(data)={data.size}; "
                         "they must satisfy indptr[0] == 0 and indptr[-1] == len(indices) == "
                         "len(data).")
    if indices.dtype.itemsize not in (4, 8):
        indices = indices.astype(np.int32 if n < 2**31 else np.int64)
    data = data.astype(dtype, copy=False)
    from ..kernels.products import csr_structure_errors

    bad_rows = int(np.count_nonzero(indptr[1:] < indptr[:-1]))
    counts = over_ranges(lambda first, stop: csr_structure_errors(indptr, indices, data, n,
                                                                   first, stop), nnz)
    bad_indices, non_finite = (sum(c[i] for c in counts) for i in (0, 1))
    if bad_rows:
        raise ValueError(f"{name} is a malformed sparse matrix: indptr is not non-decreasing "
                         f"({bad_rows} rows end before they start). Rebuild it with "
                         "scipy.sparse.")
    if bad_indices:
        raise ValueError(f"{name} is a malformed sparse matrix: {bad_indices} column indices lie "
                         f"outside [0, {n}), found [{indices.min()}, {indices.max()}].")
    if non_finite:
        raise ValueError(f"{name} contains NaN or infinity ({non_finite} stored values); remove "
                         "or impute those entries first (e.g. numpy.nan_to_num).")
    return CSROperator(indptr, indices, data, shape)


def _linear_operator(A, name):
    """An object of the LinearOperator protocol, its shape and dtype checked."""
    try:
        shape = tuple(int(d) for d in A.shape)
    except (TypeError, ValueError):
        raise TypeError(f"{name}.shape must be a pair of integers (m, n), got "
                        f"{A.shape!r}.") from None
    _check_shape(shape, name)
    dtype = A.dtype if A.dtype is not None else np.float64  # scipy allows dtype=None
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}.dtype must be a numpy dtype, got {dtype!r}.") from None
    return LinearOperatorAdapter(A, working_dtype(dtype, name=name))


def _check_finite(values, name):
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or infinity; remove or impute those entries "
                         "first (e.g. numpy.nan_to_num).")
