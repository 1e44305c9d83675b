"""Choose the decision threshold from an evaluation on validation requests, never on the requests reported on.

    python -m synthetic requests --population data/pop1m.parquet --count 20000 --seed 2 \\
        --out data/valid1m.parquet --truth data/valid1m_truth.parquet
    python benchmarks/choose_threshold.py --index data/idx1m --requests data/valid1m.parquet \\
        --truth data/valid1m_truth.parquet

Scores the requests once, re-decides at each threshold, prints recall and wrong-person disclosures per threshold
and the chosen one: the most permissive threshold that keeps wrong-person disclosures within 1 in 10,000 requests
(or, where none does, the most permissive of those with the fewest).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matcher.index import Index
from matcher.protection.keys import load_master_key
from matcher.reports.thresholds import choose_threshold, threshold_sweep
from matcher.tracer import Tracer

THRESHOLDS = (0.9, 0.95, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9998, 0.9999, 0.99999)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--max-wrong-person-rate", type=float, default=1e-4)
    args = parser.parse_args()
    tracer = Tracer(Index.load(args.index, load_master_key()))
    batch = tracer.trace_batch(pq.read_table(args.requests))
    points = threshold_sweep(tracer, batch, pq.read_table(args.truth), THRESHOLDS)
    print("| threshold | recall | wrong-person | wrong-person rate | 95% upper bound | ambiguous |")
    print("|---:|---:|---:|---:|---:|---:|")
    for p in points:
        print(
            f"| {p.threshold} | {p.recall:.4f} | {p.wrong_person_disclosures} | {p.wrong_person_rate:.4%} "
            f"| {p.wrong_person_upper_bound:.2e} | {p.ambiguous_rate:.2%} |"
        )
    chosen = choose_threshold(points, args.max_wrong_person_rate)
    print(f"\nchosen threshold {chosen.threshold} (current default {tracer.config.decision.threshold})")
    print(
        f"it rests on {chosen.requests:,} requests, {chosen.non_members:,} of them about people the index does not "
        f"hold: {chosen.wrong_person_disclosures} wrong-person disclosures bound the rate below "
        f"{chosen.wrong_person_upper_bound:.2e} at 95%"
    )
    if chosen.wrong_person_upper_bound > args.max_wrong_person_rate:
        print(
            f"that bound is above the limit {args.max_wrong_person_rate:.0e}: the validation set is too small to show "
            "the limit is kept (more non-member requests are needed, not a lower threshold alone)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
