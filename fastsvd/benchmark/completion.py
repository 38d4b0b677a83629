"""Matrix-completion benchmark: fastsvd's SoftImpute against the libraries a
user would otherwise pick (cmfrec's ALS, scikit-surprise's SVD and SVD++).

Every contender is tuned the same way and never on the test ratings: each
training set is split (a seeded 10% of its ratings held out), every setting of
the contender's grid is fitted on the rest and scored on the held-out part,
and the best setting is refitted on the whole training set. fastsvd's grid is
its default alone (``lam="auto"`` tunes itself, on its own validation part of
the training ratings, inside ``fit``). The final fit is warmed up on a slice of
the data first (compile time excluded), timed as the median of up to
``repeats`` runs (one run when it takes over a minute) and measured for its
peak resident memory. Predictions of every contender are clipped to the
training ratings' range. The synthetic workloads know their planted model:
``RMSE / oracle`` compares a fit with the Bayes-optimal predictor that knows
the item side (:func:`fastsvd.datasets.netflix_ratings_oracle`).
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._progress import progress
from .._threads import active_threads
from .memory import PeakMemory

#: A final fit shorter than this is timed several times (median).
REPEAT_BELOW = 60.0
VALIDATION_FRACTION = 0.1


@dataclass(frozen=True)
class CompletionWorkload:
    """Train/test folds of ratings: ``folds()`` returns ``[(train, test), ...]``
    or raises ``FileNotFoundError`` when its data is absent (then skipped)."""

    name: str
    description: str
    folds: Callable
    noise: float | None = None
    #: ``(train, test) -> predictions`` of the best possible predictor, if known
    oracle: Callable | None = None
    #: contender name -> why it does not run on this workload
    excluded: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CompletionContender:
    """``fit_predict(train, test, params, seed) -> (predictions, details)``;
    ``grid`` the settings tuned on validation (one entry: nothing to tune);
    ``max_ratings`` skips workloads with more training ratings."""

    name: str
    library: str
    fit_predict: Callable
    grid: tuple = ({},)
    requires: str | None = None
    install: str | None = None
    max_ratings: int | None = None

    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


# ------------------------------------------------------------------ contenders
def _soft_impute(train, test, params, seed):
    from ..impute import SoftImpute

    stamps = []
    model = SoftImpute(random_state=seed, callback=lambda *_: stamps.append(time.perf_counter()),
                       **params)
    model.fit(train)
    predictions = model.predict(test.user_ids[test.users], test.item_ids[test.items])
    per_iteration = float(np.median(np.diff(stamps))) if len(stamps) > 1 else None
    return predictions, {"lam_fraction": model.lam_ / model.lambda0_ if model.lambda0_ else 0.0,
                         "rank": int(model.d_.size), "iterations": len(stamps),
                         "seconds_per_iteration": per_iteration}


def _raw_ids(ratings):
    return ratings.user_ids[ratings.users], ratings.item_ids[ratings.items]


def _cmfrec(train, test, params, seed):
    import cmfrec
    import pandas as pd

    users, items = _raw_ids(train)
    frame = pd.DataFrame({"UserId": users, "ItemId": items,
                          "Rating": train.values.astype(np.float64)})
    settings = {"method": "als", "k": 50, "user_bias": True, "item_bias": True, "center": True,
                "niter": 15, "use_cg": True, "nthreads": active_threads(), "verbose": False,
                "random_state": seed, **params}
    model = cmfrec.CMF(**settings).fit(frame)
    test_users, test_items = _raw_ids(test)
    return model.predict(user=test_users, item=test_items), {"iterations": settings["niter"]}


def _surprise(algorithm):
    def fit_predict(train, test, params, seed):
        import pandas as pd
        import surprise

        users, items = _raw_ids(train)
        frame = pd.DataFrame({"user": users, "item": items,
                              "rating": train.values.astype(np.float64)})
        low, high = float(train.values.min()), float(train.values.max())
        data = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(low, high)))
        model = getattr(surprise, algorithm)(random_state=seed, **params)
        model.fit(data.build_full_trainset())
        test_users, test_items = _raw_ids(test)
        predictions = np.array([model.predict(u, i).est for u, i in
                                zip(test_users.tolist(), test_items.tolist(), strict=True)])
        return predictions, {"iterations": params.get("n_epochs", 20)}
    return fit_predict


def _grid(**axes):
    """Every combination of the axes' values, as dicts (first values first)."""
    grid = [{}]
    for name, values in axes.items():
        grid = [{**point, name: value} for point in grid for value in values]
    return tuple(grid)


