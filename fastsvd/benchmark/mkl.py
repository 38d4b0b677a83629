"""Multi-threaded sparse products from Intel MKL for the benchmark's peers.

``pip install sparse-dot-mkl mkl`` provides them; the ``mkl`` wheel puts
``libmkl_rt.so.*`` in the environment's ``lib/``, which sparse_dot_mkl finds
through ``MKL_RT`` (set here when it is not set). A peer given
:func:`mkl_operator` runs every product in MKL on all threads: ``A @ X`` on
the CSR itself and ``A.T @ Y`` on an explicit CSR copy of ``A.T``, the fastest
of the ways MKL offers (its product with the CSC view of ``A.T`` measured
several times slower than scipy's).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator


def mkl_library() -> str | None:
    """Path of the ``libmkl_rt`` that sparse_dot_mkl loads, or None."""
    if os.environ.get("MKL_RT"):
        return os.environ["MKL_RT"]
    found = sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))
    return found[0] if found else None


def available() -> bool:
    """Whether sparse_dot_mkl and an MKL runtime are installed."""
    return importlib.util.find_spec("sparse_dot_mkl") is not None and mkl_library() is not None


def mkl_operator(A) -> LinearOperator:
    """``A`` (scipy.sparse) as a LinearOperator whose products run in MKL."""
    os.environ.setdefault("MKL_RT", mkl_library() or "")
    from sparse_dot_mkl import dot_product_mkl

    A = sp.csr_matrix(A)
    AT = A.T.tocsr()

    def product(matrix, block):
        return dot_product_mkl(matrix, np.ascontiguousarray(block, dtype=A.dtype))

    return LinearOperator(A.shape, dtype=A.dtype, matvec=lambda x: product(A, x),
                          rmatvec=lambda y: product(AT, y), matmat=lambda X: product(A, X),
                          rmatmat=lambda Y: product(AT, Y))
