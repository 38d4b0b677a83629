"""The classic applications: worked examples from the lecture, references from
numpy/scipy, real data when ../shared/data is present, and bad input."""

import numpy as np
import pytest
import scipy.sparse as sp

import fastsvd
from fastsvd.apps.lsa import tokenize

LECTURE_A = np.array([[3.0, 0.0], [4.0, 5.0]])


# ---- low-rank approximation ------------------------------------------------------------

def test_lecture_example_rank_one():
    approx = fastsvd.low_rank_approximation(LECTURE_A, 1)
    np.testing.assert_allclose(approx.s, [np.sqrt(45)])
    np.testing.assert_allclose(approx.matrix(), [[1.5, 1.5], [4.5, 4.5]])
    assert approx.optimal_frobenius_error == pytest.approx(np.sqrt(5))
    assert approx.spectral_error == pytest.approx(np.sqrt(5))
    assert approx.frobenius_error(LECTURE_A) == pytest.approx(np.sqrt(5))
    assert approx.storage == (2 + 2) * 1 + 1


@pytest.mark.parametrize("sparse", [False, True])
def test_errors_match_the_full_spectrum(sparse):
    rng = np.random.default_rng(0)
    D = rng.standard_normal((120, 80)) * (0.9 ** np.arange(80))
    s_all = np.linalg.svd(D, compute_uv=False)
    A = sp.csr_matrix(D) if sparse else D
    approx = fastsvd.low_rank_approximation(A, 10, tol=1e-10, random_state=0)
    optimal = np.sqrt(np.sum(s_all[10:] ** 2))
    assert approx.optimal_frobenius_error == pytest.approx(optimal, rel=1e-8)
    assert approx.frobenius_error(A) == pytest.approx(optimal, rel=1e-6)
    assert approx.spectral_error == pytest.approx(s_all[10], rel=1e-8)
    assert approx.relative_error == pytest.approx(optimal / np.linalg.norm(D), rel=1e-8)
    assert approx.compression_ratio == pytest.approx(120 * 80 / (200 * 10 + 10))


def test_choose_rank_energy_versus_sum():
    s = np.array([10.0, 5.0, 2.0, 1.0, 1.0])
    assert fastsvd.choose_rank(s, 0.9, criterion="energy") == 2  # (100 + 25) / 131 = 0.95
    assert fastsvd.choose_rank(s, 0.9, criterion="sum") == 4  # 18 / 19 = 0.947
    assert fastsvd.choose_rank(s, 1.0) == 5
    assert fastsvd.choose_rank(s[:2], 0.9, total=131.0) == 2
    with pytest.raises(ValueError, match="reach only"):
        fastsvd.choose_rank(s[:1], 0.9, total=131.0)
    with pytest.raises(ValueError, match="criterion='variance'"):
        fastsvd.choose_rank(s, 0.9, criterion="variance")
    with pytest.raises(ValueError, match="descending"):
        fastsvd.choose_rank(s[::-1], 0.9)
    with pytest.raises(ValueError, match=r"threshold=1\.5"):
        fastsvd.choose_rank(s, 1.5)


def test_rank_too_large():
    with pytest.raises(ValueError, match="k=3 is out of range"):
        fastsvd.low_rank_approximation(LECTURE_A, 3)


# ---- image compression ---------------------------------------------------------------

def _synthetic_image():
    """A smooth pattern, a disc and a fine texture: full rank, decaying spectrum."""
    y, x = np.mgrid[0:96, 0:128]
    texture = np.random.default_rng(0).uniform(-8, 8, size=x.shape)
    disc = (x - 64) ** 2 + (y - 48) ** 2 < 400
    return 127.5 + 60 * np.sin(x / 9.0) * np.cos(y / 13.0) + 40 * disc + texture


def test_compress_generated_image(tmp_path):
    pytest.importorskip("PIL")
    pytest.importorskip("matplotlib")
    result = fastsvd.compress_image(_synthetic_image(), [5, 20, 60], output_dir=tmp_path)
    errors = [r.relative_error for r in result.results]
    assert errors == sorted(errors, reverse=True)
    psnr = [r.psnr for r in result.results]
    assert psnr == sorted(psnr)
    assert result.results[0].compression_ratio == pytest.approx(96 * 128 / (5 * (96 + 128 + 1)))
    names = {p.name for p in result.files}
    assert {"rank-5.png", "rank-60.png", "singular-values.png", "reconstructions.png"} <= names
    assert "rank" in result.table()


def test_compress_camera_png(shared_data, tmp_path):
    pytest.importorskip("PIL")
    path = shared_data / "bundled-image-matrices" / "camera.png"
    result = fastsvd.compress_image(path, [50, 100, 400], output_dir=tmp_path, plots=False)
    assert result.original.shape == (512, 512)
    r50, r100, r400 = result.results
    assert r50.relative_error > r100.relative_error > r400.relative_error
    assert r50.compression_ratio == pytest.approx(512 * 512 / (50 * 1025))
    assert r400.psnr > 40 > r50.psnr > 20


