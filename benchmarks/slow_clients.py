"""Slow and stalled clients against the served demo (issue 16): how long they hold their connections, how many are
refused, and whether an honest client keeps being answered meanwhile.

    python -m benchmarks.slow_clients [--index out/demo/index] [--slow-heads 300] [--slow-bodies 300] \\
        [--addresses 1] [--duration 45] [--service-root DIR]

Starts ``python -m api serve`` on the index (the demo's, built as ``python -m api demo`` builds it if there is
none) with the default settings but a fresh SQLite database and a free port, adds a requester client, then opens
the slow connections from ``--addresses`` loopback addresses (127.0.0.1, 127.0.0.3, ...): a slow head sends half a
request head and then a byte every 2 s; a slow body sends a whole head (Content-Length 1,000, no key) and then a
body byte every 2 s. An honest client on 127.0.0.2 sends a trace request with its key every second. Each second
the connections still open are counted; at the end, how each ended (refused 503, answered, closed without an
answer) and the honest client's statuses and latencies.

``--service-root`` runs the service from another checkout (``git archive <commit> | tar -x -C DIR``), to measure
the service as it was before the guard.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HONEST_ADDRESS = "127.0.0.2"
DRIP_SECONDS = 2.0  # below uvicorn's 5 s keep-alive timeout, as a slowloris would
SAMPLE_AT = (1, 5, 9, 11, 15, 20, 29, 32, 40)  # seconds: either side of the 10 s and 30 s default deadlines


@dataclass
class Slow:
    kind: str  # "head" or "body"
    ended: str = ""  # "" while open; then "refused", "answered <status>", "closed"
    ended_at: float = 0.0


@dataclass
class Honest:
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)


def attacker_addresses(count: int) -> list[str]:
    """Loopback addresses for the slow clients, skipping the honest client's."""
    return [f"127.0.0.{i}" for i in range(1, count + 2) if f"127.0.0.{i}" != HONEST_ADDRESS][:count]


async def slow_client(slow: Slow, port: int, address: str, start: float) -> None:
    if slow.kind == "head":
        first, drip = b"POST /v1/traces HTTP/1.1\r\nHost: tracing\r\n", b"X-Slow: " + b"a" * 10_000
    else:
        first = b"POST /v1/traces HTTP/1.1\r\nHost: tracing\r\nContent-Type: application/json\r\n"
        first += b"Content-Length: 1000\r\n\r\n{"
        drip = b" " * 999
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
    except OSError:
        slow.ended, slow.ended_at = "connect failed", time.monotonic() - start
        return
    try:
        writer.write(first)
        for byte in drip:
            try:
                received = await asyncio.wait_for(reader.read(65_536), DRIP_SECONDS)
            except TimeoutError:
                writer.write(bytes([byte]))
                continue
            if received.startswith(b"HTTP/1.1 503"):
                slow.ended = "refused 503"
            elif received.startswith(b"HTTP/1.1 "):
                slow.ended = f"answered {received[9:12].decode()}"
            else:
                slow.ended = "closed"
            break
        else:
            slow.ended = "drip exhausted"
    except (ConnectionError, OSError):
        slow.ended = "closed"
    finally:
        slow.ended_at = time.monotonic() - start
        writer.close()


async def honest_client(honest: Honest, port: int, key: str, body: bytes, stop: asyncio.Event) -> None:
    transport = httpx.AsyncHTTPTransport(local_address=HONEST_ADDRESS)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=30) as http:
        while not stop.is_set():
            sent = time.monotonic()
            try:
                response = await http.post("/v1/traces", content=body, headers=headers)
                honest.statuses[response.status_code] += 1
                honest.latencies_ms.append((time.monotonic() - sent) * 1000)
            except httpx.HTTPError as error:
                honest.errors[type(error).__name__] += 1
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - sent)))


