"""Matrix-completion benchmark: fastsvd's soft-impute against scikit-surprise.

Every contender fits on the same training ratings and predicts the same
held-out ratings; the report gives the test RMSE, the fit time and, for
soft-impute, the time per iteration (median over the whole fit, lambda search
included). The synthetic workloads know their planted model: ``RMSE / noise``
compares a fit with the planted model itself, ``RMSE / oracle`` with the
Bayes-optimal predictor that knows the item side
(:func:`fastsvd.datasets.netflix_ratings_oracle`), the floor for any method.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


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
    name: str
    library: str
    fit_predict: Callable  # (train, test, seed) -> (predictions, details dict)
    requires: str | None = None
    install: str | None = None

    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


def _soft_impute(method):
    def fit_predict(train, test, seed):
        from ..impute import SoftImpute

        stamps = []
        model = SoftImpute(method=method, random_state=seed,
                           callback=lambda *_: stamps.append(time.perf_counter()))
        model.fit(train)
        predictions = model.predict(test.user_ids[test.users], test.item_ids[test.items])
        per_iteration = float(np.median(np.diff(stamps))) if len(stamps) > 1 else None
        return predictions, {"lam_fraction": model.lam_ / model.lambda0_,
                             "rank": int(model.d_.size), "iterations": len(stamps),
                             "seconds_per_iteration": per_iteration}
    return fit_predict


def _surprise(algorithm):
    def fit_predict(train, test, seed):
        import pandas as pd
        import surprise

        # Raw ids: the train and test Ratings may index users and items differently.
        frame = pd.DataFrame({"user": train.user_ids[train.users],
                              "item": train.item_ids[train.items],
                              "rating": train.values.astype(np.float64)})
        low, high = float(train.values.min()), float(train.values.max())
        data = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(low, high)))
        model = (surprise.SVD(random_state=seed) if algorithm == "SVD"
                 else surprise.BaselineOnly(verbose=False))
        model.fit(data.build_full_trainset())
        users, items = test.user_ids[test.users].tolist(), test.item_ids[test.items].tolist()
        predictions = np.array([model.predict(u, i).est
                                for u, i in zip(users, items, strict=True)])
        return predictions, {}
    return fit_predict


COMPLETION_CONTENDERS = (
    CompletionContender("fastsvd SoftImpute als", "fastsvd", _soft_impute("als")),
    CompletionContender("fastsvd SoftImpute svd", "fastsvd", _soft_impute("svd")),
    CompletionContender("surprise SVD", "scikit-surprise", _surprise("SVD"),
                        requires="surprise", install="scikit-surprise"),
    CompletionContender("surprise baseline", "scikit-surprise", _surprise("baseline"),
                        requires="surprise", install="scikit-surprise"),
)


def data_dir() -> Path:
    """Real-data folder: ``$FASTSVD_DATA``, else ``shared/data`` beside the
    source checkout (``../shared/data`` seen from the repository)."""
    if "FASTSVD_DATA" in os.environ:
        return Path(os.environ["FASTSVD_DATA"])
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def movielens_folds():
    """The five official MovieLens-100K folds u1..u5 (base -> train, test)."""
    from ..ratings import load_ratings

    folder = data_dir() / "movielens-100k"
    if not (folder / "u1.base").is_file():
        raise FileNotFoundError(f"MovieLens-100K not found in {folder} (set FASTSVD_DATA to "
                                "the folder holding movielens-100k/)")
    return [(load_ratings(folder / f"u{i}.base"), load_ratings(folder / f"u{i}.test"))
            for i in range(1, 6)]


def synthetic_folds(scale):
    def folds():
        from ..datasets import make_netflix_ratings

        ratings, _ = make_netflix_ratings(scale, random_state=0)
        return [ratings.split(0.1, random_state=0)]
    return folds


def synthetic_oracle(scale):
    def oracle(train, test):
        from ..datasets import netflix_ratings_oracle

        return netflix_ratings_oracle(train, test, scale, random_state=0)
    return oracle


def run_completion(workload, contenders=COMPLETION_CONTENDERS, *, seed=0, log=print) -> dict:
    """Fit every available contender on every fold; return a JSON-ready record."""
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
        reason = workload.excluded.get(contender.name)
        if reason is None and not contender.available():
            reason = f"{contender.requires} is not installed (pip install {contender.install})"
        if reason:
            log(f"   skip {contender.name}: {reason}")
            record["skipped"].append({"contender": contender.name, "reason": reason})
            continue
        folds_out = []
        for train, test in folds:
            start = time.perf_counter()
            predictions, details = contender.fit_predict(train, test, seed)
            seconds = time.perf_counter() - start
            folds_out.append({"seconds": seconds, "rmse": rmse(test.values, predictions),
                              **details})
        run = {"contender": contender.name, "library": contender.library, "folds": folds_out,
               "rmse": float(np.mean([f["rmse"] for f in folds_out])),
               "seconds": float(np.median([f["seconds"] for f in folds_out]))}
        per_iteration = [f["seconds_per_iteration"] for f in folds_out
                         if f.get("seconds_per_iteration")]
        run["seconds_per_iteration"] = float(np.median(per_iteration)) if per_iteration else None
        log(f"   {contender.name}: RMSE {run['rmse']:.4f}, fit {run['seconds']:.2f} s")
        record["runs"].append(run)
    return record


def format_completion(record) -> list[str]:
    """Terminal/Markdown lines: one row per contender, best RMSE first."""
    noise, oracle = record.get("noise"), record.get("oracle_rmse")
    header = "| contender | mean test RMSE |" + (" RMSE / noise |" if noise else "") + \
        (" RMSE / oracle |" if oracle else "") + \
        " fit time (median) | time per iteration | lambda / lambda0 |"
    lines = [header, "|---|---:|" + ("---:|" if noise else "") + ("---:|" if oracle else "")
             + "---:|---:|---:|"]
    for run in sorted(record["runs"], key=lambda r: r["rmse"]):
        fractions = [f["lam_fraction"] for f in run["folds"] if "lam_fraction" in f]
        per_it = run["seconds_per_iteration"]
        lines.append(
            f"| {run['contender']} | {run['rmse']:.4f} |"
            + (f" {run['rmse'] / noise:.3f} |" if noise else "")
            + (f" {run['rmse'] / oracle:.3f} |" if oracle else "")
            + f" {run['seconds']:.2f} s | " + (f"{per_it * 1e3:.1f} ms" if per_it else "-")
            + " | " + (", ".join(f"{v:.3g}" for v in fractions) if fractions else "-") + " |")
    return lines


COMPLETION_PRESETS = {
    "tiny": (CompletionWorkload("ratings-tiny", "synthetic Netflix-shaped ratings, 960 users "
                                "(~190k ratings), planted noise 0.5", synthetic_folds(0.002),
                                noise=0.5, oracle=synthetic_oracle(0.002)),),
    "quick": (
        CompletionWorkload("movielens-100k", "MovieLens-100K, official folds u1..u5",
                           movielens_folds),
        CompletionWorkload("ratings-1%", "synthetic Netflix-shaped ratings, 4,802 users "
                           "(~1M ratings), planted noise 0.5", synthetic_folds(0.01), noise=0.5,
                           oracle=synthetic_oracle(0.01)),
    ),
    "full": (
        CompletionWorkload("movielens-100k", "MovieLens-100K, official folds u1..u5",
                           movielens_folds),
        CompletionWorkload("ratings-10%", "synthetic Netflix-shaped ratings, 48,019 users "
                           "(~10M ratings), planted noise 0.5", synthetic_folds(0.1), noise=0.5,
                           oracle=synthetic_oracle(0.1),
                           excluded={"fastsvd SoftImpute svd": "same estimator as the als row "
                                     "with SVD steps; left out to bound the run time"}),
    ),
}
