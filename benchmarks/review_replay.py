"""What replaying the held requests' rows against the register costs a start, and a decision's or collection's check.

    python benchmarks/review_replay.py [--cases 25000] [--other 0] [--database-url postgresql+psycopg://...]

On a fresh database (a temporary SQLite file unless --database-url, for which a fresh PostgreSQL schema is made and
dropped), ``cases`` held requests each with the four entries of a full history (held, approved, collected,
expired: so 100,000 review entries for the default), their rows as the service leaves them (a MAC, a sealed case of
1.5 kB), and ``other`` entries that are not review steps (reads), interleaved. Times ``api.review.replay.replay``
(what each start and ``register verify`` do) and the one-case look-up each decision and collection makes
(``recorded_case``), with and without migration 0007's index on ``concerns``. Prints one Markdown row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from api_load import _fresh_database
from sqlalchemy import insert, text

from api.audit.entry import EntryDraft
from api.audit.outcomes import RegisterOutcome
from api.audit.register import AuditRegister
from api.review.integrity import RowSeal
from api.review.replay import recorded_case, replay
from api.storage.engine import make_engine
from api.storage.migrate import upgrade
from api.storage.tables import reviews
from api.usecases.service import SERVICE, TraceService
from matcher.protection.keys import MasterKey

_AT = "2026-11-22T12:00:00.000000+00:00"
_STEPS = (RegisterOutcome.REVIEW_APPROVED, RegisterOutcome.COLLECTED, RegisterOutcome.EXPIRED)


def _fill(register: AuditRegister, seal: RowSeal, cases: int, other: int, batch: int = 250) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(cases)]
    per_case = other / max(cases, 1)
    owed = 0.0
    for start in range(0, cases, batch):
        drafts, rows = [], []
        for trace_id in ids[start : start + batch]:
            drafts.append(EntryDraft(trace_id, 7, "requester", RegisterOutcome.PENDING_REVIEW, 200))
            drafts += [TraceService.draft(SERVICE, step, 200, concerns=trace_id) for step in _STEPS]
            owed += per_case
            while owed >= 1:
                drafts.append(TraceService.draft(SERVICE, RegisterOutcome.STATUS_READ, 200))
                owed -= 1
            values = {
                "trace_id": trace_id,
                "client_id": 7,
                "organisation": "home-office",
                "reason": "enumeration",
                "policy_version": "mou-2018-05",
                "created_at": _AT,
                "sealed_case": os.urandom(1500),
                "state": "approved",
                "decided_at": _AT,
                "decided_by": 9,
                "first_approved_at": None,
                "first_approved_by": None,
                "first_approved_organisation": None,
                "sealed_disclosure": None,
                "collected_at": _AT,
                "expired_at": _AT,
            }
            rows.append({**values, "row_mac": seal.mac(values)})
        register.append_many(drafts, dt.datetime.now(dt.UTC))
        with register.engine.begin() as connection:
            connection.execute(insert(reviews), rows)
    return ids


def _lookups(register: AuditRegister, ids: list[str], count: int = 200) -> float:
    """The median milliseconds of one case's look-up, over ``count`` cases spread through the register."""
    times = []
    with register.engine.connect() as connection:
        for trace_id in ids[:: max(len(ids) // count, 1)][:count]:
            start = time.perf_counter()
            recorded_case(connection, trace_id, "", register.authentic)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(cases: int, other: int, database_url: str | None) -> dict:
    key = MasterKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = _fresh_database(database_url, Path(tmp))
        engine = make_engine(url)
        try:
            upgrade(engine)
            register, seal = AuditRegister(engine, key), RowSeal(key)
            ids = _fill(register, seal, cases, other)
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
            start = time.perf_counter()
            findings = replay(engine, register, seal)
            seconds = time.perf_counter() - start
            assert findings == [], findings[:3]
            indexed = _lookups(register, ids)
            with engine.begin() as connection:
                connection.execute(text("DROP INDEX register_entries_concerns"))
            unindexed = _lookups(register, ids, count=20)
        finally:
            engine.dispose()
            drop()
    return {
        "database": "PostgreSQL" if database_url else "SQLite",
        "review_entries": cases * 4,
        "other_entries": other,
        "rows": cases,
        "replay_s": seconds,
        "lookup_ms": indexed,
        "lookup_unindexed_ms": unindexed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=25_000)
    parser.add_argument("--other", type=int, default=0, help="entries that are not review steps, interleaved")
    parser.add_argument("--database-url", help="PostgreSQL base URL; default a temporary SQLite file")
    args = parser.parse_args()
    result = run(args.cases, args.other, args.database_url)
    print(result)
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores")
    print("| database | review entries | other entries | rows | replay at start | one case's look-up | unindexed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {result['database']} | {result['review_entries']:,} | {result['other_entries']:,} | {result['rows']:,} "
        f"| {result['replay_s']:.2f} s | {result['lookup_ms']:.2f} ms | {result['lookup_unindexed_ms']:.2f} ms |"
    )


if __name__ == "__main__":
    main()
