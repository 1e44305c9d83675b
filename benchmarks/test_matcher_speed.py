"""How fast the tracing core is: build, load, single-trace latency, batch throughput, resident memory.

    pytest benchmarks/test_matcher_speed.py -s
    BENCH_MATCHER_RECORDS=10000000 pytest benchmarks/test_matcher_speed.py -s       # 10M: about 16 minutes
    BENCH_MATCHER_RECORDS=10000000 BENCH_MATCHER_POPULATION=data/pop10m.parquet \
        BENCH_MATCHER_INDEX=data/idx10m pytest benchmarks/test_matcher_speed.py -s  # reuse a built index

Targets (issue 3): build 1M <= 60 s; load 10M <= 5 s; single trace median <= 1 ms, p99 <= 5 ms against 10M;
<= 300 bytes resident per record; trace_many >= 5,000 requests/s against 1M. The sizes here are 1M records
(BENCH_MATCHER_RECORDS to change) and 20k typical requests. Latency and memory are taken after ``Index.warm()``
(what a service does at start): every page of the index is then resident, so the memory figure is the most the
index can take, and latency does not include first-touch page faults. Memory is measured in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from matcher.estimation import FellegiSunterEstimator
from matcher.index import Index
from matcher.protection.keys import KEY_ENVIRONMENT_VARIABLE, MasterKey, load_master_key
from matcher.tracer import Tracer
from synthetic.population import write_population
from synthetic.profiles import PROFILES
from synthetic.requests import generate_requests

RECORDS = int(os.environ.get("BENCH_MATCHER_RECORDS", 1_000_000))
# A reused index opens with the deployment's key; a fresh one gets a key of its own.
KEY = load_master_key() if os.environ.get("BENCH_MATCHER_INDEX") else MasterKey.generate()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("matcher-bench")
    population = Path(os.environ.get("BENCH_MATCHER_POPULATION") or root / "population.parquet")
    if not population.exists():
        write_population(population, RECORDS, seed=1)
    requests = generate_requests(population, 20_000, PROFILES["typical"], 0.3, seed=1).requests
    training = generate_requests(population, 20_000, PROFILES["typical"], 0.3, seed=99).requests
    return {"root": root, "population": population, "requests": requests, "training": training}


@pytest.fixture(scope="module")
def index_dir(world: dict) -> Path:
    if os.environ.get("BENCH_MATCHER_INDEX"):  # an index already built from BENCH_MATCHER_POPULATION
        return Path(os.environ["BENCH_MATCHER_INDEX"])
    index = Index.build(pq.read_table(world["population"]), KEY)
    index = index.with_model(FellegiSunterEstimator().fit(index, world["training"]).model_)
    path = world["root"] / "index"
    index.save(path)
    return path


def test_build(benchmark, world: dict) -> None:
    if os.environ.get("BENCH_MATCHER_INDEX"):
        pytest.skip("reusing a built index")
    population = pq.read_table(world["population"])
    index = benchmark.pedantic(Index.build, args=(population, KEY), rounds=1, iterations=1)
    assert len(index) == RECORDS


def test_load(benchmark, index_dir: Path) -> None:
    index = benchmark(Index.load, index_dir, KEY)
    assert len(index) == RECORDS


def test_load_and_warm(benchmark, index_dir: Path) -> None:
    """What a service does at start: map the index and touch every page of it."""
    index = benchmark.pedantic(lambda: Index.load(index_dir, KEY).warm(), rounds=3, iterations=1)
    assert len(index) == RECORDS


def test_single_trace_latency(benchmark, index_dir: Path, world: dict) -> None:
    tracer = Tracer(Index.load(index_dir, KEY).warm())
    rows = world["requests"].slice(0, 2_000).to_pylist()
    for row in rows[:100]:
        tracer.trace(row)
    seconds = []

    def run() -> None:
        for row in rows:
            start = time.perf_counter()
            tracer.trace(row)
            seconds.append(time.perf_counter() - start)

    benchmark.pedantic(run, rounds=1, iterations=1)
    ms = np.asarray(seconds) * 1e3
    benchmark.extra_info.update(median_ms=float(np.median(ms)), p99_ms=float(np.percentile(ms, 99)))
    print(f"\nsingle trace vs {RECORDS:,}: median {np.median(ms):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms")


def test_batch_throughput(benchmark, index_dir: Path, world: dict) -> None:
    tracer = Tracer(Index.load(index_dir, KEY))
    requests = world["requests"]
    tracer.trace_batch(requests.slice(0, 1_000))
    results = benchmark.pedantic(tracer.trace_batch, args=(requests,), rounds=3, iterations=1)
    rate = requests.num_rows / benchmark.stats.stats.median
    benchmark.extra_info["requests_per_second"] = rate
    print(f"\ntrace_many: {rate:,.0f} requests/s against {RECORDS:,}")
    assert len(results.request_ids) == requests.num_rows


_MEMORY_PROBE = """
import json, sys
import pyarrow.parquet as pq
from matcher.index import Index
from matcher.protection.keys import load_master_key
from matcher.tracer import Tracer

def rss():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS"))

rows = pq.read_table(sys.argv[2]).to_pylist()
before = rss()
# warm(): every page of the index resident, the most it can take
tracer = Tracer(Index.load(sys.argv[1], load_master_key()).warm())
for row in rows:
    tracer.trace(row)
print(json.dumps({"records": len(tracer.index), "bytes": rss() - before}))
"""


def test_resident_memory_per_record(benchmark, index_dir: Path, world: dict) -> None:
    requests = world["root"] / "requests-2k.parquet"
    pq.write_table(world["requests"].slice(0, 2_000), requests)

    def probe() -> dict:
        done = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, str(index_dir), str(requests)],
            capture_output=True,
            text=True,
            env={**os.environ, KEY_ENVIRONMENT_VARIABLE: KEY.text()},
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    measured = benchmark.pedantic(probe, rounds=1, iterations=1)
    per_record = measured["bytes"] / measured["records"]
    benchmark.extra_info["resident_bytes_per_record"] = per_record
    print(f"\nresident after load, warm and 2,000 traces: {per_record:.0f} bytes/record")
