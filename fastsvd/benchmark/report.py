"""Present benchmark results: terminal table, JSON file, Markdown report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .completion import format_completion


def _fmt_time(seconds):
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _fmt_bytes(n):
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _setting(run):
    return "-" if run["setting"] is None else f"{run['setting_name']}={run['setting']:g}"


def tier_rows(workload):
    """(tier, summary entry, [(contender, run)] sorted by time) for each tier."""
    runs = {}
    for run in workload["runs"]:
        if "error" not in run:
            runs.setdefault(run["contender"], []).append(run)
    for entry in workload["summary"]:
        rows = []
        for name in sorted(entry["times"], key=entry["times"].get):
            run = next(r for r in runs[name] if r["setting"] == entry["settings"][name])
            rows.append((name, run))
        yield entry["tier"], entry, rows


def headline(entry):
    if "fastest" not in entry:
        return "no contender reached this accuracy"
    text = f"fastest: {entry['fastest']}"
    if "speedup_vs_fastest_peer" in entry:
        ratio = entry["speedup_vs_fastest_peer"]
        relation = (f"{ratio:.1f}x faster than" if ratio >= 1
                    else f"{1 / ratio:.1f}x slower than")
        text += (f"; fastsvd ({entry['fastsvd_best']}) is {relation} the fastest peer "
                 f"({entry['fastest_peer']})")
    return text


def _workload_title(w):
    shape = " x ".join(f"{d:,}" for d in w["shape"])
    kind = f"sparse, {w['nnz']:,} nonzeros" if w["sparse"] else "dense"
    return f"{w['name']}: {shape} {w['dtype']} ({kind}), k={w['k']}"


def sweep_summary(rows):
    """Per (kind, k): time per nonzero-column across scales (flatness) and the
    speed-up of the most threads over one thread, at the largest scale."""
    out = []
    keys = sorted({(r["kind"], r["k"]) for r in rows}, key=lambda x: (x[0], x[1]))
    for kind, k in keys:
        sel = [r for r in rows if r["kind"] == kind and r["k"] == k]
        top = max(r["threads"] for r in sel)
        per_nnz = [r["ns_per_nnz_column"] for r in sel if r["threads"] == top]
        largest = max(r["scale"] for r in sel)
        at_largest = {r["threads"]: r["seconds"] for r in sel if r["scale"] == largest}
        out.append({"kind": kind, "k": k, "threads": top,
                    "flatness": max(per_nnz) / min(per_nnz),
                    "speedup": at_largest.get(1, np.nan) / at_largest[top],
                    "ns_per_nnz_column": per_nnz})
    return out


def format_sweep(results) -> str:
    rows = results["sweep"]
    scales = sorted({r["scale"] for r in rows})
    nnz = {r["scale"]: r["nnz"] for r in rows}
    lines = ["ns per nonzero and column (most threads), by nonzeros:",
             "  kind     k    " + "".join(f"{nnz[s] / 1e6:>9.1f}M" for s in scales)
             + "   max/min  threads speed-up (largest)"]
    for entry in sweep_summary(rows):
        lines.append(f"  {entry['kind']:8s} {entry['k']:<4d} "
                     + "".join(f"{v:>10.3f}" for v in entry["ns_per_nnz_column"])
                     + f"   {entry['flatness']:7.2f}  {entry['speedup']:.2f}x")
    return "\n".join(lines)


def format_table(results) -> str:
    if "sweep" in results:
        return format_sweep(results)
    lines = []
    for w in results["workloads"]:
        lines.append(_workload_title(w))
        for tier, entry, rows in tier_rows(w):
            lines.append(f"  accuracy <= {tier:g}: {headline(entry)}")
            for name, run in rows:
                lines.append(f"    {name:24s} {_setting(run):14s} {_fmt_time(run['seconds']):>10s}"
                             f"  acc {run['accuracy']:.1e}  mem {_fmt_bytes(run['peak_bytes'])}")
        for skip in w["skipped"]:
            lines.append(f"  skipped {skip['contender']}: {skip['reason']}")
        lines.append("")
    for record in results.get("completion", ()):
        lines.append(_completion_title(record))
        if record["runs"]:
            lines += ["  " + line for line in format_completion(record)]
        for skip in record["skipped"]:
            lines.append(f"  skipped {skip['contender']}: {skip['reason']}")
        lines.append("")
    return "\n".join(lines)


def _completion_title(record):
    size = (f": {record['n_users']:,} users x {record['n_items']:,} items, "
            f"{record['n_train']:,} training ratings" if "n_users" in record else "")
    return f"completion {record['name']} ({record['description']}){size}"


def _blas_threads(threads):
    if not isinstance(threads["blas"], list):
        return threads["blas"]
    return ", ".join(f"{b['library']} {b['threads']}" for b in threads["blas"])


def format_markdown(results, command="fastsvd bench") -> str:
    if "sweep" in results:
        m = results["machine"]
        return "\n".join(["# fastsvd scaling sweep", "", f"Command: `{command}`", "",
                          f"Machine: {m['cpu']}, {m['cores']} cores.", "", "```",
                          format_sweep(results), "```", ""])
    m, t = results["machine"], results["threads"]
    lines = [f"# fastsvd benchmark: preset `{results['preset']}`", "",
             f"Command: `{command}`", "", *summary_table(results), "",
             f"Machine: {m['cpu']}, {m['cores']} cores, "
             f"{_fmt_bytes(m['memory_bytes'])}; {m['platform']}; Python {m['python']}.", "",
             f"Threads: fastsvd {t['fastsvd_threads']}, BLAS {_blas_threads(t)}"
             f" (the same for every contender). Times are medians of {results['repeats']} runs,"
             " compile time excluded.", "",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items() if v),
             "",
             "Accuracy is the largest relative error of the top-k singular values against an "
             "exact reference (LAPACK for dense, scipy `svds(tol=0)` in float64 for sparse). A "
             "contender's time at an accuracy tier is its time with the first setting of its "
             "ladder (cheap to accurate) that reaches the tier. `frob` is "
             "||A - U S V^T||_F / optimum - 1 (Eckart-Young).", ""]
    for w in results["workloads"]:
        lines += [f"## {_workload_title(w)}", ""]
        for tier, entry, rows in tier_rows(w):
            lines += [f"**Accuracy <= {tier:g}** — {headline(entry)}.", "",
                      "| contender | setting | time | accuracy | frob | peak memory |",
                      "|---|---|---:|---:|---:|---:|"]
            for name, run in rows:
                lines.append(f"| {name} | {_setting(run)} | {_fmt_time(run['seconds'])} | "
                             f"{run['accuracy']:.1e} | {run['frobenius_excess']:.1e} | "
                             f"{_fmt_bytes(run['peak_bytes'])} |")
            lines.append("")
        if w["skipped"]:
            lines += ["Skipped: " + "; ".join(f"{s['contender']} ({s['reason']})"
                                              for s in w["skipped"]), ""]
        lines += [f"![time vs accuracy](time-vs-accuracy-{w['name']}.png) "
                  f"![speed ratios](speed-ratios-{w['name']}.png) "
                  f"![spectrum](spectrum-{w['name']}.png)", ""]
    if results.get("completion"):
        lines += ["## Matrix completion", "",
                  "Every contender is tuned on a validation part of each training set (never "
                  "on the test ratings): fastsvd's SoftImpute tunes itself inside `fit` "
                  "(`lam=\"auto\"`), the peers over their grids, and the best setting is "
                  "refitted on the whole training set. Mean test RMSE over the folds; fit "
                  "time is the median of repeated fits of the chosen setting after a warm-up "
                  "(compile time excluded; tuning fits not included); peak memory is the "
                  "growth of the resident set during the fit. Predictions are clipped to the "
                  "training range for every contender.", ""]
    for record in results.get("completion", ()):
        lines += [f"### {_completion_title(record)}", ""]
        if record["runs"]:
            lines += [*format_completion(record), ""]
        if record["skipped"]:
            lines += ["Skipped: " + "; ".join(f"{s['contender']} ({s['reason']})"
                                              for s in record["skipped"]), ""]
    return "\n".join(lines)


def summary_table(results) -> list[str]:
    """Per workload (and accuracy tier): fastsvd's best time and accuracy, the
    best peer's, and the ratio."""
    lines = ["## Summary", "",
             "| workload | fastsvd | time | accuracy | best peer | time | accuracy | "
             "speed-up |", "|---|---|---:|---:|---|---:|---:|---:|"]
    for w in results.get("workloads", ()):
        runs = {(r["contender"], r.get("setting")): r for r in w["runs"] if "error" not in r}
        for entry in w["summary"]:
            if "fastsvd_best" not in entry:
                continue
            ours = runs[(entry["fastsvd_best"], entry["settings"][entry["fastsvd_best"]])]
            row = (f"| {w['name']}, error <= {entry['tier']:g} | {ours['contender']} "
                   f"({_setting(ours)}) | {_fmt_time(ours['seconds'])} | "
                   f"{ours['accuracy']:.1e} |")
            peer_name = entry.get("fastest_peer")
            if peer_name is None:
                lines.append(row + " no peer reached it | | | |")
                continue
            peer = runs[(peer_name, entry["settings"][peer_name])]
            lines.append(row + f" {peer_name} ({_setting(peer)}) | {_fmt_time(peer['seconds'])}"
                         f" | {peer['accuracy']:.1e} | "
                         f"{entry['speedup_vs_fastest_peer']:.1f}x |")
    for record in results.get("completion", ()):
        summary = record.get("summary")
        if summary is None:
            continue
        runs = {r["contender"]: r for r in record["runs"]}
        ours, peer = runs[summary["fastsvd"]], runs[summary["best_peer"]]
        lines.append(f"| {record['name']} (RMSE) | {ours['contender']} | "
                     f"{_fmt_time(ours['seconds'])} | {ours['rmse']:.4f} | {peer['contender']} "
                     f"| {_fmt_time(peer['seconds'])} | {peer['rmse']:.4f} | "
                     f"{peer['seconds'] / ours['seconds']:.1f}x |")
    lines += ["", "Speed-up: the best peer's time over fastsvd's. SVD rows compare the "
              "fastest contender of each side that reaches the accuracy (largest relative "
              "error of the top-k singular values); completion rows compare the contender "
              "of each side with the lowest test RMSE."]
    return lines


