"""What the register's head file costs a write: register appends with and without it, interleaved, on one database.

    python benchmarks/register_head.py [--appends 400] [--batch 1] [--rounds 3] [--database-url postgresql+psycopg://...]

On a fresh database (a temporary SQLite file unless --database-url, for which a fresh PostgreSQL schema is made and
dropped), rounds of ``appends`` batches of ``batch`` entries each, alternately through a register that keeps a head
file (as the service does: after each committed batch) and one that keeps none; the head file's own write
(``HeadFile.advance``) timed alone besides. Prints the median and mean time per batch of each, and one Markdown row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from api_load import _fresh_database

from api.audit.head import HeadFile, head_path
from api.audit.outcomes import RegisterOutcome
from api.audit.register import AuditRegister
from api.storage.engine import make_engine
from api.storage.migrate import upgrade
from api.usecases.service import SERVICE, TraceService
from matcher.protection.keys import MasterKey


def _timed_appends(register: AuditRegister, appends: int, batch: int) -> list[float]:
    times = []
    for _ in range(appends):
        drafts = [TraceService.draft(SERVICE, RegisterOutcome.STATUS_READ, 200) for _ in range(batch)]
        start = time.perf_counter()
        register.append_many(drafts, dt.datetime.now(dt.UTC))
        times.append(time.perf_counter() - start)
    return times


def run(appends: int, batch: int, rounds: int, database_url: str | None) -> dict:
    key = MasterKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = _fresh_database(database_url, Path(tmp))
        engine = make_engine(url)
        try:
            upgrade(engine)
            head = HeadFile(head_path(url, Path(tmp)), key)
            with_head, without = AuditRegister(engine, key, head), AuditRegister(engine, key)
            with_head.open()
            timings: dict[str, list[float]] = {"with": [], "without": []}
            for _ in range(rounds):
                timings["with"] += _timed_appends(with_head, appends, batch)
                timings["without"] += _timed_appends(without, appends, batch)
                with_head.open()  # the other register wrote meanwhile: this one learns the new head, as at a start
            newest = with_head.newest()
            advance = []
            for step in range(1, appends + 1):  # the file alone, raised by one each time as after each batch
                start = time.perf_counter()
                head.replace(newest.sequence + step, newest.entry_hash)
                advance.append(time.perf_counter() - start)
        finally:
            engine.dispose()
            drop()
    return {
        "database": "PostgreSQL" if database_url else "SQLite",
        "batch": batch,
        "batches": appends * rounds,
        **{f"{name}_median_ms": statistics.median(t) * 1000 for name, t in timings.items()},
        **{f"{name}_mean_ms": statistics.fmean(t) * 1000 for name, t in timings.items()},
        "head_write_median_ms": statistics.median(advance) * 1000,
        "head_write_mean_ms": statistics.fmean(advance) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appends", type=int, default=400)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="PostgreSQL base URL; default a temporary SQLite file")
    args = parser.parse_args()
    result = run(args.appends, args.batch, args.rounds, args.database_url)
    print(result)
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores")
    print("| database | batch | batches | with head file: median, mean ms | without | the head file's write alone |")
    print("|---|---:|---:|---|---|---|")
    print(
        f"| {result['database']} | {result['batch']} | {result['batches']:,} | {result['with_median_ms']:.2f}, "
        f"{result['with_mean_ms']:.2f} | {result['without_median_ms']:.2f}, {result['without_mean_ms']:.2f} | "
        f"{result['head_write_median_ms']:.2f}, {result['head_write_mean_ms']:.2f} |"
    )


if __name__ == "__main__":
    main()
