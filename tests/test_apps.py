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
    # The lecture's numbers are those of the raw counts: norm=None (the default is now "l2").
    return fastsvd.LSA(k=2, weighting="count", norm=None, vocabulary=LECTURE_VOCABULARY,
                       random_state=0, lemmas={"died": "die", "dies": "die"}).fit(LECTURE_DOCS)


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


@pytest.mark.parametrize("norm", ["l2", None])
def test_lsa_fold_in_and_precomputed_matrix(norm):
    lsa = fastsvd.LSA(k=2, weighting="count", norm=norm, vocabulary=LECTURE_VOCABULARY,
                      random_state=0, lemmas={"died": "die", "dies": "die"}).fit(LECTURE_DOCS)
    folded = lsa.transform(LECTURE_DOCS)
    np.testing.assert_allclose(folded, lsa.doc_vectors_, atol=1e-12)
    # A precomputed terms x documents matrix with distinct singular values
    # (a repeated one would make the rank-2 subspace, and the ranking, arbitrary).
    X = np.array([[3, 0, 1, 0], [1, 2, 0, 0], [0, 1, 2, 1], [0, 0, 1, 3]], float)
    other = fastsvd.LSA(k=2, weighting="count", norm=norm, random_state=0).fit(
        sp.csr_matrix(X), vocabulary=["a", "b", "c", "d"])
    if norm == "l2":  # each document (column) scaled to unit length
        X = X / np.linalg.norm(X, axis=0)
    U, s, Vt = np.linalg.svd(X)
    assert s[1] - s[2] > 0.1  # the rank-2 subspace is well defined
    np.testing.assert_allclose(other.singular_values_, s[:2], rtol=1e-10)
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


# The nine Deerwester et al. (1990) titles, plus an empty document: lengths from 0 to 8
# terms, "system" twice in c4.
DEERWESTER = [
    "Human machine interface for lab abc computer applications",
    "A survey of user opinion of computer system response time",
    "The EPS user interface management system",
    "System and human system engineering testing of EPS",
    "Relation of user perceived response time to error measurement",
    "The generation of random, binary, ordered trees",
    "The intersection graph of paths in trees",
    "Graph minors IV: Widths of trees and well-quasi-ordering",
    "Graph minors: A survey",
    "",
]


def _sklearn_counts(texts, **kwargs):
    """Documents x terms counts by scikit-learn with LSA's tokenizer, and the terms."""
    feature_extraction = pytest.importorskip("sklearn.feature_extraction.text")
    vectorizer = feature_extraction.CountVectorizer(tokenizer=tokenize, token_pattern=None,
                                                    lowercase=False, **kwargs)
    counts = vectorizer.fit_transform(texts)
    return counts, list(vectorizer.get_feature_names_out())


def _reference_weights(C, weighting, norm):
    """The documents x terms matrix LSA should decompose, in plain numpy."""
    C = np.asarray(C, dtype=float)
    n_docs = C.shape[0]
    df = (C > 0).sum(axis=0)
    tf = np.log1p(C) if weighting == "log-tfidf" else C
    W = tf * np.log(n_docs / df) if weighting != "count" else tf
    if norm == "l2":
        lengths = np.linalg.norm(W, axis=1, keepdims=True)
        W = np.divide(W, lengths, out=np.zeros_like(W), where=lengths > 0)
    return W


