"""Input checks and conversions, done once at the facade.

Kernels do no bounds checks, so everything that could make them read out of
bounds (a malformed CSR) or compute garbage (NaN, Inf, wrong dtypes) is
rejected here with a message that names the argument and says how to fix it.
Nothing here modifies the caller's arrays, and sparse input is never
densified.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ._operators import CSROperator, DenseOperator, LinearOperatorAdapter, Operator


def working_dtype(dtype) -> np.dtype:
    """float32 stays float32; every other real numeric dtype computes in float64."""
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return dtype
    if dtype.kind in "biuf":
        return np.dtype(np.float64)
    if dtype.kind == "c":
        raise TypeError("complex matrices are not supported; pass the real matrix (fastsvd "
                        "computes real SVDs only).")
    raise TypeError(f"the matrix must hold real numbers, got dtype {dtype}; convert it with "
                    "A.astype(np.float64).")


def as_operator(A, *, name: str = "A") -> Operator:
    """Validate ``A`` and wrap it in an :class:`Operator` without copying it
    when its dtype already is float32 or float64.

    Accepts dense array-likes, scipy.sparse matrices and arrays (CSR used in
    place, CSC as a transposed CSR, others converted to CSR with a warning),
    ``scipy.sparse.linalg.LinearOperator`` and fastsvd operators.
    """
    if isinstance(A, Operator):
        _check_shape(A.shape, name)
        return A
    if is_distributed_input(A):
        from .distributed import matrix_operator

        return matrix_operator(A, name=name)
    if isinstance(A, spla.LinearOperator):
        return _linear_operator(A, name)
    if sp.issparse(A):
        return _sparse_operator(A, name)
    return _dense_operator(A, name)


def is_distributed_input(A) -> bool:
    """Whether ``A`` is held on a Dask cluster (a ``dask.array.Array`` or a
    :class:`fastsvd.distributed.RowBlocks`); checked without importing dask."""
    module = type(A).__module__
    return module.startswith("dask.array") or module == "fastsvd.distributed"


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
    dtype = working_dtype(array.dtype)
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
    dtype = working_dtype(data.dtype)
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
    from ._kernels import csr_structure_errors

    bad_rows, bad_indices, non_finite = csr_structure_errors(indptr, indices, data, n)
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
    _check_shape(A.shape, name)
    dtype = working_dtype(A.dtype if A.dtype is not None else np.float64)
    return LinearOperatorAdapter(A, dtype)


def _check_finite(values, name):
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or infinity; remove or impute those entries "
                         "first (e.g. numpy.nan_to_num).")


def check_rank(k, shape, *, name: str = "k") -> int:
    """``k`` must be an integer with ``1 <= k <= min(shape)``."""
    limit = min(shape)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {k!r} of type {type(k).__name__}.")
    if not 1 <= k <= limit:
        raise ValueError(f"{name}={k} is out of range: a matrix of shape {tuple(shape)} has at "
                         f"most min(m, n) = {limit} singular values; choose 1 <= {name} <= "
                         f"{limit}.")
    return int(k)


def check_tol(tol, dtype, *, name: str = "tol") -> float:
    """``tol`` in (0, 1); ``None`` gives the dtype's default."""
    if tol is None:
        return default_tol(dtype)
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(tol).__name__}.")
    if not 0 < tol < 1:
        raise ValueError(f"{name}={tol} is out of range: it is a relative accuracy and must lie "
                         "in (0, 1), e.g. 1e-6.")
    return float(tol)


def default_tol(dtype) -> float:
    """Default target relative accuracy: 1e-4 for float32 data, 1e-6 for float64."""
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-6


def check_count(value, *, name: str, minimum: int = 0) -> int:
    """An integer ``>= minimum`` (iteration counts, oversampling, block sizes)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type "
                        f"{type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name}={value} is out of range; it must be >= {minimum}.")
    return int(value)


def check_choice(value, choices, *, name: str) -> str:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not supported; choose one of "
                         f"{', '.join(map(repr, choices))}.")
    return value


def check_random_state(random_state) -> np.random.Generator:
    """A numpy Generator from ``None``, an int seed, a Generator or a RandomState."""
    if random_state is None or isinstance(random_state, (numbers.Integral, np.integer)):
        if isinstance(random_state, (bool, np.bool_)):
            raise TypeError("random_state must be None, an int, or a numpy Generator; got a bool.")
        if random_state is not None and random_state < 0:
            raise ValueError(f"random_state={random_state} must be a non-negative integer.")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise TypeError(f"random_state must be None, an int, a numpy Generator or RandomState; got "
                    f"{type(random_state).__name__}.")
