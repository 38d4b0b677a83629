"""20 Newsgroups (Cachopo's pre-processed "all-terms" version) for LSA examples.

The data are not shipped: point :func:`load_newsgroups` at a folder holding
``20newsgroups-cachopo/20newsgroups-{train,test}.tab.gz`` (Orange's tab format).
"""

from __future__ import annotations

import csv
import gzip
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .lsa import LSA


def load_newsgroups(data_dir, split="train"):
    """``(texts, labels)`` of the train or test split."""
    path = Path(data_dir) / "20newsgroups-cachopo" / f"20newsgroups-{split}.tab.gz"
    if not path.is_file():
        raise ValueError(f"{str(path)!r} not found: pass the folder that holds "
                         "20newsgroups-cachopo/.")
    csv.field_size_limit(sys.maxsize)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = [row for row in list(csv.reader(f, delimiter="\t"))[3:] if row]  # 3 header rows
    labels = [row[0] for row in rows]
    texts = [row[1] if len(row) > 1 else "" for row in rows]
    return texts, labels


def evaluate(train, test, *, ks=(100, 200, 400), n_queries=1000, top=10, random_state=0):
    """Retrieval precision: for test documents used as queries, the fraction of
    the ``top`` most similar training documents (cosine) in the query's class.

    Compares the weighted term vectors themselves (``"terms"``, no reduction)
    with LSA document vectors at each ``k``, all with ``LSA``'s default
    log-tf-idf weighting; returns ``{"terms": p, k: p, ...,
    "seconds": {k: fit seconds}}``.
    """
    (train_texts, train_labels), (test_texts, test_labels) = train, test
    rng = np.random.default_rng(random_state)
    queries = rng.choice(len(test_texts), size=min(n_queries, len(test_texts)), replace=False)
    query_texts = [test_texts[i] for i in queries]
    truth = np.array(test_labels)[queries][:, None]
    train_labels = np.array(train_labels)

    def precision(doc_vectors, query_vectors):
        docs = _normalize_rows(doc_vectors)
        scores = _normalize_rows(query_vectors) @ docs.T
        scores = scores.toarray() if sp.issparse(scores) else np.asarray(scores)
        best = np.argpartition(-scores, top, axis=1)[:, :top]
        return float(np.mean(train_labels[best] == truth))

    report = {"seconds": {}}
    base = LSA(k=max(ks), min_df=2, random_state=random_state)
    start = time.perf_counter()
    base.fit(train_texts)
    report["seconds"][max(ks)] = time.perf_counter() - start
    counts = base._counts(train_texts, base.term_index_)
    term_docs = base.weigh(counts).T.tocsr()
    term_queries = base.weigh(base._counts(query_texts, base.term_index_)).T.tocsr()
    report["terms"] = precision(term_docs, term_queries)
    folded = base.transform(query_texts)
    for k in ks:
        s = base.singular_values_[:k]
        report[k] = precision(base.doc_vectors_[:, :k], folded[:, :k] * (s > 0))
    return report


def _normalize_rows(M):
    if sp.issparse(M):
        norms = np.sqrt(np.asarray(M.multiply(M).sum(axis=1)).ravel())
        return sp.diags(1 / np.maximum(norms, 1e-300)) @ M
    norms = np.linalg.norm(M, axis=1, keepdims=True)
    return M / np.maximum(norms, 1e-300)