def test_lsa_l2_norm_matches_scikit_learn():
    text = pytest.importorskip("sklearn.feature_extraction.text")
    counts, terms = _sklearn_counts(DEERWESTER)
    for norm in ("l2", None):
        # tf without idf is where the conventions of LSA and TfidfVectorizer coincide
        reference = text.TfidfVectorizer(tokenizer=tokenize, token_pattern=None,
                                         lowercase=False, use_idf=False,
                                         norm=norm).fit_transform(DEERWESTER).toarray()
        lsa = fastsvd.LSA(k=9, weighting="count", norm=norm, random_state=0).fit(DEERWESTER)
        assert lsa.vocabulary_ == terms
        np.testing.assert_allclose(lsa.weigh(counts.T).T.toarray(), reference, atol=1e-14)
        # k = rank: V_k S_k U_k^T rebuilds the documents x terms matrix that was decomposed
        np.testing.assert_allclose(lsa.doc_vectors_ @ lsa.U_.T, reference, atol=1e-10)
        np.testing.assert_allclose(lsa.singular_values_,
                                   np.linalg.svd(reference, compute_uv=False)[:9], rtol=1e-10)
    lengths = np.linalg.norm(fastsvd.LSA(k=2, weighting="count").fit(DEERWESTER)
                             .weigh(counts.T).toarray(), axis=0)
    np.testing.assert_allclose(lengths, [1.0] * 9 + [0.0])  # the empty document stays zero


@pytest.mark.parametrize("weighting", ["log-tfidf", "tfidf", "count"])
@pytest.mark.parametrize("norm", ["l2", None])
def test_lsa_weighting_and_norm_match_numpy(weighting, norm):
    counts, _ = _sklearn_counts(DEERWESTER)
    reference = _reference_weights(counts.toarray(), weighting, norm)
    lsa = fastsvd.LSA(k=9, weighting=weighting, norm=norm, random_state=0).fit(DEERWESTER)
    np.testing.assert_allclose(lsa.weigh(counts.T).T.toarray(), reference, atol=1e-14)
    np.testing.assert_allclose(lsa.doc_vectors_ @ lsa.U_.T, reference, atol=1e-10)
    # queries fold in with the same convention: transform of the corpus is doc_vectors_
    np.testing.assert_allclose(lsa.transform(DEERWESTER), lsa.doc_vectors_, atol=1e-12)
    new = ["user interface of a human computer system system", "trees"]
    new_counts, _ = _sklearn_counts(new, vocabulary=lsa.vocabulary_)
    np.testing.assert_allclose(lsa.transform(new),
                               _reference_weights_for(new_counts, lsa, norm) @ lsa.U_,
                               atol=1e-12)


def _reference_weights_for(new_counts, lsa, norm):
    """New documents weighted with the training idf, in plain numpy."""
    C = new_counts.toarray().astype(float)
    tf = np.log1p(C) if lsa.weighting == "log-tfidf" else C
    W = tf * lsa.idf_
    if norm == "l2":
        W = W / np.linalg.norm(W, axis=1, keepdims=True)
    return W


@pytest.mark.parametrize("weighting", ["log-tfidf", "tfidf", "count"])
@pytest.mark.parametrize("norm", ["l2", None])
@pytest.mark.parametrize("min_df", [1, 2])
def test_lsa_fit_on_a_ready_matrix_equals_fit_on_texts(weighting, norm, min_df):
    counts, terms = _sklearn_counts(DEERWESTER)  # documents x terms, CSR
    options = dict(k=3, weighting=weighting, norm=norm, min_df=min_df, random_state=0)
    from_texts = fastsvd.LSA(**options).fit(DEERWESTER)
    new = ["human computer interaction", "graph of trees and minors"]
    new_counts, _ = _sklearn_counts(new, vocabulary=terms)
    for matrix in (counts.T, counts.T.tocsr(), sp.coo_array(counts.T), counts.T.toarray(),
                   sp.csr_array(counts.T, dtype=np.float32)):
        ready = fastsvd.LSA(**options).fit(matrix, vocabulary=terms)
        assert ready.vocabulary_ == from_texts.vocabulary_
        np.testing.assert_allclose(ready.idf_, from_texts.idf_, rtol=1e-15)
        np.testing.assert_allclose(ready.singular_values_, from_texts.singular_values_,
                                   rtol=1e-12)
        np.testing.assert_allclose(ready.doc_vectors_, from_texts.doc_vectors_, atol=1e-12)
        np.testing.assert_allclose(ready.term_vectors_, from_texts.term_vectors_, atol=1e-12)
        np.testing.assert_allclose(ready.transform(new), from_texts.transform(new), atol=1e-12)
        keep = [terms.index(t) for t in ready.vocabulary_]
        np.testing.assert_allclose(ready.transform(new_counts.T.tocsr()[keep]),
                                   from_texts.transform(new), atol=1e-12)
        assert [d for d, _ in ready.query("user interface")] == \
            [d for d, _ in from_texts.query("user interface")]


