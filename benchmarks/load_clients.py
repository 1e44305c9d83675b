"""The clients a load benchmark drives the service with: wrk (C, one thread, from Debian's package) cycling a Lua
script through request bodies, or httpx in a process of its own when wrk is missing. Both give the same summary:
requests, elapsed seconds, p50/p90/p99/max latency (ms), statuses and errors."""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


async def drive_httpx_async(
    url: str, key: str, bodies: list[bytes], concurrency: int, warmup: float, duration: float
) -> dict:
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
    return summary(latencies, time.perf_counter() - measure_from, sent, dict(statuses), dict(errors))


def summary(latencies: list[float], elapsed: float, sent: int, statuses: dict, errors: dict) -> dict:
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


def drive_wrk(url: str, key: str, bodies: list[bytes], concurrency: int, warmup: float, duration: float) -> dict:
    """wrk (C, one thread) cycling through the bodies: a warm-up run, then the measured run."""
    with wrk_script(bodies, key) as script:
        runs = [
            parse_wrk(subprocess.run(wrk_command(url, script, concurrency, seconds), capture_output=True, text=True,
                                     check=True).stdout)
            for seconds in (warmup, duration)
        ]  # fmt: skip
    measured = runs[1]
    measured["sent"] = runs[0]["requests"] + measured["requests"]
    measured["errors"] = {k: runs[0]["errors"].get(k, 0) + v for k, v in measured["errors"].items()}
    return measured


@contextmanager
def wrk_script(bodies: list[bytes], key: str) -> Iterator[Path]:
    """A wrk Lua script (in a temporary directory, for the duration of the block) posting the bodies in turn."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bodies.jsonl").write_bytes(b"\n".join(bodies) + b"\n")
        script = Path(tmp) / "bodies.lua"
        script.write_text(WRK_SCRIPT % {"bodies": Path(tmp) / "bodies.jsonl", "key": key})
        yield script


def wrk_command(url: str, script: Path, concurrency: int, seconds: float) -> list[str]:
    """One wrk run (one thread, ``concurrency`` keep-alive connections) whose output ``parse_wrk`` reads."""
    return ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script), url]


def parse_wrk(text: str) -> dict:
    """wrk's report: requests, elapsed (s), p50/p90/p99/max (ms) and errors (non-2xx responses, socket errors)."""

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
    queue.put(asyncio.run(drive_httpx_async(*args)))


def drive_httpx(*args) -> dict:
    """The httpx client in a process of its own."""
    queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    client = multiprocessing.get_context("spawn").Process(target=_client_process, args=(args, queue))
    client.start()
    result = queue.get()
    client.join()
    return result
