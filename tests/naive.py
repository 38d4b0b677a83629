"""Plain-numpy twins of the numba kernels and helpers: slow, obvious, trusted."""

import numpy as np


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
