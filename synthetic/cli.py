"""``python -m synthetic``: generate populations and trace requests, or run the small demo."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from tqdm import tqdm

from synthetic.population import write_population
from synthetic.profiles import PROFILES
from synthetic.requests import generate_requests, write_requests
from synthetic.summary import describe_population, describe_requests


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m synthetic", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    population = commands.add_parser("population", help="generate a synthetic national index extract")
    population.add_argument("--records", type=_positive, required=True)
    population.add_argument("--seed", type=_seed, default=0)
    population.add_argument("--out", type=Path, required=True)
    population.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    requests = commands.add_parser("requests", help="generate trace requests with ground truth")
    requests.add_argument("--population", type=Path, required=True)
    requests.add_argument("--count", type=_positive, required=True)
    requests.add_argument("--profile", choices=sorted(PROFILES), default="typical")
    requests.add_argument("--non-member-rate", type=_rate, default=0.3)
    requests.add_argument("--seed", type=_seed, default=0)
    requests.add_argument("--out", type=Path, required=True)
    requests.add_argument("--truth", type=Path, required=True)
    requests.add_argument("--quiet", action="store_true")

    demo = commands.add_parser("demo", help="generate a small population and requests and summarise them")
    demo.add_argument("--records", type=_positive, default=50_000)
    demo.add_argument("--count", type=_positive, default=2_000)
    demo.add_argument("--seed", type=_seed, default=0)
    demo.add_argument("--dir", type=Path, default=Path("out"))
    return parser


def _population(records: int, seed: int, out: Path, quiet: bool) -> None:
    with tqdm(total=records, unit="rec", desc="population", disable=quiet, file=sys.stderr) as bar:
        write_population(out, records, seed, progress=bar.update)


def _requests(args: argparse.Namespace) -> str:
    request_set = generate_requests(
        args.population, args.count, PROFILES[args.profile], args.non_member_rate, args.seed
    )
    write_requests(request_set, args.out, args.truth)
    return describe_requests(request_set.requests, request_set.truth)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (ValueError, RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "population":
        started = time.perf_counter()
        _population(args.records, args.seed, args.out, args.quiet)
        if not args.quiet:
            print(describe_population(args.out))
            print(f"written {args.out} in {time.perf_counter() - started:.1f} s")
    elif args.command == "requests":
        if not args.population.exists():
            print(f"error: population file {args.population} does not exist", file=sys.stderr)
            return 2
        summary = _requests(args)
        if not args.quiet:
            print(summary)
    elif args.command == "demo":
        population = args.dir / "population.parquet"
        _population(args.records, args.seed, population, quiet=False)
        print(describe_population(population))
        for profile in ("clean", "typical", "hard"):
            request_set = generate_requests(population, args.count, PROFILES[profile], 0.3, args.seed)
            write_requests(request_set, args.dir / f"requests-{profile}.parquet", args.dir / f"truth-{profile}.parquet")
            print(f"[{profile}] " + describe_requests(request_set.requests, request_set.truth))
        example = pq.read_table(args.dir / "requests-typical.parquet").slice(0, 1).to_pylist()[0]
        print(f"example typical request (synthetic person): {example}")
        print(f"files written to {args.dir}/")
    return 0
