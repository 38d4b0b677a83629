"""The ``fastsvd`` command line."""

from __future__ import annotations

import argparse
import shlex
import sys

# The formats of fastsvd.ratings.load_ratings, spelled out here so that
# ``fastsvd --help`` does not import the ratings module (tests/test_cli.py
# checks that the two lists agree).
RATING_FORMATS = ("movielens-100k", "movielens-dat", "movielens-csv", "netflix", "csv", "tsv",
                  "parquet")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fastsvd", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("bench", help="compare fastsvd's SVD methods with LAPACK "
                                "and the peers (time and accuracy)")
    bench.add_argument("--preset", default="quick", help="workloads: tiny, quick (default, "
                       "a few minutes), full (Netflix-sized, about an hour), sweep (kernel "
                       "and SVD scaling from 1M to 100M nonzeros)")
    bench.add_argument("--contender", action="append", dest="contenders",
                       help="run only this contender (repeatable)")
    bench.add_argument("--repeats", type=int, default=3, help="timed runs per winning setting")
    bench.add_argument("--threads", type=int, default=None, help="numba and BLAS threads")
    bench.add_argument("-o", "--output", default="results", help="folder for the JSON and "
                       "Markdown results (default: results)")

    complete = commands.add_parser(
        "complete", help="fit soft-impute matrix completion on a ratings file and report "
        "train and test RMSE",
        description="Load ratings, hold out a test part (or the Netflix prize's probe pairs, "
        "with --probe), fit soft-impute on the rest and report the RMSE of its predictions.")
    complete.add_argument("ratings", metavar="RATINGS", help="a ratings file (e.g. MovieLens "
                          "u.data, ratings.dat, ratings.csv) or the Netflix training_set/ "
                          "folder")
    complete.add_argument("--format", default="auto", metavar="FMT",
                          help=f"auto (default: from the name and first line), "
                          f"{', '.join(RATING_FORMATS)}")
    complete.add_argument("--rank", type=int, default=50, metavar="R",
                          help="maximum rank (default: 50)")
    complete.add_argument("--lam", type=_lam, default="auto", metavar="L",
                          help="nuclear-norm weight, a number >= 0 or auto (default: chosen "
                          "on a validation part of the training ratings)")
    complete.add_argument("--method", choices=("als", "svd"), default="als",
                          help="softImpute-ALS (default) or the soft-thresholded SVD iteration")
    complete.add_argument("--debias", action="store_true",
                          help="refit the singular values by least squares (R's deBias)")
    complete.add_argument("--test-fraction", type=float, default=None, metavar="F",
                          help="share of the ratings held out for the test RMSE, in [0, 1) "
                          "(default: 0.2; 0 fits on everything)")
    complete.add_argument("--split", choices=("random", "user"), default=None,
                          help="hold out random ratings (default) or a share of each user's")
    complete.add_argument("--probe", metavar="PROBE.txt", help="Netflix prize: hold out the "
                          "pairs of this probe.txt (RATINGS is the training_set/ folder) "
                          "instead of a random part, and report the probe RMSE")
    complete.add_argument("--seed", type=int, default=0, metavar="S",
                          help="seed of the split and the fit (default: 0)")
    complete.add_argument("--threads", type=int, default=None, metavar="N",
                          help="numba threads (default: all)")
    complete.add_argument("--predictions", metavar="OUT.csv", help="write the test ratings "
                          "with their predictions as CSV (user,item,rating,prediction)")
    complete.add_argument("--model", metavar="OUT.npz", help="save the fitted model "
                          "(fastsvd.SoftImpute.load reads it)")
    complete.add_argument("--verbose", action="store_true",
                          help="print one line per iteration to stderr")

    compress = commands.add_parser(
        "compress", help="compress an image by truncated SVD at several ranks",
        description="Keep the top singular triplets of an image at each --rank, write the "
        "reconstructions and report compression ratio, error and PSNR.")
    compress.add_argument("image", metavar="IMAGE", help="a PNG, JPEG, ... file")
    compress.add_argument("--rank", type=int, action="append", dest="ranks", required=True,
                          metavar="R", help="rank to keep (repeatable)")
    compress.add_argument("-o", "--output-dir", required=True, metavar="OUTDIR",
                          help="folder for rank-<r>.png (and the plots)")
    compress.add_argument("--mode", choices=("grey", "channels"), default="grey",
                          help="convert to grey (default) or compress each colour channel")
    compress.add_argument("--no-plots", action="store_true", help="skip singular-values.png "
                          "and reconstructions.png (and the matplotlib import)")

    lsa = commands.add_parser(
        "lsa", help="latent semantic analysis of a text corpus, with queries",
        description="Fit LSA (a rank-k SVD of the term-document matrix) and rank the "
        "documents by cosine similarity to each --query.")
    lsa.add_argument("corpus", metavar="CORPUS", help="a folder of .txt files (one document "
                     "each, in name order) or a text file with one document per line")
    lsa.add_argument("--k", type=int, default=100, help="rank of the reduction (default: 100)")
    lsa.add_argument("--query", action="append", dest="queries", default=[], metavar="TEXT",
                     help="rank the documents for this text (repeatable)")
    lsa.add_argument("--top", type=int, default=10, metavar="N",
                     help="documents shown per query (default: 10)")
    lsa.add_argument("--weighting", choices=("log-tfidf", "tfidf", "count"),
                     default="log-tfidf", help="term weights (default: log-tfidf)")
    lsa.add_argument("--min-df", type=int, default=1, metavar="N",
                     help="drop terms found in fewer documents (default: 1)")
    lsa.add_argument("--seed", type=int, default=0, help="seed of the SVD (default: 0)")

    compare = commands.add_parser(
        "compare", help="compare two benchmark results files and flag regressions",
        description="Match runs by workload, accuracy tier and contender; flag times that "
        "grew by more than --threshold, tiers no longer reached and RMSEs that grew.")
    compare.add_argument("old", metavar="OLD", help="results.json of the baseline run")
    compare.add_argument("new", metavar="NEW", help="results.json of the run to check")
    compare.add_argument("--threshold", type=float, default=0.15,
                         help="relative slow-down counted as a regression (default: 0.15)")

    dask_bench = commands.add_parser(
        "bench-dask", help="time the Dask path (LocalCluster) against one process",
        description="Run Krylov SVD and softImpute-ALS on synthetic Netflix-shaped data in "
        "this process and on a LocalCluster of worker processes, with the same seeds; report "
        "both times, the overhead and how far the results differ.")
    dask_bench.add_argument("--scale", type=float, default=0.02,
                            help="size relative to Netflix (default: 0.02, ~2M nonzeros)")
    dask_bench.add_argument("--workers", type=int, default=2, help="worker processes "
                            "(default: 2; they share this machine's cores)")
    dask_bench.add_argument("--blocks", type=int, default=None,
                            help="row blocks (default: 2 per worker)")
    dask_bench.add_argument("--repeats", type=int, default=3, help="timed runs of each job")
    dask_bench.add_argument("-o", "--output", default=None, metavar="FILE.json",
                            help="also write the record as JSON")

    args = parser.parse_args(argv)
    if args.command == "bench-dask":
        return _bench_dask(args)
    if args.command == "bench":
        return _bench(args, argv)
    if args.command == "compare":
        return _compare(args)
    if args.command == "complete":
        return _complete(args)
    if args.command == "compress":
        return _compress(args)
    if args.command == "lsa":
        return _lsa(args)
    return 2  # pragma: no cover - argparse enforces a command


