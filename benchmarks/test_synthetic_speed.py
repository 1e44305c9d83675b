"""How fast the synthetic index and request generator are.

    pytest benchmarks/test_synthetic_speed.py --benchmark-columns=min,mean,max

Targets (issue 2, on a 2-core machine): 1M population <= 15 s; 10M <= 3 min with peak memory <= 8 GiB;
100k requests <= 10 s. The 10M run is a separate process so its peak memory is its own; set
BENCH_10M=1 to include it (about a minute and a half of generation plus writing ~530 MB).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthetic.geography import load_world
from synthetic.names import load_name_tables
from synthetic.population import write_population
from synthetic.profiles import PROFILES
from synthetic.requests import generate_requests


@pytest.fixture(scope="module")
def warm() -> None:
    load_world(), load_name_tables()


def test_population_1m(benchmark, tmp_path: Path, warm) -> None:
    out = tmp_path / "population-1m.parquet"
    benchmark.pedantic(write_population, args=(out, 1_000_000, 1), rounds=1, iterations=1)
    assert out.stat().st_size > 0


@pytest.fixture(scope="module")
def population_1m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "population-1m.parquet"
    write_population(out, 1_000_000, 2)
    return out


def test_requests_100k_against_1m(benchmark, population_1m: Path, warm) -> None:
    result = benchmark.pedantic(
        generate_requests, args=(population_1m, 100_000, PROFILES["typical"], 0.3, 3), rounds=1, iterations=1
    )
    assert result.requests.num_rows == 100_000


@pytest.mark.skipif(not os.environ.get("BENCH_10M"), reason="set BENCH_10M=1 for the 10M run")
def test_population_10m_time_and_peak_memory(tmp_path: Path) -> None:
    out = tmp_path / "population-10m.parquet"
    script = (
        "import resource, time, sys\n"
        "from synthetic.population import write_population\n"
        "t = time.perf_counter()\n"
        f"write_population({str(out)!r}, 10_000_000, 1)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    seconds, peak_kib = done.stdout.split()
    print(
        f"\n10M records: {float(seconds):.1f} s generation, {time.perf_counter() - started:.1f} s with start-up, "
        f"peak RSS {int(peak_kib) / 2**20:.2f} GiB"
    )
    assert float(seconds) <= 180
    assert int(peak_kib) <= 8 * 2**20
