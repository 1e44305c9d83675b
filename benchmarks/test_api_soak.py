"""The service soaked: steady load over loopback for a bounded time, no errors and flat memory (issue 5).

    BENCH_SOAK_INDEX=data/idx1m BENCH_SOAK_REQUESTS=data/req1m_typical.parquet pytest benchmarks/test_api_soak.py -s

Skipped unless both are set (a soak takes minutes; it has no index of its own to build). Optional:
BENCH_SOAK_DURATION (seconds, default 300), BENCH_SOAK_INTERVAL (default 30), BENCH_SOAK_WARMUP (seconds before
memory is judged, default 120), BENCH_SOAK_CONCURRENCY (default 8), BENCH_SOAK_DATABASE_URL (a PostgreSQL base
URL; default a temporary SQLite file). Needs wrk. See benchmarks/api_soak.py for what is measured and what "flat"
means.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from api_soak import report, soak

pytestmark = [
    pytest.mark.skipif(
        not (os.environ.get("BENCH_SOAK_INDEX") and os.environ.get("BENCH_SOAK_REQUESTS")),
        reason="set BENCH_SOAK_INDEX and BENCH_SOAK_REQUESTS to soak the service",
    ),
    pytest.mark.skipif(shutil.which("wrk") is None, reason="the soak drives the service with wrk"),
]


def test_soak_has_no_errors_and_flat_memory(benchmark) -> None:
    result = benchmark.pedantic(
        soak,
        kwargs={
            "index": Path(os.environ.get("BENCH_SOAK_INDEX", "")),
            "requests": Path(os.environ.get("BENCH_SOAK_REQUESTS", "")),
            "concurrency": int(os.environ.get("BENCH_SOAK_CONCURRENCY", 8)),
            "duration": float(os.environ.get("BENCH_SOAK_DURATION", 300)),
            "interval": float(os.environ.get("BENCH_SOAK_INTERVAL", 30)),
            "warmup": float(os.environ.get("BENCH_SOAK_WARMUP", 120)),
            "database_url": os.environ.get("BENCH_SOAK_DATABASE_URL") or None,
        },
        rounds=1,
        iterations=1,
    )
    benchmark.extra_info.update({k: v for k, v in result.items() if k not in ("rss_samples", "server_error_lines")})
    print("\n" + "\n".join(report(result)))
    assert result["errors"] == 0 and result["server_errors"] == 0, result["server_error_lines"]
    assert result["memory"]["flat"], result["memory"]
    assert result["register_verified"] and result["register_entries"] >= result["requests_answered"]
    assert result["passed"]
