"""Load benchmark: real HTTP requests against `python -m api serve` (uvicorn) on loopback.

    python benchmarks/api_load.py --index data/idx1m --requests data/req1m_typical.parquet \\
        --concurrency 16 --duration 30 [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Starts the service in its own process on a fresh database (a temporary SQLite file unless --database-url, for
which a fresh PostgreSQL schema is made and dropped), adds a requester client, and sends trace requests built
from the synthetic request file (members and non-members, as the generator made them) from a separate client
process: ``concurrency`` keep-alive connections (httpx, asyncio), each sending its next request when the last is
answered, for ``duration`` seconds after a warm-up. Reports throughput, latency percentiles, statuses and errors,
then checks that the register holds one entry per request and verifies. Prints one Markdown table row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

GROUNDS = {
    "basis": {"category": 1, "offence": "s24(1)(b)(i)", "serious_crime": "conviction_deportation_considered"},
    "investigation": {
        "reference": "HO-BENCH-1",
        "last_contact": "2026-01-05",
        "channels_tried": ["last known address visited"],
        "no_known_explanation": True,
    },
    "officers": {"requesting": {"id": "HO-EO-1", "grade": "EO"}, "authorising": {"id": "HO-HEO-2", "grade": "HEO"}},
}


def request_bodies(path: Path, limit: int) -> list[bytes]:
    """Trace request bodies from a synthetic request file (subject fields only; the grounds are fixed). Requests
    the API would reject are left out (about 1%: a corrupted date of birth such as 1991-52-12 is a 422 here)."""
    from pydantic import ValidationError

    from api.models import TraceRequestBody

    rows = pq.read_table(path).slice(0, limit).to_pylist()
    bodies = []
    for row in rows:
        subject = {
            "given_name": row.get("given_name"),
            "other_given_names": row.get("other_given_names"),
            "family_name": row.get("family_name"),
            "date_of_birth": row.get("date_of_birth"),
            "sex": row.get("sex") if row.get("sex") in ("female", "male", "unknown", "other") else None,
            "postcode": row.get("postcode"),
            "address": row.get("address_line_1"),
        }
        subject = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in subject.items() if v}
        body = json.dumps({"subject": subject, **GROUNDS}).encode()
        try:
            TraceRequestBody.model_validate_json(body)
        except ValidationError:
            continue
        bodies.append(body)
    return bodies


async def _drive(url: str, key: str, bodies: list[bytes], concurrency: int, warmup: float, duration: float) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()
    sent = 0
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + duration

    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:

        async def worker(offset: int) -> None:
            nonlocal sent
            i = offset
            while (now := time.perf_counter()) < stop_at:
                body = bodies[i % len(bodies)]
                i += concurrency
                sent += 1
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError as error:
                    errors[type(error).__name__] += 1
                    continue
                done = time.perf_counter()
                if now >= measure_from:
                    latencies.append(done - now)
                    statuses[response.status_code if response.status_code != 200 else response.json()["status"]] += 1

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return {
        "sent": sent,
        "latencies": latencies,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "elapsed": time.perf_counter() - measure_from,
    }


def _client_process(args: tuple, queue: multiprocessing.Queue) -> None:
    queue.put(asyncio.run(_drive(*args)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_database(url: str | None, workdir: Path) -> tuple[str, callable]:
    if url is None:
        return f"sqlite:///{workdir / 'state.db'}", lambda: None
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}", drop


def run(
    index: Path,
    requests: Path,
    concurrency: int = 16,
    duration: float = 30.0,
    warmup: float = 3.0,
    database_url: str | None = None,
) -> dict:
    bodies = request_bodies(requests, 20_000)
    with tempfile.TemporaryDirectory() as tmp:
        db_url, drop = _fresh_database(database_url, Path(tmp))
        port = _free_port()
        env = {
            **os.environ,
            "TRACING_INDEX_DIR": str(index),
            "DATABASE_URL": db_url,
            "TRACING_PORT": str(port),
        }
        add = subprocess.run(
            [sys.executable, "-m", "api", "clients", "add", "--name", "bench", "--role", "requester",
             "--rate-per-minute", "1000000"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        key = add.stdout.strip().splitlines()[-1]
        log_path = Path(tmp) / "server.log"
        log = log_path.open("w")  # a file, not a pipe: an unread pipe fills and stalls the server's access log
        server = subprocess.Popen([sys.executable, "-m", "api", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            started = _wait_until_ready(port, server)
            queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
            url = f"http://127.0.0.1:{port}/v1/traces"
            client = multiprocessing.get_context("spawn").Process(
                target=_client_process, args=((url, key, bodies, concurrency, warmup, duration), queue)
            )
            client.start()
            result = queue.get()
            client.join()
            server_rss = _rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
            output = log_path.read_text()
        verify = subprocess.run(
            [sys.executable, "-m", "api", "register", "verify"], env=env, capture_output=True, text=True
        )
        drop()
    latencies = np.array(result["latencies"]) * 1000
    server_errors = [line for line in output.splitlines() if "unhandled" in line or "Traceback" in line]
    entries = -1
    if verify.returncode == 0:
        entries = int(verify.stdout.split("intact: ")[1].split(" entries")[0].replace(",", ""))
    return {
        "database": "PostgreSQL" if database_url else "SQLite",
        "concurrency": concurrency,
        "measured_requests": len(latencies),
        "throughput": len(latencies) / result["elapsed"],
        "p50_ms": float(np.percentile(latencies, 50)),
        "p90_ms": float(np.percentile(latencies, 90)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "max_ms": float(latencies.max()),
        "statuses": result["statuses"],
        "errors": sum(result["errors"].values()) + sum(v for k, v in result["statuses"].items() if isinstance(k, int)),
        "server_errors": len(server_errors),
        "server_error_lines": server_errors[:5],
        "client_errors": result["errors"],
        "register_entries": entries,
        "requests_sent": result["sent"],
        "register_verified": verify.returncode == 0,
        "server_rss_mib": server_rss,
        "startup_s": started,
    }


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
    args = parser.parse_args()
    result = run(args.index, args.requests, args.concurrency, args.duration, args.warmup, args.database_url)
    print(json.dumps(result, indent=2))
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores; index: {args.index}")
    print("| database | concurrency | traces/s | p50 ms | p99 ms | errors | register |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print(
        f"| {result['database']} | {result['concurrency']} | {result['throughput']:.0f} | {result['p50_ms']:.1f} "
        f"| {result['p99_ms']:.1f} | {result['errors']} | {result['register_entries']:,} entries, "
        f"{'verified' if result['register_verified'] else 'BROKEN'} |"
    )


if __name__ == "__main__":
    main()
