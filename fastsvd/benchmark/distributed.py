"""What running on a Dask cluster costs: a LocalCluster of worker processes
against the single-process path, on the same data with the same seeds.

Both paths run the same algorithms; the cluster adds task scheduling, a
round trip to the workers for every reduction, and serialisation of the
short-side blocks. The report gives the median time of each path, their
ratio (the overhead factor), the time per soft-impute iteration, and how far
the two results differ (they agree to rounding).
"""

from __future__ import annotations

import itertools
import time

import numpy as np


def run_distributed(scale=0.02, *, n_workers=2, n_blocks=None, k=20, rank=10,
                    als_iterations=10, repeats=3, log=print) -> dict:
    """Time Krylov SVD (k, tol 1e-4) on :func:`make_netflix_like` and
    ``als_iterations`` softImpute-ALS iterations (rank ``rank``, lam = 0.1
    lambda0) on :func:`make_netflix_ratings` at ``scale``, in this process
    and on a LocalCluster of ``n_workers`` processes sharing this machine's
    cores. Returns a JSON-ready record."""
    from distributed import Client, LocalCluster

    from .._threads import max_threads
    from ..algorithms import svd
    from ..datasets import make_netflix_like, make_netflix_ratings
    from ..distributed import RowBlocks
    from ..impute import SoftImpute, lambda0

    matrix = make_netflix_like(scale, random_state=0)
    ratings = make_netflix_ratings(scale, random_state=0)[0].csr
    n_blocks = n_blocks or 2 * n_workers
    cores = max_threads()
    lam = 0.1 * lambda0(ratings, random_state=0)

    def svd_run(X):
        return svd(X, k, method="krylov", tol=1e-4, random_state=0)

    def als_run(X):
        stamps = []
        model = SoftImpute(rank=rank, lam=lam, tol=1e-12, max_iter=als_iterations,
                           random_state=0, callback=lambda *_: stamps.append(time.perf_counter()))
        return model.fit(X), float(np.median(np.diff(stamps)))

    record = {"scale": scale, "shape": list(matrix.shape), "nnz": int(matrix.nnz),
              "ratings": int(ratings.nnz), "k": k, "rank": rank, "als_iterations": als_iterations,
              "n_workers": n_workers, "n_blocks": n_blocks, "cores": cores, "repeats": repeats}
    log(f"== single process ({cores} numba threads): {matrix.shape[0]:,} x {matrix.shape[1]:,}, "
        f"{matrix.nnz:,} nonzeros; {ratings.nnz:,} ratings")
    single = {"svd": _timed(svd_run, matrix, repeats), "als": _timed(als_run, ratings, repeats)}
    threads_each = max(1, cores // n_workers)
    log(f"== LocalCluster: {n_workers} worker processes x {threads_each} numba thread(s), "
        f"{n_blocks} row blocks")
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None,
                      env={"NUMBA_NUM_THREADS": str(threads_each)}) as cluster, \
            Client(cluster):
        start = time.perf_counter()
        blocks = {"svd": RowBlocks.from_blocks(_row_blocks(matrix, n_blocks)),
                  "als": RowBlocks.from_blocks(_row_blocks(ratings, n_blocks))}
        record["scatter_seconds"] = time.perf_counter() - start
        cluster_runs = {"svd": _timed(svd_run, blocks["svd"], repeats),
                        "als": _timed(als_run, blocks["als"], repeats)}
    record["svd"] = _compare(single["svd"], cluster_runs["svd"], lambda r: r.s)
    record["als"] = _compare(single["als"], cluster_runs["als"], lambda r: r[0].d_)
    record["als"]["seconds_per_iteration"] = {"single": single["als"]["result"][1],
                                              "cluster": cluster_runs["als"]["result"][1]}
    for line in format_distributed(record):
        log(line)
    return record


def format_distributed(record) -> list[str]:
    """A Markdown table of the record."""
    lines = ["| job | one process (s) | LocalCluster (s) | overhead | max rel. difference |",
             "|---|---:|---:|---:|---:|"]
    labels = {"svd": f"Krylov SVD k={record['k']}, tol 1e-4",
              "als": f"soft-impute ALS, rank {record['rank']}, {record['als_iterations']} "
                     "iterations"}
    for name, label in labels.items():
        row = record[name]
        lines.append(f"| {label} | {row['single']:.3f} | {row['cluster']:.3f} | "
                     f"{row['cluster'] / row['single']:.2f}x | {row['difference']:.1e} |")
    per = record["als"]["seconds_per_iteration"]
    lines.append(f"\nsoft-impute per iteration: {per['single'] * 1e3:.0f} ms in one process, "
                 f"{per['cluster'] * 1e3:.0f} ms on the cluster; scattering the blocks took "
                 f"{record['scatter_seconds']:.2f} s (not in the times above).")
    return lines


def _row_blocks(matrix, n_blocks):
    bounds = np.linspace(0, matrix.shape[0], n_blocks + 1).astype(int)
    return [matrix[a:b] for a, b in itertools.pairwise(bounds)]


def _timed(run, X, repeats):
    """One warm-up run (compilation, caches), then the median of ``repeats``."""
    result = run(X)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run(X)
        seconds.append(time.perf_counter() - start)
    return {"seconds": float(np.median(seconds)), "result": result}


def _compare(single, cluster, values):
    a, b = values(single["result"]), values(cluster["result"])
    return {"single": single["seconds"], "cluster": cluster["seconds"],
            "difference": float(np.max(np.abs(a - b) / np.abs(a)))}
