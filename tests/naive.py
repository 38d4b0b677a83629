"""Plain-numpy twins of the numba kernels and helpers: slow, obvious, trusted."""

import numpy as np
import scipy.sparse as sp


def csr_matmat(indptr, indices, data, X):
    out = np.zeros((indptr.size - 1, X.shape[1]))
    for i in range(indptr.size - 1):
        for p in range(indptr[i], indptr[i + 1]):
            out[i] += data[p] * X[indices[p]].astype(np.float64)
    return out


def csr_rmatmat(indptr, indices, data, Y, n_cols):
    out = np.zeros((n_cols, Y.shape[1]))
    for i in range(indptr.size - 1):
        for p in range(indptr[i], indptr[i + 1]):
            out[indices[p]] += data[p] * Y[i].astype(np.float64)
    return out


def segment_starts(indptr, indices, column_bounds):
    """Per row, where its (sorted) entries in each column block start, by
    binary search."""
    out = np.empty((indptr.size - 1, column_bounds.size), dtype=np.int64)
    for i in range(indptr.size - 1):
        row = indices[indptr[i]:indptr[i + 1]]
        out[i, :-1] = indptr[i] + np.searchsorted(row, column_bounds[:-1], side="left")
        out[i, -1] = indptr[i + 1]
    return out


def balanced_row_chunks(indptr, n_chunks):
    """Chunk boundaries by a linear scan: chunk c ends at the first row whose
    cumulative work (nnz + rows) reaches c/n_chunks of the total."""
    n_rows = indptr.size - 1
    work = [int(indptr[i]) + i for i in range(n_rows + 1)]
    bounds = [0]
    for c in range(1, n_chunks):
        target = work[-1] * c / n_chunks
        row = next(i for i in range(n_rows + 1) if work[i] >= target)
        bounds.append(max(row, bounds[-1]))
    bounds.append(n_rows)
    return np.array(bounds)


def splitmix64(x):
    mask = (1 << 64) - 1
    z = (x + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def uniform(key, i, t):
    mask = (1 << 64) - 1
    h = splitmix64(int(key) ^ splitmix64((i * 0xBF58476D1CE4E5B9 + t) & mask))
    return (h >> 11) * (1.0 / 9007199254740992.0)


def truncated_svd(A, k):
    """Reference: LAPACK SVD of the dense matrix, truncated to k."""
    U, s, Vt = np.linalg.svd(np.asarray(A, dtype=np.float64), full_matrices=False)
    return U[:, :k], s[:k], Vt[:k]


def soft_impute(X, mask, lam, n_iter=5000, tol=1e-24):
    """Mazumder, Hastie & Tibshirani's soft-impute on a dense array with a
    boolean mask of observed entries: full SVD each iteration, until the
    squared relative change falls below ``tol``. Returns Z."""
    Z = np.zeros_like(X)
    for _ in range(n_iter):
        filled = np.where(mask, X, Z)
        U, s, Vt = np.linalg.svd(filled, full_matrices=False)
        Z_new = (U * np.maximum(s - lam, 0)) @ Vt
        change = np.sum((Z_new - Z) ** 2) / max(np.sum(Z ** 2), 1e-300)
        Z = Z_new
        if change < tol:
            break
    return Z


def soft_impute_objective(X, mask, Z, lam):
    return 0.5 * np.sum((X - Z)[mask] ** 2) + lam * np.linalg.svd(Z, compute_uv=False).sum()


def stored_residual(A, own, other):
    """CSR with the pattern of ``A`` holding ``a_ij - own[i] . other[j]`` (float64)."""
    A = A.tocsr().astype(np.float64)
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    model = np.einsum("pk,pk->p", own[rows], other[A.indices])
    return sp.csr_matrix((A.data - model, A.indices, A.indptr), shape=A.shape)