async def attack(port: int, key: str, body: bytes, heads: int, bodies: int, addresses: int, duration: float) -> dict:
    start = time.monotonic()
    slows = [Slow("head") for _ in range(heads)] + [Slow("body") for _ in range(bodies)]
    sources = attacker_addresses(addresses)
    honest, stop = Honest(), asyncio.Event()
    honest_task = asyncio.create_task(honest_client(honest, port, key, body, stop))
    tasks = [asyncio.create_task(slow_client(s, port, sources[i % len(sources)], start)) for i, s in enumerate(slows)]
    samples: dict[int, dict[str, int]] = {}
    for second in [s for s in SAMPLE_AT if s <= duration]:
        await asyncio.sleep(max(0.0, second - (time.monotonic() - start)))
        samples[second] = {kind: sum(1 for s in slows if s.kind == kind and not s.ended) for kind in ("head", "body")}
    await asyncio.sleep(max(0.0, duration - (time.monotonic() - start)))
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await honest_task
    ended = {
        kind: Counter(s.ended or "still open" for s in slows if s.kind == kind) for kind in ("head", "body")
    }
    return {"samples": samples, "ended": ended, "honest": honest}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ensure_demo_index(index: Path) -> None:
    """The demo's index, built as ``python -m api demo`` builds it, if there is none."""
    if (index / "manifest.json").exists():
        return
    from api.cli.demo import DEMO_RECORDS
    from matcher.build import build_index
    from synthetic.population import write_population

    population = index.parent / "population.parquet"
    write_population(population, DEMO_RECORDS, seed=1)
    build_index(population, index)


def demo_body(index: Path) -> bytes:
    """The demo's first request (a real synthetic person of the demo index): an honest trace that is answered."""
    from api.cli.demo import _demo_request

    return json.dumps(_demo_request(index.parent / "population.parquet")).encode()


def serve(index: Path, workdir: Path, service_root: Path | None) -> tuple[subprocess.Popen, int, str]:
    port = free_port()
    root = service_root or Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "TRACING_INDEX_DIR": str(index.resolve()),
        "DATABASE_URL": f"sqlite:///{workdir / 'state.db'}",
        "TRACING_PORT": str(port),
        "PYTHONPATH": str(root),
    }
    add = [sys.executable, "-m", "api", "clients", "add", "--name", "honest", "--role", "requester",
           "--rate-per-minute", "1000000"]  # fmt: skip
    key = subprocess.run(add, env=env, cwd=root, capture_output=True, text=True, check=True).stdout.split()[-1]
    log = (workdir / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "api", "serve"], env=env, cwd=root, stdout=log, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the service exited: {(workdir / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return server, port, key
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the service did not become ready")


def report(result: dict, args: argparse.Namespace) -> None:
    print(
        f"{args.slow_heads} slow heads and {args.slow_bodies} slow bodies from {args.addresses} address(es), "
        f"{args.duration:.0f} s; service from {args.service_root or 'this checkout'}; "
        f"{os.cpu_count()} cores, {platform.python_version()}"
    )
    print("\n| second | slow heads open | slow bodies open |\n|---:|---:|---:|")
    for second, counts in result["samples"].items():
        print(f"| {second} | {counts['head']} | {counts['body']} |")
    for kind, ended in result["ended"].items():
        print(f"\nslow-{kind} connections ended: {dict(ended.most_common())}")
    honest: Honest = result["honest"]
    latencies = sorted(honest.latencies_ms)
    if latencies:
        p50, worst = statistics.median(latencies), latencies[-1]
        print(f"honest client: {dict(honest.statuses)}, errors {dict(honest.errors)}, "
              f"latency median {p50:.0f} ms, max {worst:.0f} ms")  # fmt: skip
    else:
        print(f"honest client: no answer, errors {dict(honest.errors)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("out/demo/index"))
    parser.add_argument("--slow-heads", type=int, default=300)
    parser.add_argument("--slow-bodies", type=int, default=300)
    parser.add_argument("--addresses", type=int, default=1, help="loopback addresses the slow clients come from")
    parser.add_argument("--duration", type=float, default=45.0)
    parser.add_argument("--service-root", type=Path, help="run the service from this checkout")
    args = parser.parse_args()
    ensure_demo_index(args.index)
    with tempfile.TemporaryDirectory() as tmp:
        server, port, key = serve(args.index, Path(tmp), args.service_root)
        try:
            result = asyncio.run(
                attack(port, key, demo_body(args.index), args.slow_heads, args.slow_bodies, args.addresses,
                       args.duration)
            )  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
    report(result, args)


if __name__ == "__main__":
    main()
