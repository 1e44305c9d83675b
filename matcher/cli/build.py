"""``python -m matcher build``: index a population and train its model."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pyarrow.parquet as pq

from matcher.contract.generator import installed_generator
from matcher.estimation import FellegiSunterEstimator
from matcher.index import Index
from matcher.protection.keys import load_master_key


def add_parser(commands: argparse._SubParsersAction) -> None:
    build = commands.add_parser("build", help="build and train an index from a population Parquet file")
    build.add_argument("--population", type=Path, required=True)
    build.add_argument("--out", type=Path, required=True)
    build.add_argument(
        "--encoded",
        action="store_true",
        help="keep no plaintext name, date of birth, postcode or NHS number in the index (names as keyed Bloom "
        "filters compared by similarity, dates as keyed tokens)",
    )
    build.add_argument(
        "--training-requests",
        type=Path,
        help="unlabelled trace requests to estimate m by EM (default: 20,000 drawn from the population by the "
        "synthetic generator, typical profile, its truth discarded)",
    )


def run(args: argparse.Namespace) -> int:
    build_index(args.population, args.out, args.training_requests, args.encoded)
    return 0


def build_index(population: Path, out: Path, training_requests: Path | None = None, encoded: bool = False) -> Index:
    """Index the population, estimate its model from unlabelled requests (the installed generator's by default),
    save both to ``out``, saying how long each took."""
    start = time.perf_counter()
    index = Index.build(pq.read_table(population), load_master_key(), encoded=encoded)
    print(f"indexed {len(index):,} records in {time.perf_counter() - start:.1f} s")
    if training_requests:
        training = pq.read_table(training_requests)
    else:
        training = installed_generator().training_requests(population)
    start = time.perf_counter()
    model = FellegiSunterEstimator().fit(index, training).model_
    print(
        f"trained on {training.num_rows:,} unlabelled requests in {time.perf_counter() - start:.1f} s; "
        f"prior share in index {model.in_index:.3f}"
    )
    index = index.with_model(model)
    index.save(out)
    print(f"wrote {out}")
    return index
