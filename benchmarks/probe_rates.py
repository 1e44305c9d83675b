"""How often the enumeration detector refuses an honest client, and how soon it stops a prober.

Honest traffic: a synthetic request file sent by one client at a steady rate (requests about different people,
with the generator's corruptions). Probers: for members of the file, the variants a requester who lacks the date of
birth or the spelling would send (the day moved, the month moved, the year moved, the given name respelt), counted
until the first refusal.

    python benchmarks/probe_rates.py --requests data/req1m_typical.parquet --limit 3 --window-minutes 60
"""

from __future__ import annotations

import argparse
import datetime as dt
import uuid
from collections.abc import Iterator

import pyarrow.parquet as pq

from api.access.probing import ProbeDetector
from api.http.models import Subject
from matcher.protection.keys import MasterKey

HONEST_RATES = (10, 100, 1_000, 3_600)  # requests per hour from one client; 3,600 is the default rate cap


def subjects(path: str) -> list[Subject]:
    out = []
    for row in pq.read_table(path, columns=["given_name", "family_name", "date_of_birth"]).to_pylist():
        try:
            born = dt.date.fromisoformat(str(row["date_of_birth"]))
        except ValueError:  # a corrupted date: the service would refuse it as 422 before the detector
            continue
        if row["family_name"]:
            out.append(Subject.model_construct(given_name=row["given_name"], family_name=row["family_name"],
                                               date_of_birth=born))
    return out


def honest_refusals(people: list[Subject], per_hour: int, limit: int, window: float) -> int:
    clock = [0.0]
    detector = ProbeDetector(MasterKey.generate(), limit, window, lambda: clock[0])
    refused = 0
    for i, subject in enumerate(people):
        clock[0] = i * 3600.0 / per_hour
        refused += detector.observe(1, subject, str(uuid.UUID(int=i))) is not None
    return refused


def probe_variants(subject: Subject, strategy: str) -> Iterator[Subject]:
    born = subject.date_of_birth
    for step in range(1, 400):
        if strategy == "day":
            moved = born + dt.timedelta(days=step)
        elif strategy == "month":
            moved = born.replace(month=(born.month + step - 1) % 12 + 1, day=min(born.day, 28))
        elif strategy == "year":
            moved = born.replace(year=born.year - step, day=min(born.day, 28))
        else:
            yield subject.model_copy(update={"given_name": (subject.given_name or "A") + "E" * step})
            continue
        yield subject.model_copy(update={"date_of_birth": moved})


def requests_until_refused(people: list[Subject], strategy: str, limit: int, window: float) -> list[int]:
    counts = []
    for subject in people:
        detector = ProbeDetector(MasterKey.generate(), limit, window, lambda: 0.0)
        for sent, variant in enumerate(probe_variants(subject, strategy), start=1):
            if detector.observe(1, variant, str(uuid.UUID(int=sent))) is not None:
                counts.append(sent)
                break
        else:
            counts.append(0)  # never refused within 400 variants
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", required=True)
    parser.add_argument("--limit", type=int, default=3)
    parser.add_argument("--window-minutes", type=int, default=60)
    parser.add_argument("--probers", type=int, default=200)
    args = parser.parse_args(argv)
    people, window = subjects(args.requests), args.window_minutes * 60.0
    print(f"limit {args.limit} near-identical requests per {args.window_minutes} min; {len(people):,} requests")
    for per_hour in HONEST_RATES:
        refused = honest_refusals(people, per_hour, args.limit, window)
        share = refused / len(people)
        print(f"honest client at {per_hour:>5}/hour: {refused:,} of {len(people):,} refused ({share:.4%})")
    for strategy in ("day", "month", "year", "given-name"):
        counts = requests_until_refused(people[: args.probers], strategy, args.limit, window)
        refused = [c for c in counts if c]
        span = f"{min(refused)}..{max(refused)}" if refused else "never"
        print(f"prober varying the {strategy:<10}: refused at request {span}"
              f" ({counts.count(0)} of {len(counts)} never refused within 400)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
