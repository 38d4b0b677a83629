"""Soft-impute on Netflix-shaped synthetic ratings: time, peak memory, test RMSE.

    python bench/netflix_completion.py --scale 1.0     # the full 480,189 x 17,770 size

Generates ``make_netflix_ratings(scale)``, holds out a random test part, drops
the unsplit ratings, fits ``SoftImpute`` with its defaults (``lam="auto"``,
rank 50) and reports the fit time, the process's peak memory during the fit
(Linux: the peak is reset once the data is ready) and the test RMSE against
the planted noise and against the Bayes oracle that knows the item side
(``--oracle``; about a minute at full size).
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import fastsvd
from fastsvd.datasets import make_netflix_ratings, netflix_ratings_oracle
from fastsvd.ratings import rmse

_STATUS = Path("/proc/self/status")


def _memory_gib(field: str) -> str:
    """``VmRSS`` or ``VmHWM`` of this process, in GiB ("n/a" off Linux)."""
    if _STATUS.exists():
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return f"{int(line.split()[1]) / 2**20:.2f}"
    return "n/a"


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--oracle", action="store_true", help="also score the Bayes oracle")
    args = parser.parse_args()

    start = time.perf_counter()
    ratings, info = make_netflix_ratings(args.scale, random_state=0)
    train, test = ratings.split(args.test_fraction, random_state=0)
    del ratings
    gc.collect()
    print(f"data: {len(train):,} training / {len(test):,} test ratings in "
          f"{time.perf_counter() - start:.1f} s; resident {_memory_gib('VmRSS')} GiB", flush=True)

    _reset_peak()
    iterations = []
    model = fastsvd.SoftImpute(random_state=0, callback=lambda *_: iterations.append(1))
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    peak = _memory_gib("VmHWM")
    error = rmse(test.values, model.predict(test.user_ids[test.users],
                                            test.item_ids[test.items]))
    print(f"fit: {seconds:.1f} s, {len(iterations)} iterations, lam = "
          f"{model.lam_ / model.lambda0_:.3g} lambda0, rank {model.d_.size}; process peak "
          f"during the fit {peak} GiB", flush=True)
    print(f"test RMSE {error:.4f} = {error / info['noise']:.4f} x the planted noise", flush=True)
    if args.oracle:
        floor = rmse(test.values, netflix_ratings_oracle(train, test, args.scale,
                                                         random_state=0))
        print(f"Bayes oracle (item side known) {floor:.4f} = {floor / info['noise']:.4f} x noise;"
              f" the fit is {error / floor:.4f} x the oracle", flush=True)


if __name__ == "__main__":
    main()
