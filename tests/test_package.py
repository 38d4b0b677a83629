"""Packaging promises: import is light, kernels are cached on disk, the CLI and
benchmark runner work end to end."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastsvd.benchmark import runner
from fastsvd.benchmark.contenders import accuracy, frobenius_excess
from fastsvd.benchmark.report import compare_results, format_table
from fastsvd.cli import main


def _python(code, **env):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, check=True, env={**os.environ, **env}).stdout


def test_import_compiles_nothing_and_skips_numba():
    out = _python("""
        import sys, fastsvd
        print('numba' in sys.modules, 'sklearn' in sys.modules)
    """)
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize(("k", "kernels"), [
    (3, "[products.csr_matmat]"),
    (30, "[products.tiled_products(32).matmat, products.tiled_products(32).rmatmat]"),
])
def test_second_process_loads_kernels_from_the_cache(tmp_path, k, kernels):
    """The generic and the tiled kernels (closures per tile width) compile
    once and load from the disk cache in the next process."""
    code = f"""
        import scipy.sparse as sp, fastsvd
        from fastsvd.kernels import products
        A = sp.random(300, 80, 0.1, format="csr", random_state=0)
        fastsvd.svd(A, {k}, method="krylov", random_state=0)
        kernels = {kernels}
        print(sum(sum(f.stats.cache_hits.values()) for f in kernels),
              sum(sum(f.stats.cache_misses.values()) for f in kernels))
    """
    n = str(kernels.count(",") + 1)
    first = _python(code, NUMBA_CACHE_DIR=str(tmp_path)).split()
    second = _python(code, NUMBA_CACHE_DIR=str(tmp_path)).split()
    assert first == ["0", n]  # compiled and written to the cache
    assert second == [n, "0"]  # loaded from it


def test_accuracy_and_frobenius_metrics():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 20))
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    assert accuracy(s[:3] * (1 + 1e-3), s) == pytest.approx(1e-3)
    frob = float(np.sum(A ** 2))
    assert abs(frobenius_excess(A, U[:, :3], s[:3], Vt[:3], s, frob)) < 1e-10
    worse = frobenius_excess(A, U[:, 1:4], s[1:4], Vt[1:4], s, frob)
    assert worse > 0.01


def test_runner_on_tiny_preset_writes_valid_json(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTSVD_CACHE", str(tmp_path / "cache"))
    assert main(["bench", "--preset", "tiny", "--repeats", "1", "-o", str(tmp_path),
                 "--contender", "fastsvd krylov", "--contender", "scipy svds arpack",
                 "--contender", "LAPACK gesdd"]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["threads"]["fastsvd_threads"] >= 1
    assert {w["name"] for w in results["workloads"]} == {"netflix-tiny", "dense-tiny"}
    sparse = next(w for w in results["workloads"] if w["sparse"])
    assert {s["contender"] for s in sparse["skipped"]} == {"LAPACK gesdd"}
    for workload in results["workloads"]:
        tiers = {entry["tier"]: entry for entry in workload["summary"]}
        assert tiers[1e-2]["fastsvd_best"] == "fastsvd krylov"
        for run in workload["runs"]:
            assert run["seconds"] > 0 and 0 <= run["accuracy"] < 10
    assert "Accuracy <= 0.01" in (tmp_path / "report.md").read_text()
    if importlib.util.find_spec("matplotlib"):
        for name in ("time-vs-accuracy", "speed-ratios", "spectrum"):
            assert (tmp_path / f"{name}-netflix-tiny.png").stat().st_size > 1000


def test_completion_runs_soft_impute_and_compares_results(tmp_path):
    results = runner.run_benchmark("tiny", contenders=["fastsvd SoftImpute"], repeats=1,
                                   log=lambda message: None)
    assert results["workloads"] == []
    (record,) = results["completion"]
    (run,) = record["runs"]
    # The planted noise (0.5) bounds the RMSE from below; even exact biases
    # leave the planted low-rank signal (std 0.6): sqrt(0.5^2 + 0.6^2) = 0.78.
    assert record["noise"] <= run["rmse"] < 0.75
    assert record["noise"] < record["oracle_rmse"] < run["rmse"]  # the floor for any method
    assert run["seconds_per_iteration"] > 0 and run["folds"][0]["iterations"] > 1
    report = format_table(results)
    assert "fastsvd SoftImpute" in report and "RMSE / noise" in report
    assert "RMSE / oracle" in report

    slower = json.loads(json.dumps(results))
    slower["completion"][0]["runs"][0]["seconds"] *= 2
    lines, regressions = compare_results(results, slower)
    assert regressions == 1 and "REGRESSION" in "\n".join(lines)
    assert compare_results(results, results)[1] == 0


def test_missing_peer_is_skipped_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTSVD_CACHE", str(tmp_path / "cache"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "sklearn"
                        else real_find_spec(name, *args))
    results = runner.run_benchmark("tiny", contenders=["sklearn randomized_svd",
                                                       "fastsvd krylov"], repeats=1,
                                   log=lambda message: None)
    skipped = results["workloads"][0]["skipped"]
    assert skipped == [{"contender": "sklearn randomized_svd",
                        "reason": "sklearn is not installed (pip install scikit-learn)"}]


def test_cli_rejects_bad_arguments(capsys):
    assert main(["bench", "--preset", "huge"]) == 2
    assert "unknown preset 'huge'" in capsys.readouterr().err
    assert main(["bench", "--preset", "tiny", "--contender", "nope"]) == 2
    assert "unknown contenders ['nope']" in capsys.readouterr().err


def test_compare_command_flags_regressions(tmp_path, capsys):
    base = {"workloads": [{"name": "w", "summary": [
        {"tier": 0.01, "times": {"fastsvd krylov": 1.0, "peer": 3.0}}]}], "completion": []}
    slower = json.loads(json.dumps(base))
    slower["workloads"][0]["summary"][0]["times"]["fastsvd krylov"] = 1.5
    del slower["workloads"][0]["summary"][0]["times"]["peer"]
    paths = []
    for name, data in (("old.json", base), ("new.json", slower)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(data))
    assert main(["compare", str(paths[0]), str(paths[0])]) == 0
    assert main(["compare", *map(str, paths)]) == 1
    out = capsys.readouterr().out
    assert "2 regression(s)" in out and "not reached" in out
    assert main(["compare", str(tmp_path / "missing.json"), str(paths[0])]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_submodules_and_lazy_names_are_attributes():
    import fastsvd

    assert callable(fastsvd.datasets.make_netflix_like)
    assert callable(fastsvd.ratings.rmse)
    assert fastsvd.Ratings is fastsvd.ratings.Ratings
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = fastsvd.nope