def test_lsa_does_not_modify_the_callers_matrix():
    # Terms x documents with unsorted column indices and a duplicate entry (row 0,
    # column 1 given as 2 + 1); sum_duplicates or sort_indices in place would show.
    data, indices = np.array([2, 1, 1, 1, 4, 1, 3, 5]), np.array([1, 0, 1, 2, 0, 1, 2, 0])
    indptr = np.array([0, 3, 5, 6, 8])
    X = sp.csr_matrix((data.astype(float), indices, indptr), shape=(4, 3))  # float64: no cast
    assert not X.has_canonical_format
    before = [X.data.copy(), X.indices.copy(), X.indptr.copy()]
    dense = np.array([[1.0, 3, 0], [4, 0, 1], [0, 1, 0], [5, 0, 3]])
    dense_before = dense.copy()
    np.testing.assert_array_equal(X.toarray(), dense)  # the duplicate sums to 3
    terms = ["a", "b", "c", "d"]
    for weighting in ("log-tfidf", "count"):
        lsa = fastsvd.LSA(k=2, weighting=weighting, random_state=0).fit(X, vocabulary=terms)
        lsa.transform(X)
        lsa.weigh(X)
        reference = fastsvd.LSA(k=2, weighting=weighting, random_state=0).fit(
            dense, vocabulary=terms)
        np.testing.assert_allclose(lsa.doc_vectors_, reference.doc_vectors_, atol=1e-12)
        np.testing.assert_allclose(lsa.transform(X), reference.transform(dense), atol=1e-12)
    for array, original in zip([X.data, X.indices, X.indptr], before, strict=True):
        np.testing.assert_array_equal(array, original)
    assert X.data.dtype == before[0].dtype and not X.has_canonical_format
    np.testing.assert_array_equal(dense, dense_before)


def test_lsa_ready_matrix_bad_input():
    X = sp.csr_matrix(np.array([[1.0, 0, 2], [0, 1, 1]]))  # 2 terms x 3 documents
    lsa = fastsvd.LSA(k=1)
    with pytest.raises(TypeError, match="needs vocabulary="):
        lsa.fit(X)
    with pytest.raises(TypeError, match="vocabulary must be a list of terms"):
        lsa.fit(X, vocabulary="ab")
    with pytest.raises(TypeError, match=r"vocabulary\[1\] is 2 of type int"):
        lsa.fit(X, vocabulary=["a", 2])
    with pytest.raises(ValueError, match=r"vocabulary has 3 terms but the matrix has 2 rows.*"
                                         r"transpose"):
        lsa.fit(X, vocabulary=["a", "b", "c"])
    with pytest.raises(ValueError, match="vocabulary has 1 terms but the matrix has 2 rows"):
        lsa.fit(X, vocabulary=["a"])
    with pytest.raises(ValueError, match="'a' more than once"):
        lsa.fit(X, vocabulary=["a", "a"])
    with pytest.raises(TypeError, match="is for a ready matrix"):
        lsa.fit(["a b", "b c"], vocabulary=["a", "b"])
    with pytest.raises(ValueError, match=r"LSA\(vocabulary=...\) selects terms from texts"):
        fastsvd.LSA(k=1, vocabulary=["a", "b"]).fit(X, vocabulary=["a", "b"])
    with pytest.raises(TypeError, match="texts_or_matrix is complex"):
        lsa.fit(X * 1j, vocabulary=["a", "b"])
    with pytest.raises(TypeError, match="texts_or_matrix must hold real numbers"):
        lsa.fit(np.array([["1", "0"], ["0", "1"]]), vocabulary=["a", "b"])
    with pytest.raises(ValueError, match="must be a 2-D terms x documents matrix"):
        lsa.fit(np.ones(3), vocabulary=["a", "b", "c"])
    nan = X.copy()
    nan.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        lsa.fit(nan, vocabulary=["a", "b"])
    with pytest.raises(ValueError, match=r"negative values.*weighting='count'"):
        lsa.fit(-X, vocabulary=["a", "b"])
    signed = fastsvd.LSA(k=1, weighting="count", norm=None, random_state=0).fit(
        -X, vocabulary=["a", "b"])  # an already weighted matrix may have any sign
    np.testing.assert_allclose(signed.singular_values_,
                               np.linalg.svd(X.toarray(), compute_uv=False)[:1])
    with pytest.raises(ValueError, match="no terms to analyse"):
        lsa.fit(sp.csr_matrix((2, 3)), vocabulary=["a", "b"])
    with pytest.raises(ValueError, match="has no columns"):
        lsa.fit(sp.csr_matrix((2, 0)), vocabulary=["a", "b"])
    fitted = fastsvd.LSA(k=1, random_state=0).fit(X, vocabulary=["a", "b"])
    with pytest.raises(ValueError, match=r"texts_or_matrix has 3 rows but the model has 2 "
                                         r"terms.*transpose"):
        fitted.transform(X.T)
    with pytest.raises(ValueError, match="counts has 1 rows"):
        fitted.weigh(X[:1])


