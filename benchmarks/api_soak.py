"""Soak benchmark: the service under steady load for a bounded time, in intervals, watching its memory.

    python benchmarks/api_soak.py --index data/idx1m --requests data/req1m_typical.parquet \\
        --concurrency 8 --duration 300 --interval 30 [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Starts the service once (``api_load.serving``: uvicorn on loopback, a fresh database, a requester client), then
runs wrk for consecutive intervals of ``--interval`` seconds until ``--duration`` is spent, sampling the server
process's resident memory (VmRSS in /proc/<pid>/status) every ``--sample`` seconds during each interval and at
its end. Prints one row per interval (elapsed, traces/s, p50, p99, errors, RSS) and a verdict:

* no errors: no non-2xx responses, no socket errors (connect, read, write, timeout) and no tracebacks in the log;
* flat memory: after the warm-up (``--warmup`` seconds, rounded up to whole intervals), RSS grows by at most
  the bound (the smaller of ``--max-growth-mib`` and ``--max-growth-percent`` of the RSS at the end of the
  warm-up) both from the end of the warm-up to the end of the last interval and as fitted by least squares over
  every sample since (the fit is less sensitive to one noisy sample; its slope is reported in MiB/min). The
  warm-up is long because the service holds state per distinct request for a while: on the 1M index at about
  250 traces/s, RSS rose 27 MiB over the first two minutes and then 0.4 MiB over the next three. Most of it is
  the enumeration detector's window (one minute here, see api_load.SERVICE_ENV): one pass over the 20,000
  request bodies leaves it about 59,000 groups, some 1 KiB each;
* the register holds an entry for every answered request and its hash chain verifies.

Exits 1 if the verdict fails. Needs wrk (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from api_load import Served, request_bodies, serving
from load_clients import parse_wrk, wrk_command, wrk_script


@dataclass(frozen=True)
class Interval:
    end_s: float  # since the first interval started
    requests: int
    traces_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx responses and socket errors
    error_kinds: dict[str, int]  # wrk's counts: non-2xx, socket
    rss_mib: float  # at the end of the interval
    rss_max_mib: float  # the largest sample during it


@dataclass(frozen=True)
class MemoryTrend:
    baseline_mib: float  # at the end of the warm-up
    final_mib: float
    growth_mib: float  # final - baseline
    fitted_growth_mib: float  # the least-squares line's rise over the same span
    slope_mib_per_min: float
    bound_mib: float
    samples: int

    @property
    def flat(self) -> bool:
        return self.growth_mib <= self.bound_mib and self.fitted_growth_mib <= self.bound_mib


def soak(
    index: Path,
    requests: Path,
    concurrency: int = 8,
    duration: float = 300.0,
    interval: float = 30.0,
    database_url: str | None = None,
    sample_every: float = 5.0,
    warmup: float = 120.0,
    max_growth_mib: float = 20.0,
    max_growth_percent: float = 5.0,
) -> dict:
    """Run the soak; the intervals, the memory trend after warm-up, the register's state and the verdict."""
    lengths = _interval_lengths(duration, interval)
    warmup_intervals = max(1, math.ceil(warmup / lengths[0]))
    if len(lengths) < warmup_intervals + 1:
        raise ValueError(f"{duration:g} s leaves no interval after a warm-up of {warmup_intervals} x {lengths[0]} s")
    bodies = request_bodies(requests, 20_000)
    samples: list[tuple[float, float]] = []  # (seconds since the start, RSS MiB)
    intervals: list[Interval] = []
    with serving(index, database_url) as served, wrk_script(bodies, served.key) as script:
        start = time.monotonic()
        samples.append((0.0, served.rss_mib()))
        for seconds in lengths:
            intervals.append(_interval(served, script, concurrency, seconds, sample_every, start, samples))
    warm_end = intervals[warmup_intervals - 1].end_s
    trend = memory_trend([s for s in samples if s[0] >= warm_end], max_growth_mib, max_growth_percent)
    return _verdict(served, intervals, trend, samples, concurrency, database_url)


def _interval_lengths(duration: float, interval: float) -> list[int]:
    """Whole seconds (wrk's -d), the last one shorter if the duration is not a multiple: the total is bounded."""
    whole, rest = divmod(round(duration), max(1, round(interval)))
    return [max(1, round(interval))] * whole + ([rest] if rest else [])


def _interval(
    served: Served,
    script: Path,
    concurrency: int,
    seconds: int,
    sample_every: float,
    start: float,
    samples: list[tuple[float, float]],
) -> Interval:
    """One wrk run, sampling the server's RSS while it lasts (appended to ``samples``) and once at its end."""
    command = wrk_command(f"{served.url}/v1/traces", script, concurrency, seconds)
    first = len(samples)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as wrk:
        while True:
            try:
                stdout, stderr = wrk.communicate(timeout=sample_every)  # wrk's report is small: the pipe won't fill
                break
            except subprocess.TimeoutExpired:
                samples.append((time.monotonic() - start, served.rss_mib()))
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk failed ({wrk.returncode}): {stderr.strip()}")
    end = time.monotonic() - start
    samples.append((end, served.rss_mib()))
    run = parse_wrk(stdout)
    return Interval(
        end_s=end,
        requests=run["requests"],
        traces_per_s=run["requests"] / run["elapsed"],
        p50_ms=run["p50_ms"],
        p99_ms=run["p99_ms"],
        errors=sum(run["errors"].values()),
        error_kinds=run["errors"],
        rss_mib=samples[-1][1],
        rss_max_mib=max(rss for _, rss in samples[first:]),
    )