#: cmfrec: ALS-WR (``scale_lam=True``: each user's and item's penalty scaled by
#: its number of ratings) and plain ridge, with and without implicit features.
CMFREC_GRID = (
    _grid(scale_lam=[True], lambda_=[0.02, 0.05, 0.1, 0.2], add_implicit_features=[False, True])
    + _grid(scale_lam=[False], lambda_=[5.0, 10.0, 20.0, 35.0], add_implicit_features=[False]))
SURPRISE_GRID = _grid(n_factors=[50, 100], reg_all=[0.02, 0.05, 0.1])

COMPLETION_CONTENDERS = (
    CompletionContender("fastsvd SoftImpute", "fastsvd", _soft_impute),
    CompletionContender("cmfrec CMF als", "cmfrec", _cmfrec, CMFREC_GRID, requires="cmfrec",
                        install="cmfrec"),
    CompletionContender("surprise SVD", "scikit-surprise", _surprise("SVD"), SURPRISE_GRID,
                        requires="surprise", install="scikit-surprise"),
    CompletionContender("surprise SVD++", "scikit-surprise", _surprise("SVDpp"),
                        _grid(n_factors=[20, 50], reg_all=[0.02, 0.05]), requires="surprise",
                        install="scikit-surprise", max_ratings=120_000),
)


# ------------------------------------------------------------------ data
def data_dir() -> Path:
    """Real-data folder: ``$FASTSVD_DATA``, else ``shared/data`` beside the
    source checkout (``../shared/data`` seen from the repository)."""
    if "FASTSVD_DATA" in os.environ:
        return Path(os.environ["FASTSVD_DATA"])
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def movielens_folds(folds=(1, 2, 3, 4, 5)):
    """The official MovieLens-100K folds (base -> train, test)."""
    def load():
        from ..ratings import load_ratings

        folder = data_dir() / "movielens-100k"
        if not (folder / "u1.base").is_file():
            raise FileNotFoundError(f"MovieLens-100K not found in {folder} (set FASTSVD_DATA to "
                                    "the folder holding movielens-100k/)")
        return [(load_ratings(folder / f"u{i}.base"), load_ratings(folder / f"u{i}.test"))
                for i in folds]
    return load


def synthetic_folds(scale, *, generator="planted", test_fraction=0.1):
    """One split of synthetic Netflix-shaped ratings: ``"planted"``
    (:func:`fastsvd.datasets.make_netflix_ratings`, real-valued with known
    noise) or ``"integer"`` (:func:`fastsvd.datasets.make_netflix_like`,
    ratings 1..5)."""
    def folds():
        from ..datasets import make_netflix_like, make_netflix_ratings
        from ..ratings import Ratings

        if generator == "planted":
            ratings, _ = make_netflix_ratings(scale, random_state=0)
        else:
            ratings = Ratings.from_sparse(make_netflix_like(scale, random_state=0))
        return [ratings.split(test_fraction, random_state=0)]
    return folds


def synthetic_oracle(scale):
    def oracle(train, test):
        from ..datasets import netflix_ratings_oracle

        return netflix_ratings_oracle(train, test, scale, random_state=0)
    return oracle


