"""Latent semantic analysis: a term-document matrix reduced to rank k."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np
import scipy.sparse as sp

from .._checks import check_choice, check_int, check_rank, working_dtype
from ..algorithms import svd

WEIGHTINGS = ("log-tfidf", "tfidf", "count")
NORMS = ("l2", None)
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def tokenize(text: str) -> list[str]:
    """Default tokenizer: lower-case words of letters, hyphenated words kept
    whole (``"New-Hampshire's"`` gives ``"new-hampshire"``), possessive
    ``'s`` dropped."""
    return _WORD.findall(re.sub(r"'s\b", "", text.lower()))


class LSA:
    """Latent semantic analysis (Deerwester et al. 1990).

    Builds the terms x documents matrix ``X`` (weighted counts, each document
    scaled to unit length by default), keeps its rank-``k`` SVD
    ``X ~ U_k S_k V_k^T``, and represents

    - term ``t`` by row ``t`` of ``U_k S_k`` (:attr:`term_vectors_`),
    - document ``d`` by column ``d`` of ``S_k V_k^T``, stored as row ``d`` of
      ``V_k S_k`` (:attr:`doc_vectors_`).

    Other scalings appear in the literature (``U_k`` and ``V_k`` alone, or
    ``S_k^{1/2}`` on both sides); ``U_k``, ``singular_values_`` and ``V_k``
    are kept so any of them can be formed.

    Parameters
    ----------
    k : int
        Rank of the reduction.
    weighting : {"log-tfidf", "tfidf", "count"}
        ``"count"``: raw term counts. ``"tfidf"``: ``count * log(n_docs / df)``
        (``df``: documents containing the term). ``"log-tfidf"`` (default):
        ``log(1 + count) * log(n_docs / df)``, which damps repeated words.
    norm : {"l2", None}
        ``"l2"`` (default): after weighting, each document's term vector (a
        column of ``X``) is scaled to unit Euclidean length, so long documents
        do not dominate the SVD; documents with no known term stay zero. This
        is the convention of scikit-learn (``TfidfVectorizer(norm="l2")``) and
        gensim (``TfidfModel(normalize=True)``). ``None``: no scaling. Folded-in
        documents (:meth:`transform`) are scaled the same way. Neither is
        better everywhere: on 20 Newsgroups ``"l2"`` retrieves better at
        small ``k`` and worse at large ``k`` (``docs/benchmarks.md``).
    tokenizer : callable, optional
        ``text -> list of terms``; default :func:`tokenize`.
    lemmas : dict, optional
        Maps tokens to the term they stand for (e.g. ``{"died": "die"}``).
    vocabulary : iterable of str, optional
        Keep only these terms (in this order); default every term seen. For
        texts only: a matrix passed to :meth:`fit` brings its own vocabulary.
    min_df : int
        Drop terms found in fewer documents (texts or a matrix; ignored with
        ``vocabulary``).
    method, random_state
        Passed to :func:`fastsvd.svd`.

    Examples
    --------
    The lecture's example: five documents, eight terms, k = 2.

    >>> docs = ["Romeo and Juliet.", "Juliet: O happy dagger!", "Romeo died by dagger.",
    ...         "'Live free or die', that's the New-Hampshire's motto.",
    ...         "Did you know, New-Hampshire is in New-England."]
    >>> terms = ["romeo", "juliet", "happy", "dagger", "live", "die", "free", "new-hampshire"]
    >>> lsa = LSA(k=2, weighting="count", vocabulary=terms, random_state=0,
    ...           lemmas={"died": "die", "dies": "die"}).fit(docs)
    >>> ranking = [d for d, score in lsa.query("dies, dagger")]
    >>> ranking.index(0) < ranking.index(4)   # d1 ranks above d5
    True

    The same counts as a ready terms x documents matrix (one row per term of
    ``vocabulary``) give the same model; each document was scaled to length 1:

    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.csr_matrix(np.array([[1, 0, 1, 0, 0], [1, 1, 0, 0, 0], [0, 1, 0, 0, 0],
    ...                             [0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 1, 1, 0],
    ...                             [0, 0, 0, 1, 0], [0, 0, 0, 1, 1]]))
    >>> ready = LSA(k=2, weighting="count", random_state=0).fit(X, vocabulary=terms)
    >>> bool(np.allclose(ready.doc_vectors_, lsa.doc_vectors_))
    True
    >>> np.round(np.linalg.norm(ready.weigh(X).toarray(), axis=0), 12)
    array([1., 1., 1., 1., 1.])
    >>> raw = LSA(k=2, weighting="count", norm=None, random_state=0).fit(X, vocabulary=terms)
    >>> reference = np.linalg.svd(X.toarray(), compute_uv=False)[:2]  # counts as they are
    >>> bool(np.allclose(raw.singular_values_, reference))
    True
    """

    def __init__(self, k=100, *, weighting="log-tfidf", norm="l2",
                 tokenizer: Callable | None = None, lemmas: dict | None = None,
                 vocabulary: Iterable[str] | None = None, min_df=1, method="auto",
                 random_state=None):
        self.k = k
        self.weighting = weighting
        self.norm = norm
        self.tokenizer = tokenizer
        self.lemmas = lemmas
        self.vocabulary = vocabulary
        self.min_df = min_df
        self.method = method
        self.random_state = random_state

    def fit(self, texts_or_matrix, vocabulary=None):
        """Fit on a list of texts, or on a ready term-document matrix.

        Parameters
        ----------
        texts_or_matrix : list of str, scipy.sparse matrix/array or numpy array
            The documents as texts, or their **terms x documents** count
            matrix (one row per term, one column per document; the
            transpose of scikit-learn's ``CountVectorizer`` output), in any
            sparse format. A sparse matrix is never densified and never
            modified (fit works on a CSR copy). The matrix is taken as raw
            counts: ``weighting`` (with idf from its columns), then ``norm``,
            apply to it exactly as to the counts built from texts, so the
            count matrix of some texts gives the same model as the texts. For a
            matrix that is already weighted pass ``weighting="count"``: then
            only ``norm`` applies.
        vocabulary : list of str
            With a matrix, and only then: the term of each row, distinct.
        """
        check_choice(self.weighting, WEIGHTINGS, name="weighting")
        _check_norm(self.norm)
        min_df = check_int(self.min_df, name="min_df", low=1)
        if _is_matrix(texts_or_matrix):
            if self.vocabulary is not None:
                raise ValueError("LSA(vocabulary=...) selects terms from texts; a matrix brings "
                                 "its own: pass fit(matrix, vocabulary=terms) and leave "
                                 "LSA(vocabulary=None).")
            terms = _check_vocabulary(vocabulary, _matrix_shape(texts_or_matrix))
            counts = _as_counts(texts_or_matrix, self.weighting)
            if min_df > 1:
                keep = np.flatnonzero(_df(counts) >= min_df)
                counts, terms = counts[keep], [terms[i] for i in keep]
            if counts.shape[1] == 0:
                raise ValueError("texts_or_matrix has no columns: a terms x documents matrix "
                                 "needs at least one document.")
        else:
            if vocabulary is not None:
                raise TypeError("fit(texts, vocabulary=...) is for a ready matrix; to keep only "
                                "some terms of texts use LSA(vocabulary=...).")
            texts = _texts(texts_or_matrix)
            terms = self._vocabulary(texts)
            counts = self._counts(texts, {t: i for i, t in enumerate(terms)})
        if counts.shape[0] == 0 or counts.count_nonzero() == 0:
            raise ValueError("the corpus has no terms to analyse: every document is empty "
                             "after tokenizing (or outside the vocabulary).")
        self.vocabulary_ = terms
        self.term_index_ = {t: i for i, t in enumerate(terms)}
        self.idf_ = _idf(counts) if "tfidf" in self.weighting else np.ones(counts.shape[0])
        matrix = self._weigh(counts)
        k = check_rank(self.k, matrix.shape)
        U, s, Vt = svd(matrix, k, method=self.method, random_state=self.random_state)
        self.U_, self.singular_values_, self.Vt_ = U, s, Vt
        self.term_vectors_ = U * s
        self.doc_vectors_ = Vt.T * s
        return self

    def transform(self, texts_or_matrix) -> np.ndarray:
        """Fold new documents in: each becomes ``U_k^T x`` (``x`` its weighted,
        and with ``norm="l2"`` unit-length, term vector), comparable with the
        rows of :attr:`doc_vectors_`. Takes texts, or a terms x documents
        count matrix with one row per term of :attr:`vocabulary_`."""
        if _is_matrix(texts_or_matrix):
            counts = self._fitted_counts(texts_or_matrix, "texts_or_matrix")
        else:
            counts = self._counts(_texts(texts_or_matrix), self.term_index_)
        return np.asarray(self._weigh(counts).T @ self.U_)

    def weigh(self, counts):
        """The matrix the SVD sees (CSR) from a terms x documents count
        matrix with one row per term of :attr:`vocabulary_`: ``weighting``
        applied, then with ``norm="l2"`` each column scaled to unit length.
        ``counts`` is not modified."""
        return self._weigh(self._fitted_counts(counts, "counts"))

    def query(self, terms_or_text, top=None):
        """Documents ranked by cosine similarity to a query.

        The query is folded in as the mean of its known terms' vectors (rows
        of :attr:`term_vectors_`); ``terms_or_text`` is a text or a list of
        terms. Its length does not change a cosine, so ``norm`` needs no
        counterpart here. Returns ``[(document index, score), ...]``, best
        first.
        """
        tokens = (self._tokens(terms_or_text) if isinstance(terms_or_text, str)
                  else [self._lemma(t.lower()) for t in terms_or_text])
        known = [self.term_index_[t] for t in tokens if t in self.term_index_]
        if not known:
            raise ValueError(f"the query {terms_or_text!r} has no term in the vocabulary; "
                             "use words from the fitted documents.")
        scores = _cosine(self.term_vectors_[known].mean(axis=0), self.doc_vectors_)
        order = np.argsort(-scores, kind="stable")[:top]
        return [(int(d), float(scores[d])) for d in order]

    def _weigh(self, counts):
        """``weigh`` of a CSR float64 count matrix fit or transform owns."""
        tf = counts.log1p() if self.weighting == "log-tfidf" else counts
        weighted = (sp.diags(self.idf_) @ tf).tocsr()
        if self.norm == "l2":
            norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=0)).ravel())
            scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
            weighted = (weighted @ sp.diags(scale)).tocsr()
        return weighted

    def _fitted_counts(self, matrix, name):
        shape = _matrix_shape(matrix, name=name)
        if shape[0] != len(self.vocabulary_):
            raise ValueError(f"{name} has {shape[0]} rows but the model has "
                             f"{len(self.vocabulary_)} terms: pass a terms x documents matrix "
                             "with one row per term of vocabulary_."
                             + (" Its columns match: pass its transpose."
                                if shape[1] == len(self.vocabulary_) else ""))
        return _as_counts(matrix, self.weighting, name=name)

    def _tokens(self, text):
        tokens = (self.tokenizer or tokenize)(text)
        return [self._lemma(t) for t in tokens]

    def _lemma(self, token):
        return self.lemmas.get(token, token) if self.lemmas else token

    def _vocabulary(self, texts):
        if self.vocabulary is not None:
            return list(dict.fromkeys(self.vocabulary))
        df = {}
        for text in texts:
            for term in set(self._tokens(text)):
                df[term] = df.get(term, 0) + 1
        return sorted(t for t, n in df.items() if n >= self.min_df)

    def _counts(self, texts, index):
        rows, cols = [], []
        for d, text in enumerate(texts):
            ids = [index[t] for t in self._tokens(text) if t in index]
            rows += ids
            cols += [d] * len(ids)
        return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(index), len(texts)))


