"""fastsvd on a Dask cluster: matrices held as row blocks on the workers.

A matrix that outgrows one machine is split into consecutive row blocks
(scipy.sparse CSR or dense), each loaded and kept on a Dask worker, where the
numba kernels work on it. The algorithms are the same code as in memory:
they see a :class:`DistributedOperator` (or, for soft-impute, a
:class:`DistributedObserved`), whose ``matmat`` is blockwise and
returns a :class:`TallBlocks` that stays on the workers, and whose
``rmatmat`` sums per-block products by a tree reduction. Tall-side
orthonormalisation (CholeskyQR2, with a TSQR fallback) reduces ``k x k`` Gram
matrices to the driver; only short-side blocks (``n x k``) and ``k x k``
matrices travel.

Entry points: :func:`fastsvd.svd`, :class:`fastsvd.PCA`,
:class:`fastsvd.TruncatedSVD` and :class:`fastsvd.SoftImpute` (``method="als"``)
accept a ``dask.array.Array`` chunked along rows or a :class:`RowBlocks`,
run on the active ``distributed.Client`` and return numpy results.

Reproducibility: random numbers are drawn on the driver, on the short side
only; every block computes deterministically and partial sums are added in a
fixed tree order, so the same seed gives the same bits on any cluster layout
of the same blocks, and the same result as in memory to rounding.

Needs ``pip install 'fastsvd[dask]'``. Importing this module registers the
backend with :func:`fastsvd.as_operator` and :class:`fastsvd.SoftImpute`
(:mod:`fastsvd._backends`); they also import it themselves when they are given
a Dask object.

Layout: :mod:`~fastsvd.distributed.blocks` (:class:`RowBlocks`,
:class:`TallBlocks`), :mod:`~fastsvd.distributed.operator` (the operators),
:mod:`~fastsvd.distributed._cluster` (tasks, reductions, worker functions).
"""

from __future__ import annotations

try:
    import dask.array
    import distributed  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("fastsvd.distributed needs dask and distributed: "
                      "pip install 'fastsvd[dask]'") from exc

from .. import _backends
from ._cluster import WorkerLostError
from .blocks import RowBlocks, TallBlocks, as_row_blocks, read_blocks
from .operator import DistributedObserved, DistributedOperator, matrix_operator, ratings_operator

__all__ = ["DistributedObserved", "DistributedOperator", "RowBlocks", "TallBlocks",
           "WorkerLostError", "as_row_blocks", "matrix_operator", "ratings_operator",
           "read_blocks"]


def _on_cluster(X) -> bool:
    return isinstance(X, (RowBlocks, dask.array.Array))


_backends.register("matrix", _on_cluster, matrix_operator)
_backends.register("ratings", _on_cluster, ratings_operator)
