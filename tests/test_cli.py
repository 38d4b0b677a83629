"""The ``fastsvd`` command line: complete, compress and lsa (bench has its own tests)."""

import csv
import re

import numpy as np
import pytest

from fastsvd import SoftImpute
from fastsvd.cli import RATING_FORMATS, main


@pytest.fixture(autouse=True)
def ratings_cache(tmp_path, monkeypatch):
    """Keep load_ratings' cache inside the test's folder."""
    monkeypatch.setenv("FASTSVD_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def udata(tmp_path):
    """~3000 ratings of a planted rank-2 model in MovieLens u.data format."""
    rng = np.random.default_rng(0)
    n_users, n_items, count = 150, 100, 3000
    U, V = rng.standard_normal((n_users, 2)), rng.standard_normal((n_items, 2))
    cells = rng.choice(n_users * n_items, size=count, replace=False)
    users, items = np.divmod(cells, n_items)
    truth = 3 + np.einsum("ij,ij->i", U[users], V[items])
    ratings = np.clip(np.round(truth + 0.3 * rng.standard_normal(count)), 1, 5).astype(int)
    path = tmp_path / "u.data"
    lines = (f"{u + 1}\t{i + 1}\t{r}\t{880000000 + t}\n"
             for t, (u, i, r) in enumerate(zip(users, items, ratings, strict=True)))
    path.write_text("".join(lines))
    return path, ratings


def _value(label, text):
    match = re.search(rf"^{label}\s+([0-9.]+)", text, flags=re.MULTILINE)
    assert match, f"no {label!r} line in:\n{text}"
    return float(match.group(1))


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("bench", "complete", "compress", "lsa"):
        assert command in out


def test_rating_formats_match_the_loader():
    from fastsvd.ratings import FORMATS

    assert RATING_FORMATS == FORMATS


def test_complete_beats_the_global_mean_and_writes_model_and_predictions(udata, tmp_path,
                                                                         capsys):
    path, ratings = udata
    predictions, model_file = tmp_path / "predictions.csv", tmp_path / "model.npz"
    code = main(["complete", str(path), "--rank", "5", "--test-fraction", "0.2", "--seed", "0",
                 "--predictions", str(predictions), "--model", str(model_file)])
    out = capsys.readouterr().out
    assert code == 0
    assert "RMSE" in out
    assert "150 users x 100 items" in out and "3000" in out
    test_rmse = _value("test RMSE", out)
    assert _value("train RMSE", out) < test_rmse

    with open(predictions, newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == round(0.2 * len(ratings))
    assert list(rows[0]) == ["user", "item", "rating", "prediction"]
    observed = np.array([float(row["rating"]) for row in rows])
    predicted = np.array([float(row["prediction"]) for row in rows])
    assert np.sqrt(np.mean((observed - predicted) ** 2)) == pytest.approx(test_rmse, abs=1e-3)
    global_mean = np.sqrt(np.mean((observed - ratings.mean()) ** 2))
    assert test_rmse < 0.8 * global_mean

    model = SoftImpute.load(model_file)
    row = rows[0]
    assert model.predict([int(row["user"])], [int(row["item"])])[0] == pytest.approx(
        float(row["prediction"]), rel=1e-5)


def test_complete_without_a_test_part(udata, tmp_path, capsys):
    path, _ = udata
    code = main(["complete", str(path), "--rank", "2", "--lam", "5", "--test-fraction", "0",
                 "--model", str(tmp_path / "model")])
    out = capsys.readouterr().out
    assert code == 0
    assert "train RMSE" in out and "test RMSE" not in out
    assert re.search(r"^lambda\s+5 \(", out, flags=re.MULTILINE)
    # the model is written at exactly the given path (no ".npz" appended)
    assert re.search(r"^model\s+.*model$", out, flags=re.MULTILINE)
    assert SoftImpute.load(tmp_path / "model").d_.size <= 2


@pytest.mark.parametrize(("extra", "problem"), [
    (["--rank", "0"], "--rank must be >= 1"),
    (["--rank", "101"], "rank=101 is out of range"),
    (["--test-fraction", "1"], "--test-fraction"),
    (["--format", "bogus"], "format='bogus'"),
    (["--test-fraction", "0", "--predictions", "x.csv"], "--predictions"),
])
def test_complete_rejects_bad_options(udata, capsys, extra, problem):
    path, _ = udata
    assert main(["complete", str(path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastsvd complete: ") and problem in err
    assert "Traceback" not in err


def test_complete_reports_a_missing_file(tmp_path, capsys):
    missing = tmp_path / "missing.data"
    assert main(["complete", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastsvd complete: ") and "no such" in err and str(missing) in err
    assert "Traceback" not in err


def test_compress_writes_one_image_per_rank(tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    pixels = np.add.outer(np.linspace(0, 200, 48), np.linspace(0, 50, 64))
    pixels += rng.integers(0, 30, pixels.shape)
    image = tmp_path / "picture.png"
    Image.fromarray(pixels.astype(np.uint8)).save(image)
    out_dir = tmp_path / "out"
    assert main(["compress", str(image), "--rank", "10", "--rank", "5", "-o", str(out_dir),
                 "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "64 x 48" in out and "PSNR" in out
    assert sorted(p.name for p in out_dir.glob("rank-*.png")) == ["rank-10.png", "rank-5.png"]
    assert str(out_dir / "rank-5.png") in out
    with Image.open(out_dir / "rank-5.png") as written:
        assert written.size == (64, 48)


def test_compress_rejects_a_file_that_is_no_image(tmp_path, capsys):
    pytest.importorskip("PIL")
    fake = tmp_path / "fake.png"
    fake.write_text("not an image\n")
    assert main(["compress", str(fake), "--rank", "2", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastsvd compress: ") and "not a readable image" in err


LECTURE = ["Romeo and Juliet.", "Juliet: O happy dagger!", "Romeo died by dagger.",
           "'Live free or die', that's the New-Hampshire's motto.",
           "Did you know, New-Hampshire is in New-England."]


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for n, text in enumerate(LECTURE, 1):
        (folder / f"d{n}.txt").write_text(text + "\n")
    return folder


def test_lsa_ranks_the_documents_of_a_folder(corpus, capsys):
    assert main(["lsa", str(corpus), "--k", "2", "--weighting", "count", "--query",
                 "dagger", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^corpus\s+5 documents", out, flags=re.MULTILINE)
    assert "vocabulary" in out and "singular values" in out
    ranked = re.findall(r"^\s+(d\d\.txt)\s+(-?[0-9.]+)\s+(.*)$", out, flags=re.MULTILINE)
    assert len(ranked) == 3
    scores = [float(score) for _, score, _ in ranked]
    assert scores == sorted(scores, reverse=True)
    name, _, snippet = ranked[0]
    assert snippet == LECTURE[int(name[1]) - 1][:60]


def test_lsa_reads_one_document_per_line(tmp_path, capsys):
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join([LECTURE[0], "", *LECTURE[1:]]) + "\n")
    assert main(["lsa", str(lines), "--k", "2", "--query", "new-hampshire"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^corpus\s+5 documents", out, flags=re.MULTILINE)
    # the blank second line is skipped but keeps the numbering of the file
    assert re.search(r"^\s+line [56]\s", out, flags=re.MULTILINE)


def test_lsa_rejects_an_unknown_query_and_an_empty_folder(corpus, tmp_path, capsys):
    assert main(["lsa", str(corpus), "--k", "2", "--query", "zebra"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastsvd lsa: ") and "'zebra'" in err and "vocabulary" in err

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["lsa", str(empty), "--k", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastsvd lsa: ") and "no .txt files" in err


@pytest.fixture
def netflix_prize(tmp_path):
    """~3000 ratings of a planted rank-2 model as Netflix-prize files:
    training_set/mv_*.txt and a probe.txt of 300 of their pairs."""
    rng = np.random.default_rng(1)
    n_users, n_items, count = 150, 100, 3000
    U, V = rng.standard_normal((n_users, 2)), rng.standard_normal((n_items, 2))
    cells = rng.choice(n_users * n_items, size=count, replace=False)
    users, items = np.divmod(cells, n_items)
    truth = 3 + np.einsum("ij,ij->i", U[users], V[items])
    ratings = np.clip(np.round(truth + 0.3 * rng.standard_normal(count)), 1, 5).astype(int)
    folder = tmp_path / "training_set"
    folder.mkdir()
    for movie in range(n_items):
        rows = np.flatnonzero(items == movie)
        lines = [f"{movie + 1}:"] + [f"{10 * users[t] + 7},{ratings[t]},2005-01-01"
                                     for t in rows]
        (folder / f"mv_{movie + 1:07d}.txt").write_text("\n".join(lines) + "\n")
    probe = np.sort(rng.choice(count, 300, replace=False))
    probe = probe[np.argsort(items[probe], kind="stable")]
    lines = []
    for movie in np.unique(items[probe]):
        lines += [f"{movie + 1}:"] + [str(10 * users[t] + 7) for t in probe
                                      if items[t] == movie]
    (tmp_path / "probe.txt").write_text("\n".join(lines) + "\n")
    return folder, tmp_path / "probe.txt", ratings[probe]


def test_complete_with_a_netflix_probe(netflix_prize, tmp_path, capsys):
    folder, probe, probe_ratings = netflix_prize
    predictions = tmp_path / "probe-predictions.csv"
    assert main(["complete", str(folder), "--probe", str(probe), "--rank", "5",
                 "--predictions", str(predictions)]) == 0
    out = capsys.readouterr().out
    assert "3000 (150 users x 100 items, netflix)" in out
    assert re.search(r"^split\s+2700 train / 300 probe \(.*probe\.txt\)$", out,
                     flags=re.MULTILINE)
    probe_rmse = _value("probe RMSE", out)
    assert "test RMSE" not in out
    with open(predictions, newline="") as file:
        rows = list(csv.DictReader(file))
    observed = np.array([float(row["rating"]) for row in rows])
    np.testing.assert_array_equal(observed, probe_ratings)  # in the order of probe.txt
    predicted = np.array([float(row["prediction"]) for row in rows])
    assert np.sqrt(np.mean((observed - predicted) ** 2)) == pytest.approx(probe_rmse, abs=1e-3)
    assert probe_rmse < 0.8 * np.sqrt(np.mean((observed - observed.mean()) ** 2))


@pytest.mark.parametrize(("extra", "problem"), [
    (["--test-fraction", "0.1"], "it replaces --test-fraction"),
    (["--split", "user"], "it replaces --split"),
    (["--format", "movielens-100k"], "--probe reads a Netflix-prize training set"),
])
def test_complete_probe_rejects_conflicting_options(netflix_prize, capsys, extra, problem):
    folder, probe, _ = netflix_prize
    assert main(["complete", str(folder), "--probe", str(probe), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastsvd complete: ") and problem in err


def test_complete_probe_reports_a_pair_not_in_the_training_set(netflix_prize, tmp_path,
                                                               capsys):
    folder, _, _ = netflix_prize
    bad = tmp_path / "bad-probe.txt"
    bad.write_text("1:\n999999\n")
    assert main(["complete", str(folder), "--probe", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastsvd complete: ") and "bad-probe.txt, line 2" in err
    assert "Traceback" not in err
    assert main(["complete", str(folder), "--probe", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err
