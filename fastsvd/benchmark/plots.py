"""PNG plots of benchmark results (matplotlib, optional).

Per SVD workload: time against accuracy for every setting each contender ran,
each contender's time at every accuracy tier, and the reference spectrum.
For the scaling sweep: time per nonzero and column against nonzeros. For the
completion workloads: test RMSE and fit time per contender.
"""

from __future__ import annotations

import sys
from pathlib import Path


def write_plots(results, directory) -> list[Path]:
    """Write the plots into ``directory``; return their paths (none, with a
    note on stderr, when matplotlib is missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plots skipped: matplotlib is not installed (pip install fastsvd[bench])",
              file=sys.stderr)
        return []
    directory = Path(directory)
    figures = {}
    if "sweep" in results:
        figures["scaling.png"] = _scaling(plt, results["sweep"])
    for w in results.get("workloads", ()):
        figures[f"time-vs-accuracy-{w['name']}.png"] = _time_vs_accuracy(plt, w)
        figures[f"speed-ratios-{w['name']}.png"] = _tier_times(plt, w)
        figures[f"spectrum-{w['name']}.png"] = _spectrum(plt, w)
    for record in results.get("completion", ()):
        if record["runs"]:
            figures[f"completion-{record['name']}.png"] = _completion(plt, record)
    paths = []
    for name, fig in figures.items():
        fig.tight_layout()
        fig.savefig(directory / name, dpi=110)
        plt.close(fig)
        paths.append(directory / name)
    return paths


def _time_vs_accuracy(plt, w):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    by_contender = {}
    for run in w["runs"]:
        if "error" not in run:
            by_contender.setdefault(run["contender"], []).append(run)
    for name, runs in by_contender.items():
        runs = sorted(runs, key=lambda r: r["seconds"])
        ax.plot([max(r["accuracy"], 1e-16) for r in runs], [r["seconds"] for r in runs],
                marker="o", ms=3, label=name, lw=2.2 if "fastsvd" in name else 1.2)
    for tier in w["tiers"]:
        ax.axvline(tier, color="grey", ls=":", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="relative error of the top-k singular values",
           ylabel="wall time (s)", title=f"{w['name']}, k={w['k']}: time vs accuracy")
    ax.invert_xaxis()
    ax.legend(fontsize=7)
    return fig


def _tier_times(plt, w):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = sorted({n for e in w["summary"] for n in e["times"]})
    width = 0.8 / max(1, len(w["summary"]))
    for t, entry in enumerate(w["summary"]):
        ours = entry.get("fastsvd_best")
        base = entry["times"].get(ours)
        values = [entry["times"].get(n, 0.0) / base if base else 0.0 for n in names]
        ax.bar([i + t * width for i in range(len(names))], values, width,
               label=f"accuracy <= {entry['tier']:g}")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks([i + width * (len(w["summary"]) - 1) / 2 for i in range(len(names))])
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=7)
    ax.set(yscale="log", ylabel="time / fastsvd's best time at the tier",
           title=f"{w['name']}: time relative to fastsvd (higher = slower)")
    ax.legend(fontsize=7)
    return fig


def _spectrum(plt, w):
    fig, ax = plt.subplots(figsize=(6, 4))
    s = w["reference_singular_values"]
    ax.semilogy(range(1, len(s) + 1), s, marker=".")
    ax.set(xlabel="index i", ylabel="singular value s_i",
           title=f"{w['name']}: top {len(s)} singular values (reference)")
    return fig


def _scaling(plt, rows):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    keys = sorted({(r["kind"], r["k"], r["threads"]) for r in rows})
    for kind, k, threads in keys:
        sel = sorted((r for r in rows if (r["kind"], r["k"], r["threads"]) == (kind, k, threads)),
                     key=lambda r: r["nnz"])
        ax.plot([r["nnz"] for r in sel], [r["ns_per_nnz_column"] for r in sel], marker="o",
                ls="-" if threads > 1 else "--", label=f"{kind} k={k}, {threads} thr")
    ax.set(xscale="log", yscale="log", xlabel="nonzeros",
           ylabel="ns per nonzero and column", title="scaling: flat lines = linear in nnz x k")
    ax.legend(fontsize=6, ncol=2)
    return fig


def _completion(plt, record):
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    runs = sorted(record["runs"], key=lambda r: r["rmse"])
    names = [r["contender"] for r in runs]
    left.barh(names, [r["rmse"] for r in runs])
    if record.get("noise"):
        left.axvline(record["noise"], color="black", ls=":", label="planted noise")
        left.legend(fontsize=7)
    left.set(xlabel="mean test RMSE", title=record["name"])
    left.set_xlim(min(r["rmse"] for r in runs) * 0.95, max(r["rmse"] for r in runs) * 1.02)
    right.barh(names, [r["seconds"] for r in runs])
    right.set(xscale="log", xlabel="fit time (s, median over folds)")
    right.set_yticklabels([])
    return fig