# ------------------------------------------------------------------ running
def run_completion(workload, contenders=COMPLETION_CONTENDERS, *, seed=0, repeats=3,
                   log=print) -> dict:
    """Tune, fit and score every available contender on every fold; return a
    JSON-ready record."""
    from ..ratings import rmse

    record = {"name": workload.name, "description": workload.description,
              "noise": workload.noise, "runs": [], "skipped": []}
    try:
        folds = workload.folds()
    except FileNotFoundError as exc:
        log(f"   skip workload {workload.name}: {exc}")
        record["skipped"].append({"contender": "all", "reason": str(exc)})
        return record
    train0 = folds[0][0]
    record.update(n_users=int(train0.shape[0]), n_items=int(train0.shape[1]),
                  n_train=len(train0), n_folds=len(folds))
    log(f"== {workload.name}: {workload.description}, {len(folds)} fold(s)")
    if workload.oracle is not None:
        record["oracle_rmse"] = float(np.mean([rmse(test.values, workload.oracle(train, test))
                                               for train, test in folds]))
        log(f"   oracle (planted item side known): RMSE {record['oracle_rmse']:.4f}")
    for contender in contenders:
        reason = _skip_reason(workload, contender, len(train0))
        if reason:
            log(f"   skip {contender.name}: {reason}")
            record["skipped"].append({"contender": contender.name, "reason": reason})
            continue
        _warm_up(contender, train0, seed)
        runs = [_run_fold(contender, train, test, seed, repeats, log) for train, test in folds]
        run = {"contender": contender.name, "library": contender.library, "folds": runs,
               "rmse": float(np.mean([f["rmse"] for f in runs])),
               "seconds": float(np.median([f["seconds"] for f in runs])),
               "peak_bytes": int(max(f["peak_bytes"] for f in runs))}
        per_iteration = [f["seconds_per_iteration"] for f in runs
                         if f.get("seconds_per_iteration")]
        run["seconds_per_iteration"] = float(np.median(per_iteration)) if per_iteration else None
        log(f"   {contender.name}: RMSE {run['rmse']:.4f}, fit {run['seconds']:.2f} s")
        record["runs"].append(run)
    _add_ratios(record)
    return record


def _skip_reason(workload, contender, n_train):
    reason = workload.excluded.get(contender.name)
    if reason is None and not contender.available():
        reason = f"{contender.requires} is not installed (pip install {contender.install})"
    if reason is None and contender.max_ratings is not None and n_train > contender.max_ratings:
        reason = (f"{n_train:,} training ratings is beyond its size here (at most "
                  f"{contender.max_ratings:,}: it would take too long)")
    return reason


def _run_fold(contender, train, test, seed, repeats, log):
    from ..ratings import rmse

    params, validation = _tune(contender, train, seed, log)
    low, high = float(train.values.min()), float(train.values.max())
    times, peak = [], 0
    bar = progress(total=repeats, desc=f"   {contender.name}", unit="fit")
    while len(times) < repeats and (not times or times[0] <= REPEAT_BELOW):
        with PeakMemory() as memory:
            start = time.perf_counter()
            predictions, details = contender.fit_predict(train, test, params, seed)
            times.append(time.perf_counter() - start)
        peak = max(peak, memory.peak)
        bar.update()
    bar.close()
    fold = {"seconds": float(np.median(times)), "times": times, "params": params,
            "validation": validation, "peak_bytes": int(peak),
            "rmse": rmse(test.values, np.clip(np.nan_to_num(predictions, nan=train.values.mean()),
                                              low, high)), **details}
    per_iteration = details.get("seconds_per_iteration")
    if per_iteration is None and details.get("iterations"):
        fold["seconds_per_iteration"] = fold["seconds"] / details["iterations"]
    return fold


def _tune(contender, train, seed, log):
    """The grid setting with the best RMSE on a held-out part of ``train``."""
    from ..ratings import rmse

    if len(contender.grid) == 1:
        return dict(contender.grid[0]), None
    part, held_out = train.split(VALIDATION_FRACTION, random_state=seed)
    low, high = float(part.values.min()), float(part.values.max())
    scores = []
    for params in contender.grid:
        predictions, _ = contender.fit_predict(part, held_out, params, seed)
        predictions = np.clip(np.nan_to_num(predictions, nan=part.values.mean()), low, high)
        scores.append(rmse(held_out.values, predictions))
    best = int(np.argmin(scores))
    log(f"   {contender.name}: chose {contender.grid[best]} on validation "
        f"(RMSE {scores[best]:.4f})")
    return dict(contender.grid[best]), [{"params": p, "rmse": s}
                                        for p, s in zip(contender.grid, scores, strict=True)]


