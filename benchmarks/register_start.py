"""What the checks at start cost on a large register: the whole-chain walk against what start did before it.

    python benchmarks/register_start.py [--entries 200000] [--database-url postgresql+psycopg://...]

On a fresh database (a temporary SQLite file unless --database-url, for which a fresh PostgreSQL schema is made and
dropped), ``entries`` register entries are written in batches of 1,000 as a busy service writes them; then a new
register on the same database and head file is opened three times, as a start opens it (``AuditRegister.open``:
the head file, the count, the tail after the checkpoint and now every entry's hash), besides the head-file
comparison alone (``against``: what start did before the walk) and the search for foreign triggers. Prints the
median of each and one Markdown row for docs/benchmarks.md.
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

from api.audit.entry import EntryDraft
from api.audit.head import HeadFile, head_path
from api.audit.outcomes import RegisterOutcome
from api.audit.register import AuditRegister
from api.storage.engine import make_engine
from api.storage.foreign import foreign_objects
from api.storage.migrate import head_revision, upgrade
from matcher.protection.keys import MasterKey


def _fill(register: AuditRegister, entries: int) -> None:
    now = dt.datetime.now(dt.UTC)
    for start in range(0, entries, 1_000):
        drafts = [
            EntryDraft(
                str(uuid.uuid4()),
                1,
                "bench-requester",
                RegisterOutcome.TRACED,
                200,
                subject_token="ab" * 32,
                fields_disclosed=("address", "gp_practice", "registration_date"),
                refusal_codes=(),
            )
            for _ in range(min(1_000, entries - start))
        ]
        register.append_many(drafts, now)


def _median_seconds(step, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    key = MasterKey.generate()
    with tempfile.TemporaryDirectory() as workdir:
        url, drop = _fresh_database(args.database_url, Path(workdir))
        engine = make_engine(url)
        try:
            upgrade(engine, key=key)
            head = HeadFile(head_path(url, Path(workdir)), key, head_revision())
            writer = AuditRegister(engine, key, head)
            writer.open()
            started = time.perf_counter()
            _fill(writer, args.entries)
            filled = time.perf_counter() - started
            checkpoint = head.read()
            opened = _median_seconds(lambda: AuditRegister(engine, key, head).open())
            compared = _median_seconds(lambda: AuditRegister(engine, key, head).against(checkpoint))
            foreign = _median_seconds(lambda: foreign_objects(engine))
        finally:
            engine.dispose()
            drop()
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.entries:,} entries written in {filled:.1f} s on {database}")
    print(f"start's register checks (open): {opened:.2f} s median of 3; head file comparison alone {compared:.2f} s")
    print(f"foreign triggers, rules, row security: {foreign * 1000:.1f} ms")
    print(
        f"| {database} | {args.entries:,} | {opened:.2f} s | {compared:.2f} s | "
        f"{opened / args.entries * 1e6:.1f} µs | {platform.machine()}, {os.cpu_count()} cores |"
    )


if __name__ == "__main__":
    main()