def _check_norm(norm):
    if norm is not None and not isinstance(norm, str):
        raise TypeError(f"norm must be 'l2' or None, got {norm!r} of type "
                        f"{type(norm).__name__}.")
    return check_choice(norm, NORMS, name="norm")


def _is_matrix(value):
    return sp.issparse(value) or isinstance(value, np.ndarray)


def _matrix_shape(matrix, *, name="texts_or_matrix"):
    if len(matrix.shape) != 2:
        raise ValueError(f"{name} must be a 2-D terms x documents matrix, got shape "
                         f"{tuple(matrix.shape)}.")
    working_dtype(matrix.dtype, name=name)
    return tuple(matrix.shape)


def _check_vocabulary(vocabulary, shape):
    """One distinct term (str) per row of a terms x documents matrix."""
    if vocabulary is None:
        raise TypeError("fit(matrix) needs vocabulary=[...]: the term of each matrix row "
                        f"(the matrix is terms x documents; this one has {shape[0]} rows).")
    if isinstance(vocabulary, (str, bytes)) or not isinstance(vocabulary, Iterable):
        raise TypeError("vocabulary must be a list of terms (strings), one per matrix row; "
                        f"got {type(vocabulary).__name__}.")
    terms = list(vocabulary)
    for i, term in enumerate(terms):
        if not isinstance(term, str):
            raise TypeError(f"vocabulary must hold strings; vocabulary[{i}] is {term!r} of "
                            f"type {type(term).__name__}.")
    if len(terms) != shape[0]:
        transposed = (" It matches the number of columns: the matrix must be terms x "
                      "documents (one row per term), so pass its transpose, X.T."
                      if len(terms) == shape[1] else "")
        raise ValueError(f"vocabulary has {len(terms)} terms but the matrix has {shape[0]} "
                         f"rows; give one term per row.{transposed}")
    if len(set(terms)) != len(terms):
        seen = set()
        duplicate = next(t for t in terms if t in seen or seen.add(t))
        raise ValueError(f"vocabulary lists {duplicate!r} more than once; each row needs its "
                         "own term (sum the duplicate rows first).")
    return [str(t) for t in terms]


