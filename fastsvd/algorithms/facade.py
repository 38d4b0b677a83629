"""The public SVD functions: validate once, then run the private body.

Each public function validates and converts its arguments (the input through
:func:`fastsvd.as_operator`) and hands them to :func:`_run`, which computes
and checks nothing: it orients the problem so the iterated (short) side is
``n``, runs an algorithm under the thread policy, and :func:`_finish` maps the
result back, sorts it, applies the sign convention and casts it to the
input's working dtype.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from .._checks import check_choice, check_int, check_random_state, check_rank, check_tol
from .._threads import check_n_threads, thread_limits
from ..operators import CenteredOperator, DenseOperator, Operator, as_operator
from . import krylov, power, randomized
from .result import ConvergenceWarning, Solution, SVDResult, flip_signs
from .tall import to_local

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
        densified and never modified. Any object with ``shape``, ``dtype``,
        ``matmat`` and ``rmatmat`` works (:class:`fastsvd.protocols.
        LinearOperator`). A ``dask.array.Array`` chunked along rows (dense or
        scipy.sparse chunks) or a :class:`fastsvd.distributed.RowBlocks` runs on
        the active ``distributed.Client`` with the Krylov or randomized method:
        the rows stay on the workers and the result comes back as numpy arrays.
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
    random_state : None, int, numpy.random.Generator or RandomState
        Seed of the random start. The same seed gives bit-identical results at
        any thread count.
    n_threads : int, optional
        Threads for the numba kernels (default: all). Results are
        bit-identical for any value. BLAS threads are left alone for dense
        input; beside numba kernels BLAS runs on one thread.

    Returns
    -------
    SVDResult
        Unpacks as ``U, s, Vt``; also carries ``errors`` (estimated relative
        error per singular value), ``residuals``, ``n_iter``, ``n_passes`` and
        ``converged``.

    Notes
    -----
    Guarantees: ``s`` is descending; ``U`` and ``Vt`` have orthonormal columns
    and rows; the largest-magnitude entry of each row of ``Vt`` is positive.
    Error estimates: for a Ritz triplet with ``A v = s u`` and residual
    ``r = ||A.T u - s v||``, some singular value lies within ``r`` of ``s``,
    and within about ``r**2 / (2 gap)`` when ``gap`` separates it from the
    spectrum not yet captured; ``errors`` takes the smaller.

    Examples
    --------
    >>> import numpy as np, fastsvd
    >>> from fastsvd.datasets import planted_spectrum
    >>> A = planted_spectrum(300, 200, 1.0 / np.arange(1, 201), random_state=0)[0]
    >>> U, s, Vt = fastsvd.svd(A, 3, method="krylov", tol=1e-8, random_state=0)
    >>> np.round(s, 6)
    array([1.      , 0.5     , 0.333333])
    >>> bool(np.allclose(U.T @ U, np.eye(3)))
    True
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
        return _lapack_svd(op, k, n_threads)
    _check_method(op, method)
    max_iter = check_int(DEFAULT_MAX_ITER[method] if max_iter is None else max_iter,
                         name="max_iter", low=1)
    if method == "krylov":
        return _run(op, krylov.block_krylov, "krylov", k, rng, n_threads, tol=tol,
                    max_iter=max_iter, block_size=krylov.default_block_size(k, min(op.shape)),
                    max_basis=None)
    if method == "randomized":
        return _run(op, randomized.subspace_iteration, "randomized", k, rng, n_threads,
                    n_oversamples=10, n_iter=max_iter, normalizer="QR", tol=tol)
    return _run(op, power.deflation, "power", k, rng, n_threads, tol=tol, max_iter=max_iter)


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
    max_basis : int, optional
        Basis columns kept before a thick restart; default from a 512 MiB
        budget for the two short-side bases, at least ``2k + 2 block_size``.

    Returns
    -------
    SVDResult

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp, fastsvd
    >>> A = sp.random(2000, 300, density=0.02, format="csr", random_state=0)
    >>> result = fastsvd.krylov_svd(A, 5, tol=1e-6, random_state=0)
    >>> reference = np.linalg.svd(A.toarray(), compute_uv=False)[:5]
    >>> bool(np.allclose(result.s, reference, rtol=1e-6)), result.converged
    (True, True)
    """
    op = as_operator(A)
    k = check_rank(k, op.shape)
    n = min(op.shape)
    block_size = (krylov.default_block_size(k, n) if block_size is None
                  else check_int(block_size, name="block_size", low=1))
    if max_basis is not None:
        max_basis = check_int(max_basis, name="max_basis", low=1)
    return _run(op, krylov.block_krylov, "krylov", k, check_random_state(random_state),
                check_n_threads(n_threads), tol=check_tol(tol, op.dtype),
                max_iter=check_int(max_iter, name="max_iter", low=1), block_size=block_size,
                max_basis=max_basis)


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

    Examples
    --------
    >>> import numpy as np, fastsvd
    >>> from fastsvd.datasets import planted_spectrum
    >>> A = planted_spectrum(500, 300, 0.5 ** np.arange(300), random_state=0)[0]
    >>> result = fastsvd.randomized_svd(A, 4, n_iter=4, random_state=0)
    >>> np.round(result.s, 6)
    array([1.   , 0.5  , 0.25 , 0.125])
    >>> bool(result.error < 1e-6)
    True
    """
    op = as_operator(A)
    k = check_rank(k, op.shape)
    n_oversamples = check_int(n_oversamples, name="n_oversamples", low=0)
    if isinstance(n_iter, str) and n_iter == "auto":
        n_iter = 7 if k < 0.1 * min(op.shape) else 4
    n_iter = check_int(n_iter, name="n_iter", low=0)
    normalizer = check_choice(power_iteration_normalizer, NORMALIZERS,
                              name="power_iteration_normalizer")
    _check_method(op, "randomized", normalizer)
    return _run(op, randomized.subspace_iteration, "randomized", k,
                check_random_state(random_state), check_n_threads(n_threads),
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

    Examples
    --------
    >>> import numpy as np, fastsvd
    >>> from fastsvd.datasets import planted_spectrum
    >>> A = planted_spectrum(400, 100, 0.5 ** np.arange(100), random_state=0)[0]
    >>> Q = fastsvd.randomized_range_finder(A, 10, random_state=0)
    >>> Q.shape, bool(np.allclose(Q.T @ Q, np.eye(10)))
    ((400, 10), True)
    >>> bool(np.linalg.norm(A - Q @ (Q.T @ A), 2) < 1e-3)
    True
    """
    op = as_operator(A)
    size = check_rank(size, op.shape, name="size")
    normalizer = check_choice(power_iteration_normalizer, NORMALIZERS,
                              name="power_iteration_normalizer")
    _check_method(op, "randomized", normalizer)
    n_iter = check_int(n_iter, name="n_iter", low=0)
    rng = check_random_state(random_state)
    with thread_limits(check_n_threads(n_threads), blas=1 if op.uses_numba else None):
        return to_local(randomized.range_finder(
            op, size, n_iter=n_iter, normalizer="QR" if normalizer == "auto" else normalizer,
            rng=rng))


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

    Examples
    --------
    >>> import numpy as np, fastsvd
    >>> A = np.diag([3.0, 1.0, 0.5])
    >>> result = fastsvd.power_iteration(A, tol=1e-10, random_state=0)
    >>> float(np.round(result.s[0], 8)), bool(result.residuals[0] <= 1e-10)
    (3.0, True)
    """
    op = as_operator(A)
    _check_method(op, "power")
    return _run(op, power.deflation, "power", 1, check_random_state(random_state),
                check_n_threads(n_threads), tol=check_tol(tol, op.dtype),
                max_iter=check_int(max_iter, name="max_iter", low=1))


def deflation_pca(X, k, *, center=True, tol=None, max_iter=1000, random_state=None,
                  n_threads=None):
    """PCA by the classic method: power iteration for the first component,
    deflate, repeat.

    Centring and deflation are implicit (:class:`fastsvd.CenteredOperator`,
    :class:`fastsvd.DeflatedOperator`): ``X.T @ X``, a centred copy or a
    deflated copy are never formed, so sparse ``X`` stays sparse.

    Returns
    -------
    SVDResult
        The SVD of the centred ``X`` (of ``X`` itself if ``center=False``):
        components are the rows of ``Vt``, scores ``U * s``, explained
        variances ``s**2 / (n_samples - 1)``.

    Examples
    --------
    >>> import numpy as np, fastsvd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((500, 3)) * [5.0, 2.0, 0.5] + 10.0
    >>> result = fastsvd.deflation_pca(X, 2, tol=1e-10, random_state=0)
    >>> variances = result.s ** 2 / (X.shape[0] - 1)
    >>> reference = np.linalg.eigvalsh(np.cov(X.T))[::-1][:2]
    >>> bool(np.allclose(variances, reference))
    True
    """
    op = as_operator(X, name="X")
    k = check_rank(k, op.shape)
    _check_method(op, "power")
    if center:
        op = CenteredOperator(op, column_means(op))
    return _run(op, power.deflation, "power", k, check_random_state(random_state),
                check_n_threads(n_threads), tol=check_tol(tol, op.dtype),
                max_iter=check_int(max_iter, name="max_iter", low=1))


def column_means(op: Operator) -> np.ndarray:
    """Column means of an operator (one product ``A.T @ 1``, per block on a cluster)."""
    return op.column_sums() / op.shape[0]


def _check_method(op: Operator, method: str, normalizer: str = "QR") -> None:
    """What a matrix held on a cluster cannot do."""
    if not op.distributed:
        return
    if method == "power":
        raise ValueError("power iteration runs in one process; for a matrix on a Dask cluster "
                         "use method='krylov' (the default) or 'randomized'.")
    if normalizer == "LU":
        raise ValueError("power_iteration_normalizer='LU' needs the whole long-side block in "
                         "memory; use 'QR' (the default) for distributed input.")


def _auto_method(op: Operator, k: int) -> str:
    short = min(op.shape)
    if isinstance(op, DenseOperator) and (short <= 500 or 5 * (k + 10) >= short):
        return "lapack"
    return "krylov"


def _lapack_svd(op: Operator, k: int, n_threads) -> SVDResult:
    """Exact SVD by LAPACK gesdd, truncated to ``k``; dense operators only."""
    if not isinstance(op, DenseOperator):
        raise ValueError("method='lapack' needs a dense array: it would have to densify this "
                         f"{type(op).__name__}. Use method='krylov' or 'randomized', or pass "
                         "a dense array.")
    with thread_limits(n_threads):
        U, s, Vt = scipy.linalg.svd(op.array, full_matrices=False, lapack_driver="gesdd",
                                    check_finite=False)
    zeros = np.zeros(k)
    U, s, Vt = U[:, :k].copy(), s[:k].copy(), Vt[:k].copy()
    flip_signs(U, Vt)
    return SVDResult(U, s, Vt, zeros, zeros.copy(), 1, 1, True, "lapack")


def _run(op, algorithm, method, k, rng, n_threads, **options) -> SVDResult:
    """Orient ``op`` so ``n <= m``, run ``algorithm`` and finish its result.
    Arguments are already validated.

    A distributed operator keeps its orientation: its rows are where the data
    are, so the iterated side is its columns even when they are the longer.
    """
    transposed = op.shape[1] > op.shape[0] and not op.distributed
    with thread_limits(n_threads, blas=1 if op.uses_numba else None):
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
