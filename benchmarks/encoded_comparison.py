"""Encoded mode against plaintext mode: same data, same key, one run.

    python benchmarks/encoded_comparison.py --data data      # data files as in benchmarks/peer_comparison.py

Builds and trains both indexes on the 1M population with the same unlabelled training requests, traces the typical
and hard request sets with each, and prints recall, wrong-person disclosures, batch time and single-trace latency.
Targets (issue 4): recall within 1 point, the same wrong-person bound, speed within 2x.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matcher.estimation import FellegiSunterEstimator
from matcher.index import Index
from matcher.protection.keys import MasterKey
from matcher.reports.evaluation import evaluate
from matcher.tracer import Tracer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--single", type=int, default=2_000, help="requests timed one at a time")
    args = parser.parse_args()
    population = pq.read_table(args.data / "pop1m.parquet")
    training = pq.read_table(args.data / "train1m.parquet")
    key = MasterKey.generate()
    print(f"{population.num_rows:,} records; 20k requests per profile (30% non-members)\n")
    print("| mode | profile | recall | wrong-person | ambiguous | batch s | single median ms | single p99 ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for encoded in (False, True):
        index = Index.build(population, key, encoded=encoded)
        tracer = Tracer(index.with_model(FellegiSunterEstimator().fit(index, training).model_).warm())
        for profile in ("typical", "hard"):
            requests = pq.read_table(args.data / f"req1m_{profile}.parquet")
            truth = pq.read_table(args.data / f"truth1m_{profile}.parquet")
            start = time.perf_counter()
            batch = tracer.trace_batch(requests)
            seconds = time.perf_counter() - start
            e = evaluate(tracer.results_table(batch), truth)
            latency = []
            for row in requests.slice(0, args.single).to_pylist():
                start = time.perf_counter()
                tracer.trace(row)
                latency.append(time.perf_counter() - start)
            ms = np.asarray(latency) * 1e3
            print(
                f"| {'encoded' if encoded else 'plaintext'} | {profile} | {e.recall:.4f} | "
                f"{e.wrong_person_disclosures} | {e.ambiguous_rate:.2%} | {seconds:.2f} | "
                f"{np.median(ms):.2f} | {np.percentile(ms, 99):.2f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