def test_compress_colour_per_channel():
    rgb = np.stack([_synthetic_image(), _synthetic_image()[::-1], 255 - _synthetic_image()], -1)
    result = fastsvd.compress_image(rgb, 10, mode="channels")
    assert result.singular_values.shape[0] == 3
    assert result.results[0].image.shape == rgb.shape


def test_image_bad_input(tmp_path):
    pytest.importorskip("PIL")
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    with pytest.raises(ValueError, match="is not a readable image file"):
        fastsvd.compress_image(not_image, 5)
    with pytest.raises(ValueError, match="does not exist"):
        fastsvd.compress_image(tmp_path / "missing.png", 5)
    with pytest.raises(ValueError, match="rank=200 is out of range"):
        fastsvd.compress_image(_synthetic_image(), [5, 200])
    with pytest.raises(ValueError, match="ranks is empty"):
        fastsvd.compress_image(_synthetic_image(), [])


# ---- latent semantic analysis -------------------------------------------------------

LECTURE_DOCS = [
    "Romeo and Juliet.",
    "Juliet: O happy dagger!",
    "Romeo died by dagger.",
    "'Live free or die', that's the New-Hampshire's motto.",
    "Did you know, New-Hampshire is in New-England.",
]
LECTURE_VOCABULARY = ["romeo", "juliet", "happy", "dagger", "live", "die", "free",
                      "new-hampshire"]


def _lecture_lsa():
    return fastsvd.LSA(k=2, weighting="count", vocabulary=LECTURE_VOCABULARY, random_state=0,
                       lemmas={"died": "die", "dies": "die"}).fit(LECTURE_DOCS)


def test_lecture_lsa_example():
    lsa = _lecture_lsa()
    X = np.array([[1, 0, 1, 0, 0], [1, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 1, 1, 0, 0],
                  [0, 0, 0, 1, 0], [0, 0, 1, 1, 0], [0, 0, 0, 1, 0], [0, 0, 0, 1, 1]], float)
    np.testing.assert_allclose(lsa.singular_values_, np.linalg.svd(X, compute_uv=False)[:2])
    ranking = lsa.query("dies, dagger")
    order = [d for d, _ in ranking]
    assert order.index(0) < order.index(4)  # d1 above d5
    assert lsa.term_vectors_.shape == (8, 2) and lsa.doc_vectors_.shape == (5, 2)
    # terms are rows of U_k S_k, documents rows of V_k S_k: their product carries S_k twice
    np.testing.assert_allclose(lsa.term_vectors_ @ lsa.doc_vectors_.T,
                               (lsa.U_ * lsa.singular_values_**2) @ lsa.Vt_, atol=1e-12)


def test_lsa_fold_in_and_precomputed_matrix():
    lsa = _lecture_lsa()
    folded = lsa.transform(LECTURE_DOCS)
    np.testing.assert_allclose(folded, lsa.doc_vectors_, atol=1e-12)
    # A precomputed terms x documents matrix with distinct singular values
    # (a repeated one would make the rank-2 subspace, and the ranking, arbitrary).
    X = np.array([[3, 0, 1, 0], [1, 2, 0, 0], [0, 1, 2, 1], [0, 0, 1, 3]], float)
    other = fastsvd.LSA(k=2, weighting="count", random_state=0).fit(
        sp.csr_matrix(X), vocabulary=["a", "b", "c", "d"])
    U, s, Vt = np.linalg.svd(X)
    query = (U[0, :2] * s[:2] + U[1, :2] * s[:2]) / 2  # mean of the terms a and b
    docs = Vt[:2].T * s[:2]
    cosine = docs @ query / (np.linalg.norm(docs, axis=1) * np.linalg.norm(query))
    ranking = other.query(["a", "b"])
    assert [d for d, _ in ranking] == list(np.argsort(-cosine))
    np.testing.assert_allclose([score for _, score in ranking], np.sort(cosine)[::-1],
                               atol=1e-10)


def test_tokenizer():
    assert tokenize("'Live free or die', that's the New-Hampshire's motto.") == [
        "live", "free", "or", "die", "that", "the", "new-hampshire", "motto"]


def test_lsa_bad_input():
    lsa = _lecture_lsa()
    with pytest.raises(ValueError, match="no term in the vocabulary"):
        lsa.query("zebra unicorn")
    with pytest.raises(ValueError, match="corpus is empty"):
        fastsvd.LSA(k=1).fit([])
    with pytest.raises(ValueError, match="no terms to analyse"):
        fastsvd.LSA(k=1).fit(["", "!!"])
    with pytest.raises(TypeError, match="list of texts"):
        fastsvd.LSA(k=1).fit("one string")
    with pytest.raises(ValueError, match="k=9 is out of range"):
        fastsvd.LSA(k=9, weighting="count", vocabulary=LECTURE_VOCABULARY).fit(LECTURE_DOCS)


def test_lsa_on_20_newsgroups_helps_retrieval(shared_data):
    from fastsvd.apps.newsgroups import evaluate, load_newsgroups

    train = load_newsgroups(shared_data, "train")
    test = load_newsgroups(shared_data, "test")
    report = evaluate(train, test, ks=(200,), n_queries=500)
    assert report["terms"] > 0.5  # 20 classes: chance is 0.05
    assert report[200] > report["terms"] + 0.01


