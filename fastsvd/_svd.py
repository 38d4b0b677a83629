"""The public SVD functions: validate once, orient, run an algorithm, finish.

Each public function follows the same path: :func:`as_operator` validates
and wraps the input, the problem is oriented so the iterated (short) side is
``n``, the algorithm runs under the requested thread count, and
:func:`_finish` maps the result back, sorts it, applies the sign convention
and casts it to the input's working dtype.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from . import _krylov, _power, _randomized
from ._linalg import flip_signs, to_local
from ._numba import check_n_threads, threads
from ._operators import CenteredOperator, DenseOperator, Operator
from ._result import ConvergenceWarning, Solution, SVDResult
from ._validation import (
    as_operator,
    check_choice,
    check_count,
    check_random_state,
    check_rank,
    check_tol,
)

METHODS = ("auto", "randomized", "krylov", "power", "lapack")
NORMALIZERS = ("auto", "QR", "LU", "none")
DEFAULT_MAX_ITER = {"randomized": 100, "krylov": 200, "power": 1000}


def svd(A, k, *, method="auto", tol=None, max_iter=None, random_state=None, n_threads=None):
    """Truncated SVD: the ``k`` largest singular values and their vectors.

    Parameters
    ----------
    A : array-like, scipy.sparse matrix/array, LinearOperator or fastsvd operator
        The ``m x n`` real matrix. float32 input is computed and returned in
        float32; other numeric types in float64. Sparse input is never
        densified and never modified. A ``dask.array.Array`` chunked along
        rows (dense or scipy.sparse chunks) or a
        :class:`fastsvd.distributed.RowBlocks` runs on the active
        ``distributed.Client`` with the Krylov or randomized method: the rows
        stay on the workers and the result comes back as numpy arrays, the
        same as in memory to rounding (see :mod:`fastsvd.distributed`).
    k : int
        Number of singular triplets, ``1 <= k <= min(m, n)``.
    method : {"auto", "randomized", "krylov", "power", "lapack"}
        ``"krylov"``: thick-restarted block Lanczos, the fastest way to tight
        accuracy. ``"randomized"``: subspace iteration (Halko, Martinsson &
        Tropp). ``"power"``: power iteration with deflation, one triplet at a
        time (the classic method; slow when singular values are close).
        ``"lapack"``: the exact dense SVD (gesdd), dense input only.
        ``"auto"`` picks LAPACK for small dense problems or large ``k``, and
        Krylov otherwise.
    tol : float, optional
        Target relative accuracy of the singular values; iterative methods stop
        once the estimated error of every one of the ``k`` values is below it.
        Defaults to 1e-4 for float32 input and 1e-6 for float64. For
        ``"power"`` it bounds the relative residual of each triplet, which
        bounds the error of its singular value.
    max_iter : int, optional
        Iteration cap (default 200 for Krylov, 100 for randomized, 1000 per
        component for power). Reaching it emits a :class:`ConvergenceWarning`.
    random_state : None, int or numpy.random.Generator
        Seed of the random start. The same seed gives bit-identical results at
        any thread count.
    n_threads : int, optional
        Threads for the numba kernels (default: all). Results are
        bit-identical for any value. BLAS threads are left alone: set them with
        threadpoolctl or ``OPENBLAS_NUM_THREADS`` (OpenBLAS results can depend
        on its thread count).

    Returns
    -------
    SVDResult
        Unpacks as ``U, s, Vt``; also carries ``errors`` (estimated relative
        error per singular value), ``residuals``, ``n_iter``, ``n_passes`` and
        ``converged``.

    Notes
    -----
    Error estimates: for a Ritz triplet with ``A v = s u`` and residual
    ``r = ||A.T u - s v||``, some singular value lies within ``r`` of ``s``,
    and within ``r**2 / (2 gap)`` when the gap to the rest of the spectrum is
    ``gap``; the estimate takes the smaller, with the gap estimated from the
    other Ritz values.
    """
    op = as_operator(A)
    k = check_rank(k, op.shape)
    method = check_choice(method, METHODS, name="method")
    tol = check_tol(tol, op.dtype)
    rng = check_random_state(random_state)
    n_threads = check_n_threads(n_threads)
    if method == "auto":
        method = _auto_method(op, k)
    if method == "lapack":
        with threads(n_threads):
            return lapack_svd(op, k)
    max_iter = check_count(max_iter if max_iter is not None else DEFAULT_MAX_ITER[method],
                           name="max_iter", minimum=1)
    if method == "krylov":
        n = min(op.shape)
        return _run(op, _krylov.block_krylov, "krylov", k, rng, n_threads, tol=tol,
                    max_iter=max_iter, block_size=_krylov.default_block_size(k, n),
                    max_basis=None)
    if method == "randomized":
        return _run(op, _randomized.subspace_iteration, "randomized", k, rng, n_threads,
                    n_oversamples=10, n_iter=max_iter, normalizer="QR", tol=tol)
    return _run(op, _power.deflation, "power", k, rng, n_threads, tol=tol, max_iter=max_iter)


def krylov_svd(A, k, *, tol=None, max_iter=200, block_size=None, max_basis=None,
               random_state=None, n_threads=None):
    """Truncated SVD by thick-restarted block Lanczos (block Krylov).

    Builds a Krylov basis on the short side, fully reorthogonalised, and
    stops once the estimated relative error of each of the top ``k`` singular
    values is ``<= tol`` (see :func:`svd` for the estimate). Each iteration
    costs two passes over ``A``; one more computes ``U``.

    Parameters
    ----------
    A, k, tol, random_state, n_threads
        As in :func:`svd`.
    max_iter : int
        Iteration cap (each iteration adds one block to the basis).
    block_size : int, optional
        Columns per block; default about ``(k + 10) / 2`` (a multiple of 8
        between 16 and 128). Smaller blocks build a higher-degree Krylov
        space per pass; larger ones use the sparse kernels more efficiently.
        On the full Netflix shape (k=50) blocks of 16 to 48 columns all took
        4.9-5.3 s to reach tol=1e-2 and 7.1-7.9 s for 1e-4.
    max_basis : int, optional
        Basis columns kept before a thick restart; default from a 512 MiB
        budget for the two short-side bases, at least ``2k + 2 block_size``.

    Returns
    -------
    SVDResult
    """
    op = as_operator(A)
    k = check_rank(k, op.shape)
    n = min(op.shape)
    block_size = (_krylov.default_block_size(k, n) if block_size is None
                  else check_count(block_size, name="block_size", minimum=1))
    if max_basis is not None:
        max_basis = check_count(max_basis, name="max_basis", minimum=1)
    return _run(op, _krylov.block_krylov, "krylov", k, random_state, n_threads,
                tol=check_tol(tol, op.dtype), max_iter=check_count(max_iter, name="max_iter",
                                                                    minimum=1),
                block_size=block_size, max_basis=max_basis)


def randomized_svd(A, k, *, n_oversamples=10, n_iter="auto", power_iteration_normalizer="auto",
                   tol=None, random_state=None, n_threads=None):
    """Randomized SVD (Halko, Martinsson & Tropp 2011, Algorithms 4.4 and 5.1).

    Samples the range of ``A`` with ``k + n_oversamples`` Gaussian vectors,
    sharpens it with ``n_iter`` power iterations, and takes the SVD of ``A``
    projected on it. The iterated block lives on the short side of ``A``, so
    only the products touch the long side.

    Parameters
    ----------
    A, k, random_state, n_threads
        As in :func:`svd`.
    n_oversamples : int
        Extra sampled columns (default 10).
    n_iter : int or "auto"
        Power iterations; ``"auto"`` is 7 when ``k < 0.1 min(m, n)`` and 4
        otherwise (scikit-learn's rule). Costs ``2 (n_iter + 1)`` passes.
    power_iteration_normalizer : {"auto", "QR", "LU", "none"}
        How the long-side block is normalised between power iterations:
        ``"QR"`` (CholeskyQR2, the default for "auto"), ``"LU"`` (as
        scikit-learn) or ``"none"`` (fastest, loses accuracy when the
        singular values span many orders of magnitude). The short side is
        always orthonormalised (it is cheap).
    tol : float, optional
        If given, stop as soon as every estimated relative error is ``<= tol``
        (``n_iter`` then is a cap). By default exactly ``n_iter`` iterations
        run; the error estimate is reported either way.

    Returns
    -------
    SVDResult
    """
    op = as_operator(A)
    k = check_rank(k, op.shape)
    n_oversamples = check_count(n_oversamples, name="n_oversamples")
    if n_iter == "auto":
        n_iter = 7 if k < 0.1 * min(op.shape) else 4
    n_iter = check_count(n_iter, name="n_iter")
    normalizer = check_choice(power_iteration_normalizer, NORMALIZERS,
                              name="power_iteration_normalizer")
    return _run(op, _randomized.subspace_iteration, "randomized", k, random_state, n_threads,
                n_oversamples=n_oversamples, n_iter=n_iter,
                normalizer="QR" if normalizer == "auto" else normalizer,
                tol=None if tol is None else check_tol(tol, op.dtype))


def randomized_range_finder(A, size, *, n_iter=4, power_iteration_normalizer="auto",
                            random_state=None, n_threads=None):
    """Orthonormal basis ``Q`` (``m x size``) approximating the range of ``A``.

    Halko, Martinsson & Tropp Algorithm 4.4: ``Q = orth((A A^T)^n_iter A
    Omega)`` for a Gaussian ``Omega``, normalising after every product.
    ``A ~ Q Q^T A`` with an error close to the best rank-``size`` one when the
    spectrum decays. Returned in the working dtype of ``A``.
    """
    op = as_operator(A)
    size = check_rank(size, op.shape, name="size")
    normalizer = check_choice(power_iteration_normalizer, NORMALIZERS,
                              name="power_iteration_normalizer")
    rng = check_random_state(random_state)
    with threads(check_n_threads(n_threads), single_threaded_blas=op.uses_numba):
        return to_local(_randomized.range_finder(
            op, size, n_iter=check_count(n_iter, name="n_iter"),
            normalizer="QR" if normalizer == "auto" else normalizer, rng=rng))


def power_iteration(A, *, tol=None, max_iter=1000, random_state=None, n_threads=None):
    """Top singular triplet by power iteration on ``A^T A``.

    Stops when the relative residual ``||A.T u - s v|| / s`` is ``<= tol``
    (default 1e-6 for float64, 1e-4 for float32) or after ``max_iter``
    iterations; convergence is geometric with ratio ``(s_2 / s_1)^2``.

    Returns
    -------
    SVDResult
        With ``k = 1``; ``n_iter`` is the number of iterations and
        ``residuals[0]`` the final relative residual.
    """
    op = as_operator(A)
    return _run(op, _power.deflation, "power", 1, random_state, n_threads,
                tol=check_tol(tol, op.dtype), max_iter=check_count(max_iter, name="max_iter",
                                                                    minimum=1))


def deflation_pca(X, k, *, center=True, tol=None, max_iter=1000, random_state=None,
                  n_threads=None):
    """PCA by the classic method: power iteration for the first component,
    deflate, repeat.

    Centring and deflation are implicit (:class:`CenteredOperator`,
    :class:`DeflatedOperator`): ``X.T @ X``, a centred copy or a deflated copy
    are never formed, so sparse ``X`` stays sparse.

    Returns
    -------
    SVDResult
        The SVD of the centred ``X`` (of ``X`` itself if ``center=False``):
        components are the rows of ``Vt``, scores ``U * s``, explained
        variances ``s**2 / (n_samples - 1)``.
    """
    op = as_operator(X, name="X")
    k = check_rank(k, op.shape)
    if center:
        op = CenteredOperator(op, column_means(op))
    return _run(op, _power.deflation, "power", k, random_state, n_threads,
                tol=check_tol(tol, op.dtype), max_iter=check_count(max_iter, name="max_iter",
                                                                    minimum=1))


def column_means(op: Operator) -> np.ndarray:
    """Column means of an operator (one product ``A.T @ 1``, per block on a cluster)."""
    return op.column_sums() / op.shape[0]


def lapack_svd(op: Operator, k: int) -> SVDResult:
    """Exact SVD by LAPACK gesdd, truncated to ``k``; dense operators only."""
    if not isinstance(op, DenseOperator):
        raise ValueError("method='lapack' needs a dense array: it would have to densify this "
                         f"{type(op).__name__}. Use method='krylov' or 'randomized', or pass "
                         "a dense array.")
    U, s, Vt = scipy.linalg.svd(op.array, full_matrices=False, lapack_driver="gesdd",
                                check_finite=False)
    zeros = np.zeros(k)
    U, s, Vt = U[:, :k].copy(), s[:k].copy(), Vt[:k].copy()
    flip_signs(U, Vt)
    return SVDResult(U, s, Vt, zeros, zeros.copy(), 1, 1, True, "lapack")


def _auto_method(op: Operator, k: int) -> str:
    short = min(op.shape)
    if isinstance(op, DenseOperator) and (short <= 500 or 5 * (k + 10) >= short):
        return "lapack"
    return "krylov"


def _run(op, algorithm, method, k, random_state, n_threads, **options) -> SVDResult:
    """Orient ``op`` so ``n <= m``, run ``algorithm`` and finish its result.

    A distributed operator keeps its orientation: its rows are where the data
    are, so the iterated side is its columns even when they are the longer.
    """
    if method == "power" and op.distributed:
        raise ValueError("power iteration runs in one process; for a matrix on a Dask cluster "
                         "use method='krylov' (the default) or 'randomized'.")
    rng = check_random_state(random_state)
    n_threads = check_n_threads(n_threads)
    transposed = op.shape[1] > op.shape[0] and not op.distributed
    with threads(n_threads, single_threaded_blas=op.uses_numba):
        solution = algorithm(op.T if transposed else op, k, rng=rng, **options)
        solution = solution._replace(U=to_local(solution.U))
    if transposed:
        solution = solution._replace(U=solution.V, V=solution.U)
    return _finish(solution, op.dtype, method)


def _finish(solution: Solution, dtype, method: str) -> SVDResult:
    order = np.argsort(-solution.s, kind="stable")
    U, V = solution.U, solution.V
    if np.any(order != np.arange(order.size)):  # a column gather of the tall U costs a pass
        U, V = U[:, order], V[:, order]
    U = np.ascontiguousarray(U, dtype=dtype)
    Vt = np.ascontiguousarray(V.T, dtype=dtype)
    flip_signs(U, Vt)
    if not solution.converged:
        warnings.warn(f"method={method!r} stopped after {solution.n_iter} iterations with an "
                      f"estimated relative error of {np.max(solution.errors):.2e}, above tol; "
                      "raise max_iter or tol.", ConvergenceWarning, stacklevel=3)
    return SVDResult(U, solution.s[order].astype(dtype), Vt, solution.residuals[order],
                     solution.errors[order], solution.n_iter, solution.n_passes,
                     solution.converged, method)