def _lam(text):
    """``--lam``: ``auto`` or a number."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, got {text!r}") from None


def _fail(command, problem) -> int:
    """Report a user error (a message or an exception) and return exit code 2."""
    if isinstance(problem, OSError) and problem.strerror and problem.filename:
        problem = f"{problem.filename}: {problem.strerror}"
    print(f"fastsvd {command}: {problem}", file=sys.stderr)
    return 2


def _compare(args) -> int:
    """Exit 0 without regressions, 1 with some, 2 on unreadable input."""
    import json

    from .benchmark.report import compare_results

    if not args.threshold > 0:
        return _fail("compare", f"--threshold must be positive, got {args.threshold}")
    try:
        old, new = (json.loads(open(path).read()) for path in (args.old, args.new))
    except OSError as exc:
        return _fail("compare", exc)
    except json.JSONDecodeError as exc:
        return _fail("compare", f"not a results JSON file: {exc}")
    lines, regressions = compare_results(old, new, threshold=args.threshold)
    print("\n".join(lines))
    print(f"{regressions} regression(s) beyond {args.threshold:.0%}")
    return 1 if regressions else 0


def _bench(args, argv) -> int:
    from .benchmark import PRESETS, run_benchmark
    from .benchmark.report import format_table, write_results
    from .benchmark.runner import run_sweep

    if args.preset not in (*PRESETS, "sweep"):
        print(f"fastsvd bench: unknown preset {args.preset!r}; choose from "
              f"{', '.join(PRESETS)}, sweep", file=sys.stderr)
        return 2
    if args.repeats < 1:
        print("fastsvd bench: --repeats must be >= 1", file=sys.stderr)
        return 2
    command = "fastsvd " + shlex.join(sys.argv[1:] if argv is None else argv)
    try:
        if args.preset == "sweep":
            results = run_sweep(repeats=args.repeats)
        else:
            results = run_benchmark(args.preset, contenders=args.contenders,
                                    repeats=args.repeats, n_threads=args.threads)
    except ValueError as exc:
        print(f"fastsvd bench: {exc}", file=sys.stderr)
        return 2
    print(format_table(results))
    paths = write_results(results, args.output, command)
    print(f"results: {paths['json']}  report: {paths['markdown']}")
    return 0


def _bench_dask(args) -> int:
    import importlib.util
    import json

    if importlib.util.find_spec("distributed") is None:
        return _fail("bench-dask", "needs dask and distributed: pip install 'fastsvd[dask]'")
    if not 0 < args.scale <= 1:
        return _fail("bench-dask", f"--scale must lie in (0, 1], got {args.scale}")
    for name in ("workers", "repeats"):
        if getattr(args, name) < 1:
            return _fail("bench-dask", f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.blocks is not None and args.blocks < 1:
        return _fail("bench-dask", f"--blocks must be >= 1, got {args.blocks}")
    from .benchmark.distributed import run_distributed

    record = run_distributed(args.scale, n_workers=args.workers, n_blocks=args.blocks,
                             repeats=args.repeats)
    if args.output:
        with open(args.output, "w") as file:
            json.dump(record, file, indent=2)
        print(f"results: {args.output}")
    return 0


def _complete(args) -> int:
    if args.rank < 1:
        return _fail("complete", f"--rank must be >= 1, got {args.rank}")
    if args.probe is not None:
        for option, value in (("--test-fraction", args.test_fraction), ("--split", args.split)):
            if value is not None:
                return _fail("complete", f"--probe holds out the probe pairs; it replaces "
                             f"{option}")
        if args.format not in ("auto", "netflix"):
            return _fail("complete", f"--probe reads a Netflix-prize training set, not format "
                         f"{args.format!r}")
    test_fraction = 0.2 if args.test_fraction is None else args.test_fraction
    split = args.split or "random"
    if not 0 <= test_fraction < 1:
        return _fail("complete", f"--test-fraction must lie in [0, 1), got {test_fraction}")
    if args.predictions and test_fraction == 0:
        return _fail("complete", "--predictions writes the test ratings; it needs "
                     "--test-fraction > 0")
    import time

    from .impute import SoftImpute
    from .ratings import detect_format, load_netflix_prize, load_ratings, rmse

    test_name = "probe" if args.probe is not None else "test"
    try:
        start = time.perf_counter()
        if args.probe is not None:
            train, test, _ = load_netflix_prize(args.ratings, probe=args.probe)
            fmt, n_ratings, shape = "netflix", len(train) + len(test), train.shape
        else:
            ratings = load_ratings(args.ratings, format=args.format)
            fmt = detect_format(args.ratings) if args.format == "auto" else args.format
            n_ratings, shape = len(ratings), ratings.shape
        load_seconds = time.perf_counter() - start
        print(f"ratings      {n_ratings} ({shape[0]} users x {shape[1]} items, {fmt}), loaded "
              f"in {load_seconds:.2f} s")
        if args.probe is not None:
            print(f"split        {len(train)} train / {len(test)} probe ({args.probe})")
        elif test_fraction > 0:
            train, test = ratings.split(test_fraction, by=split, random_state=args.seed)
            del ratings
            print(f"split        {len(train)} train / {len(test)} test ({split}, "
                  f"seed {args.seed})")
        else:
            train, test = ratings, None
        model = SoftImpute(rank=args.rank, lam=args.lam, method=args.method, debias=args.debias,
                           random_state=args.seed, n_threads=args.threads,
                           verbose=args.verbose)
        start = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - start
    except (ValueError, TypeError, OSError, ImportError) as exc:
        return _fail("complete", exc)

    fraction = (f"{model.lam_ / model.lambda0_:.3g} x lambda0 = {model.lambda0_:.4g}"
                if model.lambda0_ > 0 else "lambda0 = 0")
    chosen = ", chosen on a validation part of train" if args.lam == "auto" else ""
    print(f"lambda       {model.lam_:.4g} ({fraction}{chosen})")
    print(f"rank         {model.d_.size} reached (at most {args.rank})")
    print(f"fit          {fit_seconds:.2f} s, soft-impute {args.method}, {model.n_iter_} "
          f"iterations, {'converged' if model.converged_ else 'not converged'}")
    print(f"train RMSE   {rmse(train.values, _predict(model, train)):.4f}")
    if test is not None:
        predictions = _predict(model, test)
        print(f"{test_name + ' RMSE':<12} {rmse(test.values, predictions):.4f}")

    try:
        if args.predictions:
            _write_predictions(args.predictions, test.user_ids[test.users],
                               test.item_ids[test.items], test.values, predictions)
            print(f"predictions  {args.predictions} ({len(test)} rows)")
        if args.model:
            model.save(args.model)
            print(f"model        {args.model}")
    except (ValueError, TypeError, OSError) as exc:
        return _fail("complete", exc)
    return 0


def _predict(model, ratings, chunk=1 << 22):
    """``model.predict`` for every rating, by raw ids, a chunk at a time (the
    raw id arrays of a Netflix-sized train part would take gigabytes)."""
    import numpy as np

    out = np.empty(len(ratings))
    for start in range(0, len(ratings), chunk):
        part = slice(start, start + chunk)
        out[part] = model.predict(ratings.user_ids[ratings.users[part]],
                                  ratings.item_ids[ratings.items[part]])
    return out


def _write_predictions(path, users, items, ratings, predictions) -> None:
    """CSV with a ``user,item,rating,prediction`` header, one test rating a row."""
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        frame = pd.DataFrame({"user": users, "item": items, "rating": ratings,
                              "prediction": predictions})
        frame.to_csv(path, index=False, float_format="%.6g")
        return
    import csv

    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["user", "item", "rating", "prediction"])
        for row in zip(users.tolist(), items.tolist(), ratings.tolist(), predictions.tolist(),
                       strict=True):
            writer.writerow([row[0], row[1], f"{row[2]:.6g}", f"{row[3]:.6g}"])


def _compress(args) -> int:
    from .apps.image import compress_image

    try:
        result = compress_image(args.image, args.ranks, output_dir=args.output_dir,
                                mode=args.mode, plots=not args.no_plots)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        return _fail("compress", exc)
    height, width = result.original.shape[:2]
    print(f"image: {width} x {height} pixels, {args.mode}")
    print(result.table())
    print("wrote:")
    for path in result.files:
        print(f"  {path}")
    return 0


def _lsa(args) -> int:
    if args.k < 1:
        return _fail("lsa", f"--k must be >= 1, got {args.k}")
    if args.top < 1:
        return _fail("lsa", f"--top must be >= 1, got {args.top}")
    if args.min_df < 1:
        return _fail("lsa", f"--min-df must be >= 1, got {args.min_df}")
    import time

    from .apps.lsa import LSA

    try:
        names, texts = _read_corpus(args.corpus)
        model = LSA(k=args.k, weighting=args.weighting, min_df=args.min_df,
                    random_state=args.seed)
        start = time.perf_counter()
        model.fit(texts)
        seconds = time.perf_counter() - start
    except (ValueError, TypeError, OSError) as exc:
        return _fail("lsa", exc)
    top = model.singular_values_[:10]
    print(f"corpus       {len(texts)} documents")
    print(f"vocabulary   {len(model.vocabulary_)} terms")
    print(f"fit          {seconds:.2f} s (k={args.k}, {args.weighting})")
    print(f"top singular values  {' '.join(f'{s:.4g}' for s in top)}")
    for query in args.queries:
        try:
            ranking = model.query(query, top=args.top)
        except (ValueError, TypeError) as exc:
            return _fail("lsa", exc)
        print(f"\nquery {query!r}:")
        width = max(len(names[d]) for d, _ in ranking)
        for d, score in ranking:
            snippet = " ".join(texts[d].split())[:60]
            print(f"  {names[d]:<{width}}  {score:6.3f}  {snippet}")
    return 0


def _read_corpus(corpus):
    """``(names, texts)``: a folder's ``*.txt`` files in name order, or the
    non-blank lines of one file (named ``line <n>``, 1-based)."""
    from pathlib import Path

    path = Path(corpus)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.txt") if p.is_file())
        if not files:
            raise ValueError(f"{path} holds no .txt files; pass a folder of .txt documents or "
                             "a text file with one document per line.")
        return [p.name for p in files], [p.read_text(errors="replace") for p in files]
    if not path.exists():
        raise ValueError(f"no such corpus file or folder: {path}")
    lines = path.read_text(errors="replace").splitlines()
    documents = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    if not documents:
        raise ValueError(f"{path} holds no documents: every line is blank.")
    return [f"line {n}" for n, _ in documents], [line for _, line in documents]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