# ---- LoRA --------------------------------------------------------------------------------

def test_lora_factorize_is_optimal_and_balanced():
    rng = np.random.default_rng(0)
    delta = rng.standard_normal((64, 48)) @ np.diag(0.7 ** np.arange(48)) @ \
        np.linalg.qr(rng.standard_normal((48, 48)))[0]
    B, A = fastsvd.lora_factorize(delta, 6)
    assert B.shape == (64, 6) and A.shape == (6, 48)
    s = np.linalg.svd(delta, compute_uv=False)
    assert np.linalg.norm(delta - B @ A) == pytest.approx(np.sqrt(np.sum(s[6:] ** 2)), rel=1e-8)
    np.testing.assert_allclose(np.linalg.norm(B, axis=0), np.linalg.norm(A, axis=1))


def test_lora_parameter_count():
    count = fastsvd.lora_parameter_count(4096, 8, n_layers=32)
    assert count == {"lora": 2 * 32 * 4096 * 8, "full": 32 * 4096 ** 2,
                     "fraction": 2 * 8 / 4096}
    with pytest.raises(ValueError, match="r=0 is out of range"):
        fastsvd.lora_parameter_count(4096, 0)


def test_factorize_layer_reports_flops_and_output_error():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((100, 80)) * (0.8 ** np.arange(80))
    X = rng.standard_normal((80, 500))
    layer = fastsvd.factorize_layer(W, 10, X)
    assert layer.flops_full == 8000 and layer.flops_factored == 10 * 180
    assert layer.flops_saved == pytest.approx(1 - 1800 / 8000)
    assert layer.output_error == pytest.approx(
        np.linalg.norm(W @ X - layer.B @ (layer.A @ X)) / np.linalg.norm(W @ X))
    assert 0 < layer.weight_error < 0.2
    assert fastsvd.factorize_layer(W, 10, X.T).output_error == pytest.approx(layer.output_error)
    with pytest.raises(ValueError, match="d_in=80"):
        fastsvd.factorize_layer(W, 10, np.ones((7, 9)))


# ---- pseudo-inverse, least squares, ridge -------------------------------------------------

def _problems():
    rng = np.random.default_rng(2)
    well = rng.standard_normal((40, 10))
    ill = well @ np.diag(np.logspace(0, -10, 10))
    deficient = rng.standard_normal((40, 4)) @ rng.standard_normal((4, 10))
    return {"well": well, "ill": ill, "deficient": deficient, "wide": well.T}


@pytest.mark.parametrize("name", ["well", "ill", "deficient", "wide"])
def test_pinv_and_lstsq_match_numpy(name):
    A = _problems()[name]
    b = np.random.default_rng(3).standard_normal(A.shape[0])
    np.testing.assert_allclose(fastsvd.pinv(A), np.linalg.pinv(A, rcond=max(A.shape) *
                                                               np.finfo(float).eps),
                               atol=1e-8 * np.abs(np.linalg.pinv(A)).max())
    x = fastsvd.lstsq(A, b)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    np.testing.assert_allclose(A @ x, A @ x_ref, atol=1e-8)
    if name != "ill":
        np.testing.assert_allclose(x, x_ref, atol=1e-8)
    assert np.linalg.norm(x) <= np.linalg.norm(x_ref) * (1 + 1e-8)


def test_ridge_matches_normal_equations():
    A = _problems()["deficient"]
    B = np.random.default_rng(4).standard_normal((40, 3))
    lam = 0.5
    ref = np.linalg.solve(A.T @ A + lam * np.eye(10), A.T @ B)
    np.testing.assert_allclose(fastsvd.lstsq(A, B, lam=lam), ref, atol=1e-10)


def test_truncated_lstsq_on_sparse_input():
    rng = np.random.default_rng(5)
    D = rng.standard_normal((300, 60)) * (0.6 ** np.arange(60))
    b = rng.standard_normal(300)
    U, s, Vt = np.linalg.svd(D, full_matrices=False)
    ref = Vt[:8].T @ ((U[:, :8].T @ b) / s[:8])
    x = fastsvd.lstsq(sp.csr_matrix(D), b, k=8, random_state=0)
    np.testing.assert_allclose(x, ref, atol=1e-6 * np.linalg.norm(ref))
    with pytest.raises(ValueError, match="pass k"):
        fastsvd.lstsq(sp.csr_matrix(D), b)


def test_lstsq_bad_input():
    A = _problems()["well"]
    with pytest.raises(ValueError, match=r"b has shape \(7,\), but A has 40 rows"):
        fastsvd.lstsq(A, np.ones(7))
    with pytest.raises(ValueError, match="lam=-1"):
        fastsvd.lstsq(A, np.ones(40), lam=-1)
    with pytest.raises(ValueError, match="b contains NaN"):
        fastsvd.lstsq(A, np.full(40, np.nan))
