"""Loading the Netflix-prize text files: write time, parse, cache, peak memory.

    python bench/netflix_files.py                  # full size: 17,770 files, ~100M ratings
    python bench/netflix_files.py --scale 0.05 --dir /tmp/nf --keep

Writes a folder in the Netflix-prize layout (``training_set/mv_0000001.txt``
... ``mv_0017770.txt``, each ``N:`` then ``user,rating,YYYY-MM-DD`` lines,
plus ``probe.txt`` and ``qualifying.txt``) from ``make_netflix_like(scale)``
under a temporary folder (or ``--dir``; never inside the repository), then
measures, each in a fresh process:

1. ``write``: generating the ratings and writing the text;
2. ``first parse``: ``load_ratings(folder, cache=False)``;
3. ``first cached load``: ``load_ratings(folder)`` with an empty cache (a
   parse plus writing the cache file);
4. ``cached load``: ``load_ratings(folder)`` again (read from the cache);
5. ``probe split``: ``load_netflix_prize(folder, probe=..., qualifying=...)``
   with the cache warm.

Times are wall-clock seconds of the call alone (imports excluded; numba's
kernels load from its disk cache, filled by an unmeasured warm-up process);
memory is the process's peak resident set size (``ru_maxrss``), imports
included. The text was just written, so it is read from the page cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

TARGETS = {"first parse": ("seconds", 90.0), "cached load": ("seconds", 5.0)}
MEMORY_TARGET_GIB = 3.0
FIRST_DAY = np.datetime64("1999-11-11")
N_DAYS = int((np.datetime64("2005-12-31") - FIRST_DAY).astype(np.int64)) + 1
MAX_USER_ID = 2_649_429  # Netflix-prize user ids run from 1 to 2,649,429 (480,189 used)
PROBE_SHARE = 1_408_395 / 100_480_507
QUALIFYING_SHARE = 2_817_131 / 100_480_507


# --------------------------------------------------------------------------- writing


def _digits(x: np.ndarray) -> np.ndarray:
    """Decimal digits of each non-negative integer (at least 1)."""
    n = np.ones(x.shape, dtype=np.int64)
    bound = 10
    while True:
        more = x >= bound
        if not more.any():
            return n
        n += more
        bound *= 10


def _put_numbers(out, starts, values, widths):
    """Write ``values`` in decimal at ``out[starts : starts + widths]``."""
    rest = values.astype(np.int64, copy=True)
    for k in range(int(widths.max())):
        live = widths > k
        out[starts[live] + widths[live] - 1 - k] = 48 + rest[live] % 10
        rest //= 10


def _date_table() -> np.ndarray:
    days = FIRST_DAY + np.arange(N_DAYS)
    return np.frombuffer("".join(str(d) for d in days).encode(), dtype=np.uint8).reshape(
        N_DAYS, 10)


def _text(movies, starts, users, ratings, days, dates):
    """The bytes of ``movie:`` lines each followed by its rating lines, and
    the byte offset where each movie's text ends."""
    counts = np.diff(starts)
    head = _digits(movies) + 2  # "N:\n"
    user_width = _digits(users)
    line = user_width + 14  # "u,r,YYYY-MM-DD\n"
    movie_of = np.repeat(np.arange(movies.size), counts)
    # A line follows every line before it and the heads of its movie and those before.
    at = np.cumsum(line) - line + np.cumsum(head)[movie_of]
    movie_bytes = head + np.bincount(movie_of, weights=line, minlength=movies.size).astype(
        np.int64)
    ends = np.cumsum(movie_bytes)
    head_at = ends - movie_bytes
    out = np.empty(int(ends[-1]), dtype=np.uint8)
    _put_numbers(out, head_at, movies, head - 2)
    out[head_at + head - 2] = 58  # ':'
    out[head_at + head - 1] = 10
    _put_numbers(out, at, users, user_width)
    at += user_width
    out[at] = 44
    out[at + 1] = 48 + ratings
    out[at + 2] = 44
    for c in range(10):
        out[at + 3 + c] = dates[days, c]
    out[at + 13] = 10
    return out, ends