def _warm_up(contender, train, seed):
    """Fit once on a slice of the training ratings (the first users with up to
    ~20k ratings), so compile time and imports are not timed."""
    cut = int(np.searchsorted(np.cumsum(np.bincount(train.users, minlength=train.n_users)),
                              20_000))
    small = train.subset(train.users <= max(cut, 1))
    try:
        contender.fit_predict(small, small, dict(contender.grid[0]), seed)
    except Exception:  # the timed run reports failures
        pass


def _add_ratios(record):
    """The best fastsvd run against the best peer (by RMSE), and their ratios."""
    ours = [r for r in record["runs"] if r["library"] == "fastsvd"]
    peers = [r for r in record["runs"] if r["library"] != "fastsvd"]
    if ours and peers:
        best, peer = min(ours, key=lambda r: r["rmse"]), min(peers, key=lambda r: r["rmse"])
        record["summary"] = {"fastsvd": best["contender"], "best_peer": peer["contender"],
                             "rmse_ratio": best["rmse"] / peer["rmse"],
                             "time_ratio": best["seconds"] / peer["seconds"]}


def format_completion(record) -> list[str]:
    """Terminal/Markdown lines: one row per contender, best RMSE first."""
    noise, oracle = record.get("noise"), record.get("oracle_rmse")
    header = ("| contender | mean test RMSE |" + (" RMSE / noise |" if noise else "")
              + (" RMSE / oracle |" if oracle else "")
              + " fit time | time per iteration | peak memory | chosen setting |")
    lines = [header, "|---|---:|" + ("---:|" if noise else "") + ("---:|" if oracle else "")
             + "---:|---:|---:|---|"]
    for run in sorted(record["runs"], key=lambda r: r["rmse"]):
        per_it = run["seconds_per_iteration"]
        lines.append(
            f"| {run['contender']} | {run['rmse']:.4f} |"
            + (f" {run['rmse'] / noise:.3f} |" if noise else "")
            + (f" {run['rmse'] / oracle:.3f} |" if oracle else "")
            + f" {run['seconds']:.2f} s | " + (f"{per_it * 1e3:.1f} ms" if per_it else "-")
            + f" | {run['peak_bytes'] / 2**20:.0f} MiB | {_chosen(run)} |")
    return lines


def _chosen(run):
    fold = run["folds"][0]
    if fold.get("lam_fraction") is not None:
        return f"lam = {fold['lam_fraction']:.3g} lambda0, rank {fold['rank']}"
    return ", ".join(f"{k}={v}" for k, v in fold["params"].items()) or "defaults"


COMPLETION_PRESETS = {
    "tiny": (CompletionWorkload("ratings-tiny", "synthetic Netflix-shaped ratings, 960 users "
                                "(~190k ratings), planted noise 0.5", synthetic_folds(0.002),
                                noise=0.5, oracle=synthetic_oracle(0.002)),),
    "quick": (
        CompletionWorkload("movielens-100k-u1", "MovieLens-100K, official fold u1",
                           movielens_folds((1,))),
        CompletionWorkload("ratings-1%", "synthetic Netflix-shaped ratings, 4,802 users "
                           "(~1M ratings), planted noise 0.5", synthetic_folds(0.01), noise=0.5,
                           oracle=synthetic_oracle(0.01)),
    ),
    "full": (
        CompletionWorkload("movielens-100k", "MovieLens-100K, official folds u1..u5",
                           movielens_folds()),
        CompletionWorkload("ratings-10%", "synthetic Netflix-shaped ratings, 48,019 users "
                           "(~10M ratings), planted noise 0.5", synthetic_folds(0.1), noise=0.5,
                           oracle=synthetic_oracle(0.1)),
        CompletionWorkload("integer-ratings-10%", "Netflix-shaped integer ratings 1..5, "
                           "48,019 users (~10M ratings)",
                           synthetic_folds(0.1, generator="integer")),
    ),
}