def _as_counts(matrix, weighting, *, name="texts_or_matrix"):
    """A CSR float64 copy with duplicates summed, checked: finite, and not negative
    unless the weighting is ``"count"``."""
    _matrix_shape(matrix, name=name)
    counts = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    counts.sum_duplicates()
    if not np.all(np.isfinite(counts.data)):
        raise ValueError(f"{name} holds NaN or infinite values; every count must be finite.")
    if weighting != "count" and counts.nnz and counts.data.min() < 0:
        raise ValueError(f"{name} holds negative values, which are not counts; weighting="
                         f"{weighting!r} needs counts >= 0 (for an already weighted matrix "
                         "use weighting='count').")
    return counts


def _texts(texts):
    if isinstance(texts, str):
        raise TypeError("pass a list of texts (one per document), not a single string.")
    texts = list(texts)
    if not texts:
        raise ValueError("the corpus is empty: pass at least one document.")
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("every document must be a string.")
    return texts


def _df(counts):
    """Documents containing each term (counts > 0)."""
    return np.asarray((counts > 0).sum(axis=1)).ravel()


def _idf(counts):
    """``log(n_docs / df)`` per term (0 for terms in every document)."""
    df = _df(counts)
    with np.errstate(divide="ignore"):
        return np.where(df > 0, np.log(counts.shape[1] / np.maximum(df, 1)), 0.0)


def _cosine(q, M):
    norms = np.linalg.norm(M, axis=1) * np.linalg.norm(q)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norms > 0, M @ q / norms, 0.0)
