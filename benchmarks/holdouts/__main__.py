"""``python -m benchmarks.holdouts febrl4|febrl3|febrl2|strangers|requests|score``: see the package's docstring."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.holdouts.corruption import holdout
from benchmarks.holdouts.scoring import score
from matcher.build import build_index
from matcher.comparison.library import DEFAULT_COMPARISONS
from matcher.index import Index
from matcher.protection.keys import load_master_key
from matcher.tracer import Tracer


def febrl(args: argparse.Namespace) -> int:
    from benchmarks.holdouts.febrl import febrl4_tables, febrl_dedup_tables

    population, requests, truth = febrl4_tables() if args.number == 4 else febrl_dedup_tables(args.number)
    args.work.mkdir(parents=True, exist_ok=True)
    pq.write_table(population, args.work / "population.parquet")
    pq.write_table(requests, args.work / "requests.parquet")
    pq.write_table(truth, args.work / "truth.parquet")
    # EM learns m from unlabelled requests: by default the duplicates themselves, their pairing unread (as Splink
    # is trained on the data it links); --training generator: the installed generator's sample of the originals.
    training = requests if args.training == "requests" else None
    # FEBRL's records are drawn one at a time: no one shares an address, and no relative can be asked about.
    build_index(
        args.work / "population.parquet", args.work / "index", training, comparisons=args.comparisons, households=False
    )
    tracer = Tracer(Index.load(args.work / "index", load_master_key()))
    results = tracer.results_table(tracer.trace_batch(requests))
    pq.write_table(results, args.work / "results.parquet")
    print("\n".join(score(results, truth).lines()))
    return 0


def strangers(args: argparse.Namespace) -> int:
    """FEBRL2's and FEBRL3's duplicates traced against another FEBRL set's index: people it does not hold (the
    sets were generated apart), so that every match is a wrong-person disclosure."""
    from benchmarks.holdouts.febrl import febrl_dedup_tables
    from matcher.reports.confidence import upper_bound

    tracer = Tracer(Index.load(args.index, load_master_key()))
    total = matched = 0
    for number in (2, 3):
        _, requests, _ = febrl_dedup_tables(number)
        outcomes = tracer.results_table(tracer.trace_batch(requests)).column("outcome").to_pylist()
        total, matched = total + len(outcomes), matched + outcomes.count("matched")
        print(f"FEBRL{number} duplicates: {len(outcomes):,} strangers, matched {outcomes.count('matched')}")
    print(f"wrong-person disclosures {matched} of {total:,} (95% upper bound {upper_bound(matched, total):.2e})")
    return 0


def requests(args: argparse.Namespace) -> int:
    population, reqs, truth = holdout(pq.read_table(args.population), args.count, args.seed, args.non_member_rate)
    args.out.mkdir(parents=True, exist_ok=True)
    pq.write_table(population, args.out / "population.parquet")
    pq.write_table(reqs, args.out / "requests.parquet")
    pq.write_table(truth, args.out / "truth.parquet")
    print(f"wrote {args.out}: index population {population.num_rows:,}, requests {reqs.num_rows:,}")
    return 0


def score_command(args: argparse.Namespace) -> int:
    print("\n".join(score(pq.read_table(args.results), pq.read_table(args.truth)).lines()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.holdouts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for number in (4, 3, 2):
        f = commands.add_parser(f"febrl{number}", help=f"FEBRL{number}: index the originals, trace the duplicates")
        f.add_argument("--work", type=Path, required=True)
        f.add_argument("--comparisons", nargs="+", default=list(DEFAULT_COMPARISONS))
        f.add_argument("--training", choices=("requests", "generator"), default="requests")
        f.set_defaults(run=febrl, number=number)
    x = commands.add_parser("strangers", help="FEBRL2/3 duplicates against another FEBRL index: all non-members")
    x.add_argument("--index", type=Path, required=True)
    x.set_defaults(run=strangers)
    r = commands.add_parser("requests", help="the second corruption model: index population, requests, truth")
    r.add_argument("--population", type=Path, required=True)
    r.add_argument("--count", type=int, default=15_000)
    r.add_argument("--seed", type=int, default=11)
    r.add_argument("--non-member-rate", type=float, default=0.3)
    r.add_argument("--out", type=Path, required=True)
    r.set_defaults(run=requests)
    s = commands.add_parser("score", help="recall by kind of error, wrong-person disclosures and their bound")
    s.add_argument("--results", type=Path, required=True)
    s.add_argument("--truth", type=Path, required=True)
    s.set_defaults(run=score_command)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