def write_folder(folder: Path, scale: float, seed: int = 0) -> dict:
    """Write training_set/, probe.txt and qualifying.txt; return counts and times."""
    from fastsvd.datasets import make_netflix_like

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    A = make_netflix_like(scale, random_state=seed)
    n_users, n_items = A.shape
    # Raw user ids: a sorted random subset of 1..2,649,429 (the id space of the
    # prize data); lines list each movie's users in a random order.
    user_ids = np.sort(rng.choice(np.arange(1, max(MAX_USER_ID, n_users) + 1), n_users,
                                  replace=False))
    perm = rng.permutation(n_users)
    B = A[perm]  # row r of B is user perm[r]
    del A
    C = B.tocsc()
    del B
    C.sort_indices()
    users = user_ids[perm[C.indices]]  # raw user id of each rating, movie by movie
    ratings = np.rint(C.data).astype(np.uint8)
    indptr = C.indptr.astype(np.int64)
    del C
    nnz = users.size
    days = rng.integers(0, N_DAYS, size=nnz, dtype=np.int16)
    generate = time.perf_counter() - start

    start = time.perf_counter()
    training = folder / "training_set"
    training.mkdir(parents=True, exist_ok=True)
    dates = _date_table()
    n_bytes = n_files = 0
    per_chunk = 256
    for first in range(0, n_items, per_chunk):
        stop = min(n_items, first + per_chunk)
        a, b = indptr[first], indptr[stop]
        movies = np.arange(first + 1, stop + 1)
        text, ends = _text(movies, indptr[first:stop + 1] - a, users[a:b], ratings[a:b],
                           days[a:b], dates)
        begin = 0
        counts = np.diff(indptr[first:stop + 1]).tolist()
        for movie, end, count in zip(movies.tolist(), ends.tolist(), counts, strict=True):
            if count:  # below full scale a movie may have no rating: no file, as in the prize
                with open(training / f"mv_{movie:07d}.txt", "wb") as file:
                    file.write(text[begin:end])
                n_files += 1
            begin = end
        n_bytes += text.size
    training_seconds = time.perf_counter() - start

    # probe.txt: a random ~1.4% of the ratings, grouped by movie, "N:" then user ids.
    start = time.perf_counter()
    probe = np.flatnonzero(rng.random(nnz) < PROBE_SHARE)
    movie_of = np.searchsorted(indptr, probe, side="right") - 1
    _write_pairs(folder / "probe.txt", movie_of + 1, users[probe], None, dates)
    # qualifying.txt: pairs not in the training set, "N:" then "user,YYYY-MM-DD"
    # (random pairs, less those rated: found through fastsvd's pair hash table).
    from fastsvd.kernels import sorting

    n_q = round(QUALIFYING_SHARE * nnz)
    rated_movies = np.flatnonzero(np.diff(indptr))
    keys = np.unique(rng.choice(rated_movies, n_q) * (MAX_USER_ID + 1)
                     + user_ids[rng.integers(0, n_users, n_q)])
    q_items, q_users = np.divmod(keys, MAX_USER_ID + 1)
    size = 1 << int(2 * keys.size).bit_length()
    table, slots = np.full(size, -1, dtype=np.int64), np.empty(size, dtype=np.int64)
    sorting.pair_table(q_items, q_users, MAX_USER_ID + 1, table, slots)
    movie_of = np.repeat(np.arange(n_items, dtype=np.int32), np.diff(indptr))
    rated = np.zeros(users.size, dtype=np.bool_)
    found = np.full(keys.size, -1, dtype=np.int64)
    sorting.find_pairs(movie_of, users, MAX_USER_ID + 1, table, slots, found, rated)
    del movie_of, rated, table, slots
    keep = found < 0
    _write_pairs(folder / "qualifying.txt", q_items[keep] + 1, q_users[keep],
                 rng.integers(0, N_DAYS, int(keep.sum())), dates)
    n_q = int(keep.sum())
    pairs_seconds = time.perf_counter() - start
    return {"ratings": int(nnz), "users": int(n_users), "items": int(n_items),
            "bytes": int(n_bytes), "files": n_files, "probe": int(probe.size),
            "qualifying": n_q,
            "generate_s": generate, "write_s": training_seconds, "pairs_s": pairs_seconds}


def _write_pairs(path, movies, users, days, dates):
    """``movie:`` lines then one ``user`` (or ``user,date``) line per pair."""
    starts = np.flatnonzero(np.r_[True, movies[1:] != movies[:-1]])
    with open(path, "wb") as file:
        for a, b in zip(starts.tolist(), [*starts[1:].tolist(), movies.size], strict=True):
            lines = [f"{movies[a]}:"]
            if days is None:
                lines += [str(u) for u in users[a:b].tolist()]
            else:
                stamps = dates[days[a:b]].tobytes().decode()
                lines += [f"{u},{stamps[10 * t:10 * t + 10]}"
                          for t, u in enumerate(users[a:b].tolist())]
            file.write(("\n".join(lines) + "\n").encode())


