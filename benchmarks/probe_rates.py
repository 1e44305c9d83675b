"""How often enumeration detection holds an honest organisation's requests, and for which group.

Honest traffic: a synthetic request file (requests about different people, with the generator's corruptions and
its non-members) sent by one organisation at a steady daily rate, traced by the core on an index, each request
counted as the service counts it (``api.access.probing``: the records it may be about, ``Tracer.records_about``,
and its name group), on a
SQLite database of its own. A share of the requests is followed by the caseworker's correction: the same person
again with the given name dropped (a second variant about the same record).

    python -m benchmarks.probe_rates --index data/idx1m --requests data/req1m_typical.parquet --per-day 1000

Prints the share held, overall and by the group that held it (the record landed on, or the name searched with any
date of birth), with a 95% interval.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from api.access.probing import ProbeCounter, ProbeTokens
from api.storage.engine import make_engine
from api.storage.migrate import upgrade
from matcher.contract.request import TraceRequest
from matcher.index import Index
from matcher.protection.keys import load_master_key
from matcher.tracer import Tracer

FIELDS = ("family_name", "given_name", "other_given_names", "sex", "postcode", "address_line_1", "date_of_birth")


def honest_requests(path: Path, correction_rate: float, seed: int) -> list[TraceRequest]:
    rng = np.random.default_rng(seed)
    out = []
    for row in pq.read_table(path).to_pylist():
        try:
            born = dt.date.fromisoformat(str(row["date_of_birth"]))
        except ValueError:  # a corrupted date: the service refuses it as 422 before anything is counted
            continue
        if not row["family_name"] or born.year < 1900:
            continue
        request = TraceRequest(**{f: row.get(f) for f in FIELDS[:-1]}, date_of_birth=born.isoformat())
        out.append(request)
        if request.given_name and rng.random() < correction_rate:
            out.append(replace(request, given_name=None))
    return out


def interval(held: int, total: int) -> tuple[float, float]:
    """Wilson's 95% interval for a share."""
    if total == 0:
        return 0.0, 1.0
    p, z = held / total, 1.96
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--per-day", type=int, default=1_000)
    parser.add_argument("--limit", type=int, default=3)
    parser.add_argument("--window-minutes", type=int, default=1_440)
    parser.add_argument("--correction-rate", type=float, default=0.05)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    key = load_master_key()
    tracer = Tracer(Index.load(args.index, key).warm())
    requests = honest_requests(args.requests, args.correction_rate, args.seed)
    tokens = ProbeTokens(key)
    start = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    gap = dt.timedelta(days=1) / args.per_day
    held = {"any": 0, "record": 0, "name": 0}
    with tempfile.TemporaryDirectory() as scratch:
        counters = {}
        for group in held:
            engine = make_engine(f"sqlite:///{scratch}/{group}.db")
            upgrade(engine)
            now = [start]
            window = dt.timedelta(minutes=args.window_minutes)
            counters[group] = (ProbeCounter(engine, args.limit, window, lambda now=now: now[0]), now)
        for first in range(0, len(requests), args.batch):
            batch = requests[first : first + args.batch]
            results = tracer.trace_many(batch)
            about = tracer.records_about(batch, results)
            landings = [
                tokens.landing("HONEST", str(uuid.uuid4()), request, tracer.nhs_numbers(np.array(rows, np.int64)))
                for request, rows in zip(batch, about, strict=True)
            ]
            records = [replace(x, groups=x.groups[: len(rows)]) for x, rows in zip(landings, about, strict=True)]
            names = [replace(x, groups=x.groups[len(rows) :]) for x, rows in zip(landings, about, strict=True)]
            for group, batch_landings in (("any", landings), ("record", records), ("name", names)):
                counter, now = counters[group]
                now[0] = start + gap * first
                held[group] += sum(p is not None for p in counter.count(batch_landings))
    total = len(requests)
    print(f"{total:,} honest requests at {args.per_day:,} a day (corrections {args.correction_rate:.0%}); "
          f"limit {args.limit} variants per {args.window_minutes} min; index {len(tracer.index):,} records")
    for group, count in held.items():
        low, high = interval(count, total)
        label = {"any": "held (either group)", "record": "  by a record", "name": "  by a name"}[group]
        print(f"{label:>22}: {count:,} ({count / total:.3%}, 95% interval {low:.3%}-{high:.3%})")


if __name__ == "__main__":
    main()
