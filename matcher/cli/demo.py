"""``python -m matcher demo``: a small synthetic index and requests, then build, trace and evaluate."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pyarrow.parquet as pq

from matcher.build import build_index
from matcher.cli.evaluate import evaluate_file
from matcher.cli.trace import trace_file
from matcher.contract.generator import installed_generator


def add_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo", help="generate a small synthetic index and requests, then build, trace, evaluate"
    )
    demo.add_argument("--records", type=int, default=50_000)
    demo.add_argument("--requests", type=int, default=5_000)
    demo.add_argument("--out", type=Path, default=Path("out/demo"))


def run(args: argparse.Namespace) -> int:
    if args.records < 1_000 or args.requests < 1:
        raise ValueError("the demo needs at least 1,000 records and 1 request")
    out: Path = args.out
    population, requests, truth = out / "population.parquet", out / "requests.parquet", out / "truth.parquet"
    generator = installed_generator()
    generator.write_population(population, args.records, seed=1)
    generator.write_requests(population, args.requests, 1, requests, truth)
    print(f"generated {args.records:,} records and {args.requests:,} typical requests in {out}")
    build_index(population, out / "index")
    trace_file(out / "index", requests, out / "results.parquet", with_candidates=True, quiet=True)
    evaluate_file(out / "results.parquet", truth, out / "report")
    row = pq.read_table(population).slice(0, 1).to_pylist()[0]
    example = {
        "given_name": row["given_name"],
        "family_name": row["family_name"],
        "date_of_birth": row["date_of_birth"].isoformat(),
    }
    print(f"\nexplain one trace: python -m matcher explain --index {out / 'index'} --request '{json.dumps(example)}'")
    return 0
