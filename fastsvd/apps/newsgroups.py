"""20 Newsgroups (Cachopo's pre-processed "all-terms" version) for LSA examples.

The data are not shipped: point :func:`load_newsgroups` at a folder holding
``20newsgroups-cachopo/20newsgroups-{train,test}.tab.gz`` (Orange's tab format).

From the command line, ``python -m fastsvd.apps.newsgroups [--data DIR]``
prints the retrieval precision of :func:`evaluate` with and without document
length normalisation (``LSA(norm="l2")`` and ``LSA(norm=None)``).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .._checks import check_int
from .lsa import LSA

_BLOCK = 1000  # queries scored at a time: a block of scores is _BLOCK x n_train floats


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


def evaluate(train, test, *, ks=(100, 200, 400), n_queries=1000, top=10, norm="l2",
             random_state=0):
    """Retrieval precision: for test documents used as queries, the fraction of
    the ``top`` most similar training documents (cosine) in the query's class.

    Compares the weighted term vectors themselves (``"terms"``, no reduction)
    with LSA document vectors at each ``k``, all with ``LSA``'s default
    log-tf-idf weighting, ``min_df=2`` and the given ``norm`` (``"l2"``: each
    document scaled to unit length before the SVD; ``None``: not scaled; it
    does not change the ``"terms"`` cosines). Queries are folded in with
    :meth:`LSA.transform`. ``n_queries=None`` uses every test document.
    Returns ``{"terms": p, k: p, ..., "seconds": {k: fit seconds},
    "per_query": {"terms": array, k: array, ...}, "n_train": ..., "n_terms": ...,
    "n_queries": ...}``; ``p`` is the mean of the per-query precisions, in the
    order of the sampled queries (the same for any ``norm``).
    """
    (train_texts, train_labels), (test_texts, test_labels) = train, test
    ks = [check_int(k, name="ks", low=1) for k in ks]
    if not ks:
        raise ValueError("ks is empty: give at least one rank, e.g. ks=(100,).")
    top = check_int(top, name="top", low=1, high=len(train_texts) - 1)
    n_queries = (len(test_texts) if n_queries is None
                 else check_int(n_queries, name="n_queries", low=1))
    rng = np.random.default_rng(random_state)
    queries = rng.choice(len(test_texts), size=min(n_queries, len(test_texts)), replace=False)
    query_texts = [test_texts[i] for i in queries]
    truth = np.array(test_labels)[queries][:, None]
    train_labels = np.array(train_labels)

    def precision(doc_vectors, query_vectors):
        """Per query: the fraction of its ``top`` neighbours in its class."""
        docs_t = _normalize_rows(doc_vectors).T
        query_vectors = _normalize_rows(query_vectors)
        hits = []
        for start in range(0, query_vectors.shape[0], _BLOCK):
            scores = query_vectors[start:start + _BLOCK] @ docs_t
            scores = scores.toarray() if sp.issparse(scores) else np.asarray(scores)
            best = np.argpartition(-scores, top, axis=1)[:, :top]
            hits.append(np.mean(train_labels[best] == truth[start:start + _BLOCK], axis=1))
        return np.concatenate(hits)

    report = {"seconds": {}, "per_query": {}}
    base = LSA(k=max(ks), min_df=2, norm=norm, random_state=random_state)
    start = time.perf_counter()
    base.fit(train_texts)
    report["seconds"][max(ks)] = time.perf_counter() - start
    report.update(n_train=len(train_texts), n_terms=len(base.vocabulary_),
                  n_queries=len(query_texts))
    term_docs = base._weigh(base._counts(train_texts, base.term_index_)).T.tocsr()
    term_queries = base._weigh(base._counts(query_texts, base.term_index_)).T.tocsr()
    report["per_query"]["terms"] = precision(term_docs, term_queries)
    folded = base.transform(query_texts)
    for k in ks:
        s = base.singular_values_[:k]
        report["per_query"][k] = precision(base.doc_vectors_[:, :k], folded[:, :k] * (s > 0))
    for key, values in report["per_query"].items():
        report[key] = float(np.mean(values))
    return report


def default_data_dir():
    """``$FASTSVD_DATA``, else ``../shared/data`` (from the current folder, then
    beside the source tree) when it exists, else ``None``."""
    if os.environ.get("FASTSVD_DATA"):
        return Path(os.environ["FASTSVD_DATA"])
    for candidate in (Path.cwd().parent / "shared" / "data",
                      Path(__file__).resolve().parents[3] / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return None


def main(argv=None) -> int:
    """Print precision@top of :func:`evaluate` for ``norm="l2"`` and ``None``."""
    parser = argparse.ArgumentParser(
        prog="python -m fastsvd.apps.newsgroups",
        description="LSA retrieval on 20 Newsgroups: precision@top of same-class training "
                    "documents for test documents used as queries, with and without "
                    "document length normalisation.")
    parser.add_argument("--data", metavar="DIR", help="folder holding 20newsgroups-cachopo/ "
                        "(default: $FASTSVD_DATA, else ../shared/data)")
    parser.add_argument("--ks", type=int, nargs="+", default=[100, 200, 400], metavar="K",
                        help="LSA ranks (default: 100 200 400)")
    parser.add_argument("--queries", default="1000", metavar="N",
                        help="test documents used as queries, or 'all' (default: 1000)")
    parser.add_argument("--top", type=int, default=10, help="documents retrieved (default: 10)")
    parser.add_argument("--norm", choices=("both", "l2", "none"), default="both",
                        help="document normalisation to evaluate (default: both)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the query sample and "
                        "the SVD (default: 0)")
    args = parser.parse_args(argv)
    data = Path(args.data) if args.data else default_data_dir()
    if data is None:
        parser.error("no data folder: pass --data DIR or set FASTSVD_DATA.")
    try:
        n_queries = None if args.queries == "all" else int(args.queries)
    except ValueError:
        parser.error(f"--queries must be a number or 'all', got {args.queries!r}.")
    norms = {"both": ("l2", None), "l2": ("l2",), "none": (None,)}[args.norm]
    try:
        train, test = load_newsgroups(data, "train"), load_newsgroups(data, "test")
        reports = {norm: evaluate(train, test, ks=args.ks, n_queries=n_queries, top=args.top,
                                  norm=norm, random_state=args.seed) for norm in norms}
    except (TypeError, ValueError) as exc:
        print(f"python -m fastsvd.apps.newsgroups: {exc}", file=sys.stderr)
        return 2
    first = next(iter(reports.values()))
    print(f"20 Newsgroups: {first['n_train']} training documents, {first['n_terms']} terms "
          f"(min_df=2), {first['n_queries']} test queries, precision@{args.top}")
    print()
    print("| representation | " + " | ".join(f"norm={n!r}" for n in norms) + " |")
    print("|---|" + "---:|" * len(norms))
    rows = [("log-tf-idf vectors, no reduction", "terms")]
    rows += [(f"LSA, k={k}", k) for k in sorted(set(args.ks))]
    for label, key in rows:
        print(f"| {label} | " + " | ".join(f"{r[key]:.3f}" for r in reports.values()) + " |")
    if len(reports) == 2:
        print()
        l2, none = reports["l2"]["per_query"], reports[None]["per_query"]
        for label, key in rows[1:]:
            diff = l2[key] - none[key]
            print(f"{label}: norm='l2' minus norm=None = {diff.mean():+.4f} "
                  f"(standard error over queries {diff.std(ddof=1) / np.sqrt(diff.size):.4f})")
    print()
    for norm, report in reports.items():
        k = max(args.ks)
        print(f"fit at k={k}, norm={norm!r}: {report['seconds'][k]:.1f} s")
    return 0


def _normalize_rows(M):
    if sp.issparse(M):
        norms = np.sqrt(np.asarray(M.multiply(M).sum(axis=1)).ravel())
        return (sp.diags(1 / np.maximum(norms, 1e-300)) @ M).tocsr()
    norms = np.linalg.norm(M, axis=1, keepdims=True)
    return M / np.maximum(norms, 1e-300)


if __name__ == "__main__":
    sys.exit(main())
