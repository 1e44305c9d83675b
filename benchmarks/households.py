"""How many people living with a restricted person a trace gives out (their address is the restricted person's).

    python benchmarks/households.py --population data/pop200k.parquet

Builds and trains an index of the population, traces an exact request for everyone at a restricted person's
address (``matcher.index.households``), and counts the outcomes and the disclosures.
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
    people = population.take(np.flatnonzero(shares_a_restricted_address(population))).to_pylist()
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
    print(f"{len(people):,} people at a restricted person's address of {population.num_rows:,}")
    print(f"outcomes of their exact requests: {dict(outcomes)}; disclosures: {disclosed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