def write_results(results, directory, command="fastsvd bench", *, plots=True) -> dict:
    """Write ``results.json``, ``report.md`` and (with matplotlib) the PNG
    plots; return their paths (``plots``: a list, empty without matplotlib)."""
    from .plots import write_plots

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"json": directory / "results.json", "markdown": directory / "report.md"}
    paths["json"].write_text(json.dumps(results, indent=1, default=float))
    paths["markdown"].write_text(format_markdown(results, command))
    paths["plots"] = write_plots(results, directory) if plots else []
    return paths


def compare_results(old, new, *, threshold=0.15) -> tuple[list[str], int]:
    """Compare two results dicts (e.g. before and after a change).

    Matches runs by workload, accuracy tier and contender (and completion
    runs by workload and contender). A time that grew by more than
    ``threshold`` (relative; timing noise on a busy 2-core machine is about
    10%), a tier a contender no longer reaches, or a test RMSE that grew by
    more than 0.2% is a regression. Returns ``(report lines, regressions)``.
    """
    lines, regressions = [], 0

    def check(label, before, after, worse):
        nonlocal regressions
        flag = "REGRESSION" if worse else ""
        regressions += bool(worse)
        lines.append(f"{label:70s} {before:>12s} -> {after:>12s} {flag}")

    old_tiers = {(w["name"], e["tier"]): e for w in old.get("workloads", ())
                 for e in w["summary"]}
    for w in new.get("workloads", ()):
        for entry in w["summary"]:
            before = old_tiers.get((w["name"], entry["tier"]))
            if before is None:
                continue
            for name in sorted(set(before["times"]) | set(entry["times"])):
                t0, t1 = before["times"].get(name), entry["times"].get(name)
                label = f"{w['name']} acc<={entry['tier']:g} {name}"
                if t0 is None:
                    check(label, "-", _fmt_time(t1), False)
                elif t1 is None:
                    check(label, _fmt_time(t0), "not reached", True)
                else:
                    check(label, _fmt_time(t0), _fmt_time(t1), t1 > t0 * (1 + threshold))
    old_runs = {(r["name"], run["contender"]): run for r in old.get("completion", ())
                for run in r["runs"]}
    for record in new.get("completion", ()):
        for run in record["runs"]:
            before = old_runs.get((record["name"], run["contender"]))
            if before is None:
                continue
            label = f"{record['name']} {run['contender']}"
            check(label + " RMSE", f"{before['rmse']:.4f}", f"{run['rmse']:.4f}",
                  run["rmse"] > before["rmse"] * 1.002)
            check(label + " fit", _fmt_time(before["seconds"]), _fmt_time(run["seconds"]),
                  run["seconds"] > before["seconds"] * (1 + threshold))
    if not lines:
        lines.append("nothing to compare: the two results share no workload")
    return lines, regressions
