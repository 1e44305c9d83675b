"""``python -m matcher build``: index a population and train its model."""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow.parquet as pq

from matcher.build import build_index


def add_parser(commands: argparse._SubParsersAction) -> None:
    build = commands.add_parser("build", help="build and train an index from a population Parquet file")
    build.add_argument("--population", type=Path, required=True)
    build.add_argument("--out", type=Path, required=True)
    build.add_argument(
        "--encoded",
        action="store_true",
        help="hold no name in clear, not even in the running service's memory (names as keyed Bloom filters "
        "compared by similarity, not by spelling)",
    )
    build.add_argument(
        "--training-requests",
        type=Path,
        help="unlabelled trace requests to estimate m by EM (default: 20,000 drawn from the population by the "
        "synthetic generator, typical profile, its truth discarded)",
    )
    build.add_argument(
        "--no-households",
        action="store_true",
        help="the population's records were drawn one at a time (as FEBRL's): nobody shares an address, so no "
        "twin or housemate can be asked about, and the protections against them are waived (refused if anyone "
        "does share an address)",
    )


def run(args: argparse.Namespace) -> int:
    training = pq.read_table(args.training_requests) if args.training_requests else None
    build_index(args.population, args.out, training, args.encoded, households=not args.no_households)
    return 0