def test_lsa_norm_option_is_checked():
    with pytest.raises(ValueError, match="norm='l1' is not supported; choose one of 'l2', None"):
        fastsvd.LSA(k=1, norm="l1").fit(LECTURE_DOCS)
    with pytest.raises(ValueError, match="norm='L2' is not supported"):
        fastsvd.LSA(k=1, norm="L2").fit(LECTURE_DOCS)
    with pytest.raises(TypeError, match="norm must be 'l2' or None, got True"):
        fastsvd.LSA(k=1, norm=True).fit(LECTURE_DOCS)


def test_lsa_on_20_newsgroups_helps_retrieval(shared_data):
    from fastsvd.apps.newsgroups import evaluate, load_newsgroups

    train = load_newsgroups(shared_data, "train")
    test = load_newsgroups(shared_data, "test")
    report = evaluate(train, test, ks=(200,), n_queries=500)
    assert report["terms"] > 0.5  # 20 classes: chance is 0.05
    assert report[200] > report["terms"] + 0.01


def _write_tab(path, rows):
    import gzip

    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("Category\tText\nd\tstring\nclass\t\n")
        for label, text in rows:
            f.write(f"{label}\t{text}\n")


def test_newsgroups_command_line(tmp_path, capsys):
    from fastsvd.apps.newsgroups import main

    folder = tmp_path / "20newsgroups-cachopo"
    topics = {"space": "orbit rocket launch moon nasa shuttle",
              "hockey": "goal puck ice team season player"}
    rng = np.random.default_rng(0)

    def rows(n):
        return [(label, " ".join(rng.choice(words.split(), size=rng.integers(3, 12))))
                for label, words in topics.items() for _ in range(n)]

    _write_tab(folder / "20newsgroups-train.tab.gz", rows(12))
    _write_tab(folder / "20newsgroups-test.tab.gz", rows(4))
    assert main(["--data", str(tmp_path), "--ks", "2", "--queries", "all", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "24 training documents, 12 terms (min_df=2), 8 test queries, precision@3" in out
    lines = {line.split("|")[1].strip(): line.split("|")[2:4] for line in out.splitlines()
             if line.startswith("| LSA") or line.startswith("| log-tf-idf")}
    assert set(lines) == {"log-tf-idf vectors, no reduction", "LSA, k=2"}
    # two disjoint vocabularies: every neighbour is of the query's class
    assert all(float(cell) == 1.0 for cells in lines.values() for cell in cells)
    assert "norm='l2' minus norm=None" in out and "fit at k=2, norm=None" in out
    assert main(["--data", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err


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