def memory_trend(samples: list[tuple[float, float]], max_growth_mib: float, max_growth_percent: float) -> MemoryTrend:
    """Growth over the samples (the first is the baseline) and a least-squares slope; the bound is the smaller
    of an absolute and a relative one (a large index makes a relative bound alone too lax to catch a leak)."""
    seconds = np.array([t for t, _ in samples])
    rss = np.array([r for _, r in samples])
    slope = float(np.polyfit(seconds / 60, rss, 1)[0]) if len(samples) >= 2 else math.nan
    baseline = float(rss[0])
    return MemoryTrend(
        baseline_mib=baseline,
        final_mib=float(rss[-1]),
        growth_mib=float(rss[-1] - baseline),
        fitted_growth_mib=slope * float(seconds[-1] - seconds[0]) / 60,
        slope_mib_per_min=slope,
        bound_mib=min(max_growth_mib, baseline * max_growth_percent / 100),
        samples=len(samples),
    )


def _verdict(
    served: Served,
    intervals: list[Interval],
    trend: MemoryTrend,
    samples: list[tuple[float, float]],
    concurrency: int,
    database_url: str | None,
) -> dict:
    answered = sum(i.requests for i in intervals)
    errors = sum(i.errors for i in intervals)
    # Requests cut off in flight at the end of an interval may still reach the register: at least, not exactly.
    register_ok = served.register_verified and served.register_entries >= answered
    passed = errors == 0 and not served.server_error_lines and trend.flat and register_ok
    return {
        "database": "PostgreSQL" if database_url else "SQLite",
        "concurrency": concurrency,
        "intervals": [asdict(i) for i in intervals],
        "memory": {**asdict(trend), "flat": trend.flat},
        "rss_samples": samples,
        "requests_answered": answered,
        "errors": errors,
        "server_errors": len(served.server_error_lines),
        "server_error_lines": served.server_error_lines[:5],
        "register_entries": served.register_entries,
        "register_verified": served.register_verified,
        "register_outcomes": served.register_outcomes,
        "startup_s": served.startup_s,
        "passed": passed,
    }


def report(result: dict) -> list[str]:
    """The intervals as a Markdown table, then the verdict's lines."""
    lines = [
        "| elapsed s | traces/s | p50 ms | p99 ms | errors (non-2xx, socket) | RSS MiB (end) | RSS MiB (max) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {i['end_s']:.0f} | {i['traces_per_s']:.0f} | {i['p50_ms']:.1f} | {i['p99_ms']:.1f} | {i['errors']} "
        f"({i['error_kinds'].get('non-2xx', 0)}, {i['error_kinds'].get('socket', 0)}) "
        f"| {i['rss_mib']:.1f} | {i['rss_max_mib']:.1f} |"
        for i in result["intervals"]
    ]
    memory = result["memory"]
    lines += [
        "",
        f"requests answered: {result['requests_answered']:,}; errors: {result['errors']} (client), "
        f"{result['server_errors']} (server log)",
        f"memory after warm-up: {memory['baseline_mib']:.1f} -> {memory['final_mib']:.1f} MiB "
        f"({memory['growth_mib']:+.1f} MiB; fitted {memory['fitted_growth_mib']:+.1f} MiB, "
        f"{memory['slope_mib_per_min']:+.2f} MiB/min over {memory['samples']} samples); "
        f"bound {memory['bound_mib']:.1f} MiB: {'flat' if memory['flat'] else 'GROWING'}",
        f"register: {result['register_entries']:,} entries, {'verified' if result['register_verified'] else 'BROKEN'}; "
        f"outcomes {result['register_outcomes']}",
        f"verdict: {'PASS' if result['passed'] else 'FAIL'}",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds in all (default 300)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds per wrk run (default 30)")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples (default 5)")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds before memory is judged (default 120)")
    parser.add_argument("--max-growth-mib", type=float, default=20.0)
    parser.add_argument("--max-growth-percent", type=float, default=5.0)
    parser.add_argument("--database-url", help="PostgreSQL base URL; default a temporary SQLite file")
    args = parser.parse_args()
    result = soak(
        args.index,
        args.requests,
        args.concurrency,
        args.duration,
        args.interval,
        args.database_url,
        args.sample,
        args.warmup,
        args.max_growth_mib,
        args.max_growth_percent,
    )
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; index: {args.index}; {result['database']}, "
          f"wrk, {args.concurrency} connections")  # fmt: skip
    print("\n".join(report(result)))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
