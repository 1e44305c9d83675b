"""Whom a trace must not give out with an address: people living with a restricted person (their address is the
restricted person's), and people who have died (their last address is not where they are).

    python benchmarks/withheld.py --population data/pop200k.parquet

Builds and trains an index of the population, traces an exact request for everyone of each group
(``matcher.index.households``; a date of death), and counts the outcomes and the disclosures.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matcher.estimation import FellegiSunterEstimator
from matcher.index import Index
from matcher.index.households import shares_a_restricted_address
from matcher.protection.keys import MasterKey
from matcher.tracer import Tracer, TraceRequest
from synthetic.profiles import PROFILES
from synthetic.requests import generate_requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--population", type=Path, required=True)
    args = parser.parse_args()
    population = pq.read_table(args.population)
    index = Index.build(population, MasterKey.generate())
    training = generate_requests(args.population, 10_000, PROFILES["typical"], 0.3, seed=99).requests
    tracer = Tracer(index.with_model(FellegiSunterEstimator().fit(index, training).model_))
    restricted = population.column("restricted").fill_null(False).to_numpy(zero_copy_only=False)
    dead = population.column("date_of_death").is_valid().to_numpy(zero_copy_only=False) & ~restricted
    groups = {"at a restricted person's address": shares_a_restricted_address(population), "deceased": dead}
    for group, rows in groups.items():
        people = population.take(np.flatnonzero(rows)).to_pylist()
        requests = [
            TraceRequest(
                given_name=p["given_name"],
                family_name=p["family_name"],
                date_of_birth=p["date_of_birth"].isoformat(),
                sex=p["sex"],
                postcode=p["postcode"],
            )
            for p in people
        ]
        results = tracer.trace_many(requests)
        outcomes = Counter(r.outcome.value for r in results)
        disclosed = sum(r.disclosure is not None for r in results)
        print(f"{len(people):,} people {group} of {population.num_rows:,}: {dict(outcomes)}, {disclosed} disclosed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
