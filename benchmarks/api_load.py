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
import shutil
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
    from api.simulate import subject_of

    rows = pq.read_table(path).slice(0, limit).to_pylist()
    bodies = []
    for row in rows:
        body = json.dumps({"subject": subject_of(row), **GROUNDS}).encode()
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
    return _summary(latencies, time.perf_counter() - measure_from, sent, dict(statuses), dict(errors))


def _summary(latencies: list[float], elapsed: float, sent: int, statuses: dict, errors: dict) -> dict:
    ms = np.array(latencies) * 1000
    return {
        "requests": len(ms),
        "elapsed": elapsed,
        "sent": sent,
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "statuses": statuses,
        "errors": {**errors, **{f"HTTP {k}": v for k, v in statuses.items() if isinstance(k, int)}},
    }


WRK_SCRIPT = """
local bodies, i = {}, 0
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""


def _drive_wrk(url: str, key: str, bodies: list[bytes], concurrency: int, warmup: float, duration: float) -> dict:
    """wrk (C, one thread) cycling through the bodies: a warm-up run, then the measured run."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bodies.jsonl").write_bytes(b"\n".join(bodies) + b"\n")
        script = Path(tmp) / "bodies.lua"
        script.write_text(WRK_SCRIPT % {"bodies": Path(tmp) / "bodies.jsonl", "key": key})
        runs = []
        for seconds in (warmup, duration):
            command = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script)]
            runs.append(_parse_wrk(subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout))
    measured = runs[1]
    measured["sent"] = runs[0]["requests"] + measured["requests"]
    measured["errors"] = {k: runs[0]["errors"].get(k, 0) + v for k, v in measured["errors"].items()}
    return measured


def _parse_wrk(text: str) -> dict:
    def milliseconds(value: str) -> float:
        for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)):
            if value.endswith(unit):
                return float(value[: -len(unit)]) * factor
        raise ValueError(value)

    out: dict = {"statuses": {}, "errors": {"non-2xx": 0, "socket": 0}}
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["Latency"] and len(words) >= 4:
            out["max_ms"] = milliseconds(words[3])
        elif words[:1] in (["50%"], ["90%"], ["99%"]):
            out[f"p{words[0][:-1]}_ms"] = milliseconds(words[1])
        elif "requests in" in line:
            out["requests"] = int(words[0])
            out["elapsed"] = milliseconds(words[3].rstrip(",")) / 1000
        elif line.strip().startswith("Non-2xx"):
            out["errors"]["non-2xx"] = int(words[-1])
        elif line.strip().startswith("Socket errors"):
            out["errors"]["socket"] = sum(int(w.rstrip(",")) for w in words[3::2])
    return out


def _client_process(args: tuple, queue: multiprocessing.Queue) -> None:
    queue.put(asyncio.run(_drive(*args)))


def _drive_httpx(*args) -> dict:
    """The httpx client in a process of its own."""
    queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    client = multiprocessing.get_context("spawn").Process(target=_client_process, args=(args, queue))
    client.start()
    result = queue.get()
    client.join()
    return result


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
    client: str = "wrk",
) -> dict:
    bodies = request_bodies(requests, 20_000)
    with tempfile.TemporaryDirectory() as tmp:
        db_url, drop = _fresh_database(database_url, Path(tmp))
        try:
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
            server = subprocess.Popen(
                [sys.executable, "-m", "api", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                started = _wait_until_ready(port, server)
                drive = _drive_wrk if client == "wrk" else _drive_httpx
                result = drive(f"http://127.0.0.1:{port}/v1/traces", key, bodies, concurrency, warmup, duration)
                server_rss = _rss_mib(server.pid)
            finally:
                server.terminate()
                server.wait(timeout=30)
                log.close()
                output = log_path.read_text()
            verify = subprocess.run(
                [sys.executable, "-m", "api", "register", "verify"], env=env, capture_output=True, text=True
            )
            outcomes = _outcomes(db_url)
        finally:
            drop()
    server_errors = [line for line in output.splitlines() if "unhandled" in line or "Traceback" in line]
    entries = -1
    if verify.returncode == 0:
        entries = int(verify.stdout.split("intact: ")[1].split(" entries")[0].replace(",", ""))
    return {
        "database": "PostgreSQL" if database_url else "SQLite",
        "client": client,
        "concurrency": concurrency,
        "measured_requests": result["requests"],
        "throughput": result["requests"] / result["elapsed"],
        **{k: result[k] for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")},
        "register_outcomes": outcomes,
        "errors": sum(result["errors"].values()),
        "client_errors": result["errors"],
        "server_errors": len(server_errors),
        "server_error_lines": server_errors[:5],
        "register_entries": entries,
        "requests_sent": result["sent"],
        "register_verified": verify.returncode == 0,
        "server_rss_mib": server_rss,
        "startup_s": started,
    }


def _outcomes(database_url: str) -> dict[str, int]:
    """What the register says was answered, by outcome (warm-up included)."""
    from sqlalchemy import func, select

    from api.database import make_engine, register_entries

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
    args = parser.parse_args()
    result = run(
        args.index, args.requests, args.concurrency, args.duration, args.warmup, args.database_url, args.client
    )
    print(json.dumps(result, indent=2))
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores; index: {args.index}")
    print("| database | client | concurrency | traces/s | p50 ms | p99 ms | errors | register |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    cells = [
        result["database"],
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
