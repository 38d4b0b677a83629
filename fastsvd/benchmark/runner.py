"""Run the contenders on a preset's workloads and collect times and accuracies."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from .._threads import active_threads, check_n_threads, max_threads, thread_limits
from .completion import COMPLETION_CONTENDERS, COMPLETION_PRESETS, run_completion
from .contenders import CONTENDERS, accuracy, frobenius_excess
from .workloads import PRESETS, SWEEP

LONG_RUN = 5.0


def run_benchmark(preset="quick", *, contenders=None, repeats=3, n_threads=None,
                  cache_dir=None, log=None) -> dict:
    """Measure every available contender on every workload of ``preset``.

    For each contender the ladder of settings is walked from cheap to
    accurate until the tightest accuracy tier is reached (or a run exceeds the
    workload's time budget). The first setting reaching each tier is then
    re-timed ``repeats`` times, alternating contenders, and its peak memory
    measured in one more run. Compile time is excluded by a warm-up on a
    slice of the matrix.

    Then runs the preset's matrix-completion workloads (soft-impute against
    scikit-surprise, see :mod:`fastsvd.benchmark.completion`).

    Returns a JSON-ready dict: machine, versions, thread settings, and per
    workload every run plus a per-tier summary; ``completion`` holds the
    matrix-completion records.
    """
    log = log or _stderr
    names = set(contenders) if contenders else None
    chosen = [c for c in CONTENDERS if names is None or c.name in names]
    known = [c.name for c in (*CONTENDERS, *COMPLETION_CONTENDERS)]
    if names and not names <= set(known):
        raise ValueError(f"unknown contenders {sorted(names - set(known))}; choose from "
                         f"{known}")
    completion = [c for c in COMPLETION_CONTENDERS if names is None or c.name in names]
    n = check_n_threads(n_threads, name="n_threads") or max_threads()
    with thread_limits(n, blas=n):
        results = {"preset": preset, "machine": machine_info(), "versions": versions(),
                   "threads": _thread_settings(), "repeats": repeats, "workloads": [],
                   "completion": []}
        for workload in PRESETS[preset]:
            if chosen:
                results["workloads"].append(_run_workload(
                    workload, chosen, repeats, Path(cache_dir or _default_cache()), log))
        for workload in COMPLETION_PRESETS.get(preset, ()) if completion else ():
            results["completion"].append(run_completion(workload, completion, repeats=repeats,
                                                             log=log))
    return results


def run_sweep(*, repeats=3, scales=None, ks=None, log=None) -> dict:
    """Scaling sweep: sparse kernel time per nonzero and column, and the time
    of a k=50 Krylov SVD, against nonzeros, block width and thread count."""
    log = log or _stderr
    most = max_threads()
    thread_counts = sorted({1, most})
    with thread_limits(most, blas=most):
        rows = _sweep_rows(scales or SWEEP["scales"], ks or SWEEP["ks"], thread_counts, repeats,
                           log)
    return {"preset": "sweep", "machine": machine_info(), "versions": versions(),
            "threads": {"fastsvd_threads": most, "swept": thread_counts},
            "repeats": repeats, "sweep": rows}


def _sweep_rows(scales, ks, thread_counts, repeats, log):
    from ..algorithms import svd
    from ..datasets import make_netflix_like
    from ..operators import as_operator

    rows = []
    for scale in scales:
        A = make_netflix_like(scale, random_state=0)
        op = as_operator(A)
        log(f"== sweep: scale {scale} ({A.shape[0]:,} x {A.shape[1]:,}, {A.nnz:,} nonzeros)")
        for n_threads in thread_counts:
            with thread_limits(n_threads):
                for k in ks:
                    rng = np.random.default_rng(0)
                    X = rng.standard_normal((A.shape[1], k)).astype(A.dtype)
                    Y = rng.standard_normal((A.shape[0], k)).astype(A.dtype)
                    for name, product, block in (("matmat", op.matmat, X),
                                                 ("rmatmat", op.rmatmat, Y)):
                        seconds = _median_time(product, block, repeats)
                        rows.append({"kind": name, "scale": scale, "nnz": int(A.nnz), "k": k,
                                     "threads": n_threads, "seconds": seconds,
                                     "ns_per_nnz_column": seconds / (A.nnz * k) * 1e9})
                        log(f"   {name} k={k} threads={n_threads}: {seconds * 1e3:.1f} ms")
                seconds = _median_time(lambda M: svd(M, SWEEP["svd_k"], tol=SWEEP["svd_tol"],
                                                     random_state=0), A, repeats)
                rows.append({"kind": "svd", "scale": scale, "nnz": int(A.nnz),
                             "k": SWEEP["svd_k"], "threads": n_threads, "seconds": seconds,
                             "ns_per_nnz_column": seconds / (A.nnz * SWEEP["svd_k"]) * 1e9})
                log(f"   svd k={SWEEP['svd_k']} tol={SWEEP['svd_tol']} threads={n_threads}: "
                    f"{seconds:.2f} s")
    return rows


def _median_time(function, argument, repeats, *, min_seconds=0.25, max_repeats=50):
    """Median of at least ``repeats`` timed runs, more (up to ``max_repeats``)
    until they add up to ``min_seconds``: products of a few milliseconds are
    at the mercy of thread wake-ups, and a median of three of them moved by
    up to 1.7x from one sweep to the next."""
    function(argument)  # warm-up: compile and page in
    times = []
    while len(times) < repeats or (sum(times) < min_seconds and len(times) < max_repeats):
        start = time.perf_counter()
        function(argument)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _run_workload(workload, contenders, repeats, cache_dir, log):
    log(f"== {workload.name}: {workload.description}, k={workload.k}")
    A = workload.build()
    k = workload.k
    s_ref = _reference(workload, A, cache_dir, log)
    frob_sq = float(np.sum(A.data.astype(np.float64) ** 2) if sp.issparse(A)
                    else np.sum(A.astype(np.float64) ** 2))
    record = {"name": workload.name, "description": workload.description, "k": k,
              "shape": list(A.shape), "dtype": str(A.dtype), "sparse": sp.issparse(A),
              "nnz": int(A.nnz) if sp.issparse(A) else int(A.size),
              "matrix_bytes": _nbytes(A), "tiers": list(workload.tiers),
              "reference_singular_values": s_ref[:k].tolist(), "runs": [], "skipped": []}
    measure = _Measure(A, k, s_ref, frob_sq)
    active = []
    for contender in contenders:
        reason = workload.excluded.get(contender.name) or _skip_reason(contender, A)
        if reason:
            log(f"   skip {contender.name}: {reason}")
            record["skipped"].append({"contender": contender.name, "reason": reason})
            continue
        _warm_up(contender, A, k)
        measure.prepare(contender)
        active.append(contender)
    for contender in active:
        record["runs"] += _walk_ladder(contender, measure, workload, log)
    winners = _winners(record["runs"], workload.tiers)
    _retime(winners, measure, contenders, repeats, log)
    record["summary"] = _summarize(winners, workload.tiers)
    return record


class _Measure:
    """Run one contender setting, timing it and scoring its accuracy."""

    def __init__(self, A, k, s_ref, frob_sq):
        self.A, self.k, self.s_ref, self.frob_sq = A, k, s_ref, frob_sq
        self.inputs = {}

    def prepare(self, contender):
        """The contender's input, built once and untimed (see ``Contender.prepare``)."""
        self.inputs[contender.name] = (self.A if contender.prepare is None
                                       else contender.prepare(self.A))

    def __call__(self, contender, setting, *, memory=False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if memory:
                tracemalloc.start()
                tracemalloc.reset_peak()
            start = time.perf_counter()
            U, s, Vt = contender.run(self.inputs[contender.name], self.k, setting, 0)
            elapsed = time.perf_counter() - start
            peak = None
            if memory:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
        return {"seconds": elapsed, "accuracy": accuracy(s, self.s_ref),
                "frobenius_excess": frobenius_excess(self.A, U, s, Vt, self.s_ref,
                                                     self.frob_sq),
                "peak_bytes": peak}


def _walk_ladder(contender, measure, workload, log):
    """Run settings from cheap to accurate until the tightest tier is reached,
    one run exceeds the workload's time budget, or the ladder has used three
    budgets in total."""
    runs, best, spent = [], np.inf, 0.0
    for setting in contender.settings:
        try:
            run = measure(contender, setting)
        except Exception as exc:  # a peer failing on this input is reported, not fatal
            log(f"   {contender.label(setting)}: failed ({type(exc).__name__}: {exc})")
            runs.append({"contender": contender.name, "library": contender.library,
                         "setting": setting, "error": f"{type(exc).__name__}: {exc}"})
            break
        run.update(contender=contender.name, library=contender.library,
                   products=contender.products, setting=setting,
                   setting_name=contender.setting_name, times=[run["seconds"]])
        runs.append(run)
        log(f"   {contender.label(setting)}: {run['seconds']:.3f} s, "
            f"accuracy {run['accuracy']:.1e}")
        best = min(best, run["accuracy"])
        spent += run["seconds"]
        if (best <= min(workload.tiers) or run["seconds"] > workload.time_budget
                or spent > 3 * workload.time_budget):
            break
    return runs


def _winners(runs, tiers):
    """For each tier and contender, the first run (cheapest setting) reaching it."""
    winners = {}
    for tier in tiers:
        for run in runs:
            if "error" in run or run["accuracy"] > tier:
                continue
            winners.setdefault(tier, {}).setdefault(run["contender"], run)
    return winners


def _retime(winners, measure, contenders, repeats, log):
    """Repeat each winning run, alternating contenders, then measure its memory.

    Runs longer than ``LONG_RUN`` seconds are not repeated: their timing
    noise is small next to their length, and repeating them would dominate
    the benchmark's own run time.
    """
    by_name = {c.name: c for c in contenders}
    unique = {id(run): run for per_tier in winners.values() for run in per_tier.values()}
    runs = list(unique.values())
    short = [run for run in runs if run["seconds"] <= LONG_RUN]
    if short and repeats > 1:
        log(f"   re-timing {len(short)} winning settings x {repeats - 1} more")
    for _ in range(repeats - 1):
        for run in short:
            again = measure(by_name[run["contender"]], run["setting"])
            run["times"].append(again["seconds"])
    for run in runs:
        run["seconds"] = float(np.median(run["times"]))
        run["peak_bytes"] = measure(by_name[run["contender"]], run["setting"],
                                    memory=True)["peak_bytes"]


def _summarize(winners, tiers):
    summary = []
    for tier in tiers:
        per = winners.get(tier, {})
        entry = {"tier": tier, "times": {name: run["seconds"] for name, run in per.items()},
                 "settings": {name: run["setting"] for name, run in per.items()}}
        ours = {n: t for n, t in entry["times"].items() if per[n]["library"] == "fastsvd"}
        peers = {n: t for n, t in entry["times"].items() if per[n]["library"] != "fastsvd"}
        if entry["times"]:
            entry["fastest"] = min(entry["times"], key=entry["times"].get)
        if ours:
            entry["fastsvd_best"] = min(ours, key=ours.get)
        if peers:
            entry["fastest_peer"] = min(peers, key=peers.get)
        if ours and peers:
            entry["speedup_vs_fastest_peer"] = peers[entry["fastest_peer"]] / ours[
                entry["fastsvd_best"]]
        summary.append(entry)
    return summary


def _reference(workload, A, cache_dir, log):
    """Exact top singular values: LAPACK for dense, svds(tol=0) in float64 for sparse."""
    key = hashlib.sha1(json.dumps([workload.name, workload.params, workload.k, A.shape,
                                   int(getattr(A, "nnz", A.size))]).encode()).hexdigest()[:16]
    path = cache_dir / f"reference-{workload.name}-{key}.npy"
    if path.exists():
        return np.load(path)
    log("   computing the reference singular values (cached for later runs)")
    start = time.perf_counter()
    if sp.issparse(A):
        s = svds(A.astype(np.float64), k=workload.k + 1, tol=0, random_state=0,
                 return_singular_vectors=False)
        s = np.sort(s)[::-1]
    else:
        s = np.linalg.svd(A.astype(np.float64), compute_uv=False)[: workload.k + 1]
    log(f"   reference done in {time.perf_counter() - start:.1f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, s)
    return s


def _skip_reason(contender, A):
    if not contender.available():
        return f"{contender.requires} is not installed (pip install {contender.install})"
    if contender.dense_only and sp.issparse(A):
        return "needs a dense matrix; densifying this one is not a fair comparison"
    if contender.sparse_only and not sp.issparse(A):
        return "runs sparse products only"
    return None


def _warm_up(contender, A, k):
    """Run once on a corner of the matrix so JIT compilation (or loading the
    cache) is not timed. The corner keeps the matrix's orientation (tall or
    wide), so the same kernels run in it."""
    size = max(4 * k, 200)
    m, n = A.shape
    small = A[:min(m, size), :min(n, size if m >= n else size + 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            prepared = small if contender.prepare is None else contender.prepare(small)
            contender.run(prepared, min(k, min(small.shape) - 1), contender.settings[0], 0)
        except Exception:  # the timed run reports failures
            pass


def _nbytes(A):
    if sp.issparse(A):
        return int(A.data.nbytes + A.indices.nbytes + A.indptr.nbytes)
    return int(A.nbytes)


def _thread_settings() -> dict:
    """The thread settings in force (to record with the results)."""
    info = {"fastsvd_threads": active_threads(), "blas": []}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["blas"] = "threadpoolctl not installed: BLAS threads not controlled"
        return info
    info["blas"] = [{"library": p.get("internal_api"), "version": p.get("version"),
                     "threads": p.get("num_threads")} for p in threadpool_info()
                    if p.get("user_api") == "blas"]
    return info


def machine_info() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    memory = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {"platform": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_bytes": memory, "python": sys.version.split()[0]}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("fastsvd", "numpy", "scipy", "numba", "scikit-learn", "scikit-surprise",
                 "cmfrec", "primme", "sparse-dot-mkl", "mkl", "fbpca"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _default_cache():
    return Path(os.environ.get("FASTSVD_CACHE", Path.home() / ".cache" / "fastsvd"))


def _stderr(message):
    print(message, file=sys.stderr, flush=True)
