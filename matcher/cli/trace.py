"""``python -m matcher trace``: trace a Parquet file of requests, writing one result row per request."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from matcher.index import Index
from matcher.protection.keys import load_master_key
from matcher.tracer import Tracer

TRACE_CHUNK = 5_000


def add_parser(commands: argparse._SubParsersAction) -> None:
    trace = commands.add_parser("trace", help="trace a Parquet file of requests")
    trace.add_argument("--index", type=Path, required=True)
    trace.add_argument("--requests", type=Path, required=True)
    trace.add_argument("--out", type=Path, required=True)
    trace.add_argument(
        "--with-candidates", action="store_true", help="add candidate_nhs_numbers (lets evaluate measure blocking)"
    )
    trace.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    trace_file(args.index, args.requests, args.out, args.with_candidates, args.quiet)
    return 0


def trace_file(index: Path, requests_path: Path, out: Path, with_candidates: bool = False, quiet: bool = False) -> None:
    tracer = Tracer(Index.load(index, load_master_key()))
    requests = pq.read_table(requests_path)
    tables = []
    start = time.perf_counter()
    with tqdm(total=requests.num_rows, unit="req", desc="trace", disable=quiet) as bar:
        for offset in range(0, requests.num_rows, TRACE_CHUNK):
            chunk = requests.slice(offset, TRACE_CHUNK)
            tables.append(tracer.results_table(tracer.trace_batch(chunk), with_candidates=with_candidates))
            bar.update(chunk.num_rows)
    results = pa.concat_tables(tables) if tables else tracer.results_table(tracer.trace_batch(requests))
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(results, out)
    elapsed = time.perf_counter() - start
    counts = results.group_by("outcome").aggregate([("request_id", "count")]).to_pylist()
    summary = ", ".join(f"{c['outcome']} {c['request_id_count']:,}" for c in counts)
    if not quiet:
        print(f"traced {requests.num_rows:,} requests in {elapsed:.1f} s: {summary}")
