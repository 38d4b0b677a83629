"""The ``fastsvd`` command line."""

from __future__ import annotations

import argparse
import shlex
import sys


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
    args = parser.parse_args(argv)
    if args.command == "bench":
        return _bench(args, argv)
    return 2  # pragma: no cover - argparse enforces a command


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
