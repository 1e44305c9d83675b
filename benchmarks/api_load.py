"""Load benchmark: real HTTP requests against `python -m api serve` (uvicorn) on loopback.

    python benchmarks/api_load.py --index data/idx1m --requests data/req1m_typical.parquet \\
        --concurrency 16 --duration 30 [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Starts the service in its own process on a fresh database (a temporary SQLite file unless --database-url, for
which a fresh PostgreSQL schema is made and dropped), adds a requester client, and sends trace requests built
from the synthetic request file (members and non-members, as the generator made them) from a separate client
process: ``concurrency`` keep-alive connections (httpx, asyncio), each sending its next request when the last is
answered, for ``duration`` seconds after a warm-up. Reports throughput, latency percentiles, statuses and errors,
then checks that the register holds one entry per request and verifies. Prints one Markdown table row.

``--head-file-cost ROUNDS`` measures what the register's head file costs instead: ROUNDS runs with it and ROUNDS
without it (``benchmarks/serve_without_head.py``), interleaved, one table row each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from load_clients import drive_httpx, drive_wrk

GROUNDS = {
    "basis": {"category": 1, "offence": "s24(1)(b)(i)", "serious_crime": "conviction_deportation_considered"},
    "investigation": {
        "reference": "HO-2026-1",
        "last_contact": "2026-01-05",
        "channels_tried": ["last known address visited"],
        "no_known_explanation": True,
    },
    "officers": {"requesting": {"id": "HO-EO-1", "grade": "EO"}, "authorising": {"id": "HO-HEO-2", "grade": "HEO"}},
}


def request_bodies(path: Path, limit: int) -> list[bytes]:
    """Trace request bodies from a synthetic request file (subject fields only; the grounds are fixed). Requests
    the API would reject are left out (about 1%: a corrupted date of birth such as 1991-52-12 is a 422 here)."""
    rows = pq.read_table(path).slice(0, limit).to_pylist()
    return [body for row in rows if (body := trace_body(row)) is not None]


def trace_body(row: dict, grounds: dict = GROUNDS) -> bytes | None:
    """One trace request body: the subject of a synthetic request (or population) row with these grounds, or None
    if the API would reject it as malformed (a 422 measures the validator, not a trace)."""
    from pydantic import ValidationError

    from api.cli.simulation import subject_of
    from api.http.models import TraceRequestBody

    body = json.dumps({"subject": subject_of(row), **grounds}).encode()
    try:
        TraceRequestBody.model_validate_json(body)
    except ValidationError:
        return None
    return body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_database(url: str | None, workdir: Path) -> tuple[str, callable]:
    if url is None:
        return f"sqlite:///{workdir / 'state.db'}", lambda: None
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, pool_pre_ping=True)  # the database may have been restarted meanwhile (api_outage)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}", drop


# The service's enumeration detection (TRACING_PROBE_LIMIT: by default 3 variants about one record a day per
# organisation) holds for review what a benchmark has to send: a finite request file cycled for minutes, whose
# synthetic people share blocking keys (twin-like non-members share a member's family name and date of birth).
# Loosened rather than off, so that its memory (one window's requests) is still exercised; a service without
# the detector ignores the variables, and a value exported in the environment wins.
SERVICE_ENV = {"TRACING_PROBE_LIMIT": "1000", "TRACING_PROBE_WINDOW_MINUTES": "1"}


@dataclass
class Served:
    """The service while ``serving`` runs it; once the block has ended, what its log and register say."""

    url: str  # http://127.0.0.1:<port>, no path
    key: str  # a requester client's key, rate-limited far above anything a benchmark sends
    pid: int
    startup_s: float
    server_error_lines: list[str] = field(default_factory=list)
    register_verified: bool = False
    register_entries: int = -1
    register_outcomes: dict[str, int] = field(default_factory=dict)

    def rss_mib(self) -> float:
        return _rss_mib(self.pid)


@contextmanager
def serving(
    index: Path,
    database_url: str | None = None,
    service_env: dict[str, str] = SERVICE_ENV,
    head_file: bool = True,
) -> Iterator[Served]:
    """``python -m api serve`` on loopback, on a fresh database (a temporary SQLite file unless ``database_url``,
    for which a fresh PostgreSQL schema is made and dropped), with a requester client. When the block ends the
    service is stopped, its log read for errors and the register verified (the fields of Served after the block).
    Without ``head_file``, the service keeps no register head file (to measure what it costs)."""
    with tempfile.TemporaryDirectory() as tmp:
        db_url, drop = _fresh_database(database_url, Path(tmp))
        try:
            port = _free_port()
            env = {
                **service_env,
                **os.environ,
                "TRACING_INDEX_DIR": str(index),
                "DATABASE_URL": db_url,
                "TRACING_PORT": str(port),
                "TRACING_REGISTER_HEAD_DIR": tmp,  # the head file of a PostgreSQL schema goes with it
            }
            key = _add_client(env)
            log_path = Path(tmp) / "server.log"
            with log_path.open("w") as log:  # a file, not a pipe: an unread pipe fills and stalls the server's log
                without = str(Path(__file__).with_name("serve_without_head.py"))
                command = ["-m", "api", "serve"] if head_file else [without]
                server = subprocess.Popen([sys.executable, *command], env=env, stdout=log, stderr=subprocess.STDOUT)
                try:
                    served = Served(f"http://127.0.0.1:{port}", key, server.pid, _wait_until_ready(port, server))
                    yield served
                finally:
                    server.terminate()
                    server.wait(timeout=30)
            output = log_path.read_text().splitlines()
            served.server_error_lines = [line for line in output if "unhandled" in line or "Traceback" in line]
            _check_register(served, env, db_url, head_file)
        finally:
            drop()


def _add_client(env: dict[str, str]) -> str:
    subprocess.run([sys.executable, "-m", "api", "organisations", "add", "--name", "bench"], env=env,
                   capture_output=True, text=True)  # fmt: skip
    add = subprocess.run(
        [sys.executable, "-m", "api", "clients", "add", "--name", "bench", "--role", "requester",
         "--rate-per-minute", "1000000", "--organisation", "bench"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return add.stdout.strip().splitlines()[-1]


def _check_register(served: Served, env: dict[str, str], database_url: str, head_file: bool = True) -> None:
    served.register_outcomes = _outcomes(database_url)
    if not head_file:  # the command would refuse a register without its head file: its links only, here
        served.register_verified, served.register_entries = _links_verify(database_url)
        return
    verify = subprocess.run(
        [sys.executable, "-m", "api", "register", "verify"], env=env, capture_output=True, text=True
    )
    served.register_verified = verify.returncode == 0
    if served.register_verified:
        served.register_entries = int(verify.stdout.split("intact: ")[1].split(" entries")[0].replace(",", ""))


def _links_verify(database_url: str) -> tuple[bool, int]:
    from api.audit.register import AuditRegister
    from api.storage.engine import make_engine
    from matcher.protection.keys import load_master_key

    engine = make_engine(database_url)
    try:
        result = AuditRegister(engine, load_master_key()).verify()
    finally:
        engine.dispose()
    return result.ok, result.entries


def run(
    index: Path,
    requests: Path,
    concurrency: int = 16,
    duration: float = 30.0,
    warmup: float = 3.0,
    database_url: str | None = None,
    client: str = "wrk",
    head_file: bool = True,
) -> dict:
    bodies = request_bodies(requests, 20_000)
    with serving(index, database_url, head_file=head_file) as served:
        drive = drive_wrk if client == "wrk" else drive_httpx
        result = drive(f"{served.url}/v1/traces", served.key, bodies, concurrency, warmup, duration)
        server_rss = served.rss_mib()
    return {
        "database": "PostgreSQL" if database_url else "SQLite",
        "head_file": head_file,
        "client": client,
        "concurrency": concurrency,
        "measured_requests": result["requests"],
        "throughput": result["requests"] / result["elapsed"],
        **{k: result[k] for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")},
        "register_outcomes": served.register_outcomes,
        "errors": sum(result["errors"].values()),
        "client_errors": result["errors"],
        "server_errors": len(served.server_error_lines),
        "server_error_lines": served.server_error_lines[:5],
        "register_entries": served.register_entries,
        "requests_sent": result["sent"],
        "register_verified": served.register_verified,
        "server_rss_mib": server_rss,
        "startup_s": served.startup_s,
    }


def _outcomes(database_url: str) -> dict[str, int]:
    """What the register says was answered, by outcome (warm-up included)."""
    from sqlalchemy import func, select

    from api.storage.engine import make_engine
    from api.storage.tables import register_entries

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            query = select(register_entries.c.outcome, func.count()).group_by(register_entries.c.outcome)
            return dict(connection.execute(query).all())
    finally:
        engine.dispose()


def _wait_until_ready(port: int, server: subprocess.Popen, timeout: float = 120.0) -> float:
    import httpx

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if server.poll() is not None:
            raise RuntimeError("the service exited before it was ready (see its log)")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the service did not become ready")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--database-url", help="PostgreSQL base URL; default a temporary SQLite file")
    parser.add_argument(
        "--client",
        choices=["wrk", "httpx"],
        default="wrk" if shutil.which("wrk") else "httpx",
        help="wrk (Debian package `wrk`; the default when installed) or httpx in a process of its own",
    )
    parser.add_argument(
        "--head-file-cost",
        type=int,
        metavar="ROUNDS",
        help="ROUNDS runs with the register's head file and ROUNDS without it, interleaved (what it costs)",
    )
    args = parser.parse_args()
    options = (args.concurrency, args.duration, args.warmup, args.database_url, args.client)
    if args.head_file_cost:
        results = [
            run(args.index, args.requests, *options, head_file=head_file)
            for _ in range(args.head_file_cost)
            for head_file in (True, False)
        ]
    else:
        results = [run(args.index, args.requests, *options)]
    print(json.dumps(results if args.head_file_cost else results[0], indent=2))
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores; index: {args.index}")
    print("| database | head file | client | concurrency | traces/s | p50 ms | p99 ms | errors | register |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|")
    for result in results:
        _print_row(result)


def _print_row(result: dict) -> None:
    cells = [
        result["database"],
        "yes" if result["head_file"] else "no",
        result["client"],
        result["concurrency"],
        f"{result['throughput']:.0f}",
        f"{result['p50_ms']:.1f}",
        f"{result['p99_ms']:.1f}",
        result["errors"],
        f"{result['register_entries']:,} entries, {'verified' if result['register_verified'] else 'BROKEN'}",
    ]
    print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
