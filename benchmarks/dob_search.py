"""A search for a person's date of birth, one date after another, each with a spelling of its own: how much of it
enumeration detection counts on the person's record.

The attacker knows a target's given and family name and year of birth, and sends every date of that year until
one is traced. Spelling each date another way, so that every phonetic code changes (the given name's first letter,
a consonant of the family name, a part appended to it, the family name cut to three letters), puts each request
in a name group of its own; only the count on the record can stop it (``api.access.probing``). A wrong date is
counted on the target when the target is among the records it may be about (``Tracer.records_about``).

For each target, the spellings that trace it on the right date are the attacker's; a sample of the year's wrong
dates is sent with them in rotation. With ``c`` of the year's wrong dates counted on the record, a sweep in random
order reaches the right date before the limit with probability min(1, limit / (c + 1)): the chance the attack
discloses the date and address. Three lawful answers, the limit, give limit / 365.

    python -m benchmarks.dob_search --index data/idx1m --population data/pop1m.parquet --targets 200 \
        --requests data/req1m_typical.parquet

With ``--requests``, also what the count costs: the time per request of tracing a request file in batches of 64,
against tracing it and finding the records each request may be about, in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from matcher.contract.request import TraceRequest
from matcher.decision import Outcome
from matcher.index import Index
from matcher.protection.keys import load_master_key
from matcher.tracer import Tracer

# Respellings that change a phonetic code of one name and that the core may still trace on the right date.
RESPELLINGS: dict[str, Callable[[TraceRequest], TraceRequest]] = {
    "given initial": lambda r: replace(r, given_name=("U" if r.given_name[0] != "U" else "Y") + r.given_name[1:]),
    "family consonant": lambda r: replace(r, family_name=_change_a_consonant(r.family_name)),
    "family appended": lambda r: replace(r, family_name=r.family_name + "-RNAS"),
    "family cut": lambda r: replace(r, family_name=r.family_name[:3]),
    "family initial": lambda r: replace(r, family_name=("W" if r.family_name[0] != "W" else "V") + r.family_name[1:]),
    "no given name": lambda r: replace(r, given_name=None),
}


def _change_a_consonant(name: str) -> str:
    for i in range(len(name) - 1, 0, -1):
        if name[i].isalpha() and name[i] not in "AEIOUYHW":
            return name[:i] + ("Q" if name[i] != "Q" else "X") + name[i + 1 :]
    return name + "Q"


@dataclass(frozen=True)
class TargetResult:
    spellings: tuple[str, ...]  # those that trace the target on the right date
    counted: float  # share of the sampled wrong dates counted on the target, spellings in rotation
    counted_best_spelling: float  # the same for the one spelling least counted


def sweep(tracer: Tracer, target: dict, row: int, dates: int, rng: np.random.Generator) -> TargetResult:
    born: dt.date = target["date_of_birth"]
    exact = TraceRequest(
        family_name=target["family_name"], given_name=target["given_name"], date_of_birth=born.isoformat()
    )
    usable = []
    for name, respell in RESPELLINGS.items():
        request = respell(exact)
        result = tracer.trace_many([request])[0]
        if result.outcome is Outcome.MATCHED and result.record == row:
            usable.append((name, request))
    if not usable:
        return TargetResult((), 0.0, 0.0)
    year = [born.replace(month=1, day=1) + dt.timedelta(days=d) for d in range(366)]
    wrong = [d for d in year if d.year == born.year and d != born]
    sample = rng.choice(len(wrong), size=min(dates, len(wrong)), replace=False)
    requests, spelling_of = [], []
    for k, i in enumerate(sample):
        spelling, request = usable[k % len(usable)]
        requests.append(replace(request, date_of_birth=wrong[i].isoformat()))
        spelling_of.append(spelling)
    results = tracer.trace_many(requests)
    about = tracer.records_about(requests, results)
    counted = np.array([row in rows for rows in about])
    by_spelling = {name: counted[[s == name for s in spelling_of]].mean() for name, _ in usable}
    return TargetResult(tuple(n for n, _ in usable), float(counted.mean()), float(min(by_spelling.values())))


def traceable_targets(
    tracer: Tracer, population: pa.Table, count: int, rng: np.random.Generator, with_postcode: bool = False
) -> list[tuple[dict, int]]:
    """The attacker's targets and their index rows: ``count`` living, unrestricted people with a given name (and
    a postcode), picked at random, of whom those the core traces from name and date of birth (and postcode)."""
    eligible = pc.and_(pc.is_null(population["date_of_death"]), pc.invert(population["restricted"]))
    eligible = pc.and_(eligible, pc.is_valid(population["given_name"]))
    if with_postcode:
        eligible = pc.and_(eligible, pc.is_valid(population["postcode"]))
    picked = rng.choice(np.flatnonzero(eligible.to_numpy(False)), size=count, replace=False)
    out = []
    for i in picked.tolist():
        target = population.slice(i, 1).to_pylist()[0]
        request = TraceRequest(
            family_name=target["family_name"],
            given_name=target["given_name"],
            date_of_birth=target["date_of_birth"].isoformat(),
            postcode=target["postcode"] if with_postcode else None,
        )
        [result] = tracer.trace_many([request])
        if result.outcome is Outcome.MATCHED:
            out.append((target, result.record))
    return out


def cost(tracer: Tracer, requests: list[TraceRequest], batch: int = 64) -> tuple[float, float]:
    """Milliseconds per request: tracing alone, and tracing with ``records_about``."""
    timings = []
    for with_records in (False, True, False, True):
        started = time.perf_counter()
        for first in range(0, len(requests), batch):
            some = requests[first : first + batch]
            results = tracer.trace_many(some)
            if with_records:
                tracer.records_about(some, results)
        timings.append(1e3 * (time.perf_counter() - started) / len(requests))
    return min(timings[0::2]), min(timings[1::2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--population", required=True)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--dates", type=int, default=60, help="wrong dates sampled per target")
    parser.add_argument("--limit", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", help="a request file, to time what the count costs")
    args = parser.parse_args()

    key = load_master_key()
    tracer = Tracer(Index.load(args.index, key).warm())
    population = pq.read_table(args.population)
    rng = np.random.default_rng(args.seed)
    targets = traceable_targets(tracer, population, args.targets, rng)
    started = time.perf_counter()
    results = []
    for target, row in targets:
        results.append(sweep(tracer, target, row, args.dates, rng))
    elapsed = time.perf_counter() - started
    attackable = [r for r in results if r.spellings]
    print(
        f"index {len(tracer.index):,} records; {args.targets} targets, {len(results)} traced from name and date "
        f"of birth, {len(attackable)} also from a respelling; {args.dates} wrong dates each; {elapsed:.0f} s"
    )
    for label, share in (("spellings in rotation", "counted"), ("the least-counted spelling", "counted_best_spelling")):
        counted = np.array([getattr(r, share) for r in attackable])
        c = counted * 364
        success = np.minimum(1.0, args.limit / (c + 1))
        print(
            f"{label}: wrong dates counted on the target, median {np.median(counted):.1%}, least "
            f"{counted.min():.1%}; targets with under 99% counted {int((counted < 0.99).sum())}; "
            f"attack success probability, mean {success.mean():.2%} (limit {args.limit}; "
            f"{args.limit} lawful guesses: {args.limit / 365:.2%})"
        )
    for name in RESPELLINGS:
        n = sum(name in r.spellings for r in attackable)
        print(f"  {name:>18}: traces the target on the right date for {n} of {len(results)}")
    if args.requests:
        from benchmarks.probe_rates import honest_requests

        requests = honest_requests(args.requests, correction_rate=0.0, seed=args.seed)[:5_000]
        alone, counted = cost(tracer, requests)
        print(f"cost, {len(requests):,} requests in batches of 64 (best of two): trace {alone:.2f} ms a request, "
              f"trace and records_about {counted:.2f} ms ({counted / alone:.2f}x)")


if __name__ == "__main__":
    main()