# --------------------------------------------------------------------------- measuring


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def child(step: str, folder: Path, cache_dir: Path) -> dict:
    """Run one measured step in this (fresh) process."""
    if step == "write":
        record = write_folder(folder, float(os.environ["NETFLIX_FILES_SCALE"]))
        return {**record, "peak_gib": _peak_gib()}
    from fastsvd.ratings import load_netflix_prize, load_ratings

    base = _peak_gib()
    start = time.perf_counter()
    if step == "warm-up":
        tiny = cache_dir.parent / "warm-up"
        tiny.mkdir(exist_ok=True)
        (tiny / "mv_0000001.txt").write_text("1:\n1,3,2005-01-01\n2,4,2005-01-02\n")
        (tiny / "probe.txt").write_text("1:\n2\n")
        (tiny / "qualifying.txt").write_text("1:\n1,2005-01-03\n")
        load_netflix_prize(tiny, probe=tiny / "probe.txt",
                           qualifying=tiny / "qualifying.txt", cache=False)
        load_ratings(tiny, cache=True, cache_dir=cache_dir / "warm-up")
        ratings = None
    elif step == "first parse":
        ratings = load_ratings(folder / "training_set", cache=False)
    elif step in ("first cached load", "cached load"):
        ratings = load_ratings(folder / "training_set", cache_dir=cache_dir)
    elif step == "probe split":
        split = load_netflix_prize(folder / "training_set", probe=folder / "probe.txt",
                                   qualifying=folder / "qualifying.txt", cache_dir=cache_dir)
        ratings = split.train
        extra = {"train": len(split.train), "test": len(split.test),
                 "qualifying": len(split.qualifying)}
    else:
        raise ValueError(step)
    seconds = time.perf_counter() - start
    record = {"seconds": seconds, "peak_gib": _peak_gib(), "import_gib": base}
    if ratings is not None:
        record.update(ratings=len(ratings), shape=list(ratings.shape))
    if step == "probe split":
        record.update(extra)
    return record


def _run_child(step, folder, cache_dir, scale) -> dict:
    env = {**os.environ, "NETFLIX_FILES_SCALE": str(scale)}
    out = subprocess.run([sys.executable, __file__, "--child", step, "--dir", str(folder),
                          "--cache-dir", str(cache_dir)], env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="make_netflix_like scale (default 1.0: ~100M ratings)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="folder for the files (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the files afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the files already in --dir instead of writing them")
    parser.add_argument("--json", type=Path, default=None, help="also write the record here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(child(args.child, args.dir, args.cache_dir)))
        return

    repo = Path(__file__).resolve().parents[1]
    folder = (args.dir or Path(tempfile.mkdtemp(prefix="netflix-files-"))).resolve()
    if folder == repo or repo in folder.parents:
        parser.error(f"--dir {folder} is inside the repository; choose a folder outside it")
    cache_dir = folder / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    cache_dir.mkdir(parents=True)
    print(f"folder: {folder}  (scale {args.scale})", flush=True)
    results = {}
    try:
        if args.reuse and (folder / "training_set").is_dir():
            print("write              reused", flush=True)
        else:
            record = _run_child("write", folder, cache_dir, args.scale)
            results["write"] = record
            print(f"write              {record['generate_s']:6.1f} s generate + "
                  f"{record['write_s']:6.1f} s text ({record['bytes'] / 1e9:.2f} GB, "
                  f"{record['ratings']:,} ratings in {record['files']:,} files) + "
                  f"{record['pairs_s']:.1f} s probe/qualifying; peak "
                  f"{record['peak_gib']:.2f} GiB", flush=True)
        _run_child("warm-up", folder, cache_dir, args.scale)
        for step in ("first parse", "first cached load", "cached load", "probe split"):
            record = _run_child(step, folder, cache_dir, args.scale)
            results[step] = record
            target = TARGETS.get(step)
            verdict = ""
            if target:
                verdict = "  ok" if record["seconds"] <= target[1] else "  MISSED"
                verdict += f" (target {target[1]:g} s)"
            memory = "ok" if record["peak_gib"] <= MEMORY_TARGET_GIB else "MISSED"
            detail = (f", train {record['train']:,} / test {record['test']:,} / qualifying "
                      f"{record['qualifying']:,}" if step == "probe split" else "")
            print(f"{step:<18} {record['seconds']:6.2f} s{verdict}; peak "
                  f"{record['peak_gib']:.2f} GiB {memory} (imports "
                  f"{record['import_gib']:.2f}){detail}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "date": str(date.today()), "scale": args.scale}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
