"""Peer comparison: our tracer against an MPS-style baseline, recordlinkage 0.16 and Splink 5, same data, one run.

    pip install -e ".[dev,peers]"
    python -m synthetic population --records 1000000 --seed 1 --out data/pop1m.parquet
    python -m synthetic requests --population data/pop1m.parquet --count 20000 --seed 1 \\
        --out data/req1m_typical.parquet --truth data/truth1m_typical.parquet
    python -m synthetic requests --population data/pop1m.parquet --count 20000 --seed 99 \\
        --out data/train1m.parquet --truth data/train1m_truth.parquet
    python benchmarks/peer_comparison.py --data data

Every peer trains on the same unlabelled training requests (the truth of the evaluated requests is read only to
score). Prints a Markdown table of precision, recall, wrong-person matches, ambiguous rate and time, and the
single-request latency and batch throughput of ours against Splink's.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.peers import mps_baseline, recordlinkage_peer, splink_peer
from matcher.estimation import FellegiSunterEstimator
from matcher.index import Index
from matcher.protection.keys import MasterKey
from matcher.reports.evaluation import evaluate
from matcher.tracer import Tracer


def ours(population, requests, training) -> dict:
    start = time.perf_counter()
    index = Index.build(population, MasterKey.generate())
    index = index.with_model(FellegiSunterEstimator().fit(index, training).model_)
    train = time.perf_counter() - start
    tracer = Tracer(index)
    start = time.perf_counter()
    results = tracer.results_table(tracer.trace_batch(requests))
    predict = time.perf_counter() - start
    return {"results": results, "train": train, "predict": predict, "tracer": tracer}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--profile", default="typical")
    parser.add_argument("--single", type=int, default=25, help="requests timed one at a time for latency")
    args = parser.parse_args()
    population = pq.read_table(args.data / "pop1m.parquet")
    requests = pq.read_table(args.data / f"req1m_{args.profile}.parquet")
    truth = pq.read_table(args.data / f"truth1m_{args.profile}.parquet")
    training = pq.read_table(args.data / "train1m.parquet")

    rows = []
    mine = ours(population, requests, training)
    rows.append(("this tracer", mine["results"], mine["train"], mine["predict"]))
    splink_run = None
    for name, module in (
        ("MPS-style baseline", mps_baseline),
        ("recordlinkage 0.16 ECM", recordlinkage_peer),
        ("Splink 5 (DuckDB)", splink_peer),
    ):
        run = module.trace(population, requests, training)
        rows.append((name, run.results, run.train_seconds, run.predict_seconds))
        if module is splink_peer:
            splink_run = run

    print(f"\n{population.num_rows:,} records, {requests.num_rows:,} {args.profile} requests (30% non-members)\n")
    print("| system | precision | recall | wrong-person matches | ambiguous | train s | trace s | requests/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, results, train, predict in rows:
        e = evaluate(results, truth)
        print(
            f"| {name} | {e.precision:.5f} | {e.recall:.4f} | {e.wrong_person_disclosures} | "
            f"{e.ambiguous_rate:.2%} | {train:.1f} | {predict:.2f} | {requests.num_rows / predict:,.0f} |"
        )

    sample = requests.slice(0, args.single).to_pylist()
    tracer = mine["tracer"]
    ours_single = []
    for row in sample:
        start = time.perf_counter()
        tracer.trace(row)
        ours_single.append(time.perf_counter() - start)
    splink_single = [splink_peer.single_request_seconds(splink_run.model, row) for row in sample]
    ours_ms, splink_ms = np.median(ours_single) * 1e3, np.median(splink_single) * 1e3
    print(
        f"\nsingle request (median of {len(sample)}): ours {ours_ms:.2f} ms, Splink predict_between "
        f"{splink_ms:.1f} ms: {splink_ms / ours_ms:.0f}x"
    )
    print(
        f"batch: ours {rows[0][3]:.2f} s, Splink predict {splink_run.predict_seconds:.2f} s: "
        f"{splink_run.predict_seconds / rows[0][3]:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
