"""Re-time matched settings of the Netflix-shape workload in one process.

    python bench/same_run.py            # about 3 minutes, plus the matrix and its reference

``fastsvd bench --preset full`` walks every contender's ladder (about 40
minutes for this workload) to find, per accuracy tier, the first setting that
reaches it. This script times only those settings (defaults: the ones the
ladder found on this machine), alternating contenders so that machine noise
hits them alike, and prints each median, the accuracy reached and the ratio
per tier. The reference singular values come from the benchmark's cache.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fastsvd.benchmark.contenders import CONTENDERS, accuracy
from fastsvd.benchmark.runner import _default_cache, _reference, _set_threads, _warm_up
from fastsvd.benchmark.workloads import PRESETS

# (tier, ours, peer): settings as (contender name, setting).
TIERS = (
    (1e-2, ("fastsvd krylov", 1e-2), ("sklearn randomized_svd", 14)),
    (1e-4, ("fastsvd krylov", 3e-4), ("scipy svds arpack", 0.1)),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each fastsvd setting")
    parser.add_argument("--peer-runs", type=int, default=2, help="timed runs of each peer")
    args = parser.parse_args()
    workload = next(w for w in PRESETS["full"] if w.name == "netflix")
    print(f"threads: {_set_threads(None)}")
    A = workload.build()
    s_ref = _reference(workload, A, Path(_default_cache()), print)
    contenders = {c.name: c for c in CONTENDERS}
    settings = [setting for _, ours, peer in TIERS for setting in (ours, peer)]
    for name in dict(settings):
        _warm_up(contenders[name], A, workload.k)  # compile outside the timing
    times = {setting: [] for setting in settings}
    errors = {}
    for run in range(max(args.runs, args.peer_runs)):
        for name, value in settings:
            if run >= (args.runs if name.startswith("fastsvd") else args.peer_runs):
                continue
            start = time.perf_counter()
            _, s, _ = contenders[name].run(A, workload.k, value, 0)
            times[name, value].append(time.perf_counter() - start)
            errors[name, value] = accuracy(s, s_ref)
            print(f"   {name} [{value}]: {times[name, value][-1]:.2f} s, "
                  f"accuracy {errors[name, value]:.1e}", flush=True)
    for tier, ours, peer in TIERS:
        ours_s, peer_s = np.median(times[ours]), np.median(times[peer])
        print(f"<= {tier:g}: {ours[0]} [{ours[1]}] {ours_s:.2f} s ({errors[ours]:.1e}) vs "
              f"{peer[0]} [{peer[1]}] {peer_s:.2f} s ({errors[peer]:.1e}): "
              f"{peer_s / ours_s:.1f}x")


if __name__ == "__main__":
    main()
