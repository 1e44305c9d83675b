"""The service under load: real HTTP requests against uvicorn on loopback and a 1M index (issue 5).

    pytest benchmarks/test_api_load.py -s                       # builds a 1M index first (about 2 minutes)
    BENCH_API_INDEX=data/idx1m BENCH_API_REQUESTS=data/req1m_typical.parquet pytest benchmarks/test_api_load.py -s

Target: >= 300 traces/s with p99 <= 50 ms and no errors, every request in the register and the chain intact
(asserted on the embedded SQLite default; on PostgreSQL, which shares this machine's two cores with the service
and the client, the figures are reported).
The client is wrk (Debian package `wrk`) when installed, else httpx in a process of its own (which needs most of
a core itself on a 2-core machine: expect a lower figure). See benchmarks/api_load.py for what is measured.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from api_load import run

from matcher.estimation import FellegiSunterEstimator
from matcher.index import Index
from matcher.protection.keys import KEY_ENVIRONMENT_VARIABLE, MasterKey
from synthetic.population import write_population
from synthetic.profiles import PROFILES
from synthetic.requests import generate_requests, write_requests

RECORDS = 1_000_000
CONCURRENCY = int(os.environ.get("BENCH_API_CONCURRENCY", 8))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An index and a request file: given (with the deployment's key), or built here with a key of their own."""
    if os.environ.get("BENCH_API_INDEX"):
        yield Path(os.environ["BENCH_API_INDEX"]), Path(os.environ["BENCH_API_REQUESTS"])
        return
    root = tmp_path_factory.mktemp("api-bench")
    key = MasterKey.generate()
    saved = os.environ.get(KEY_ENVIRONMENT_VARIABLE)
    os.environ[KEY_ENVIRONMENT_VARIABLE] = key.text()  # the server and CLI subprocesses read it
    population = root / "population.parquet"
    write_population(population, RECORDS, seed=1)
    requests = generate_requests(population, 20_000, PROFILES["typical"], 0.3, seed=1)
    write_requests(requests, root / "requests.parquet", root / "truth.parquet")
    training = generate_requests(population, 20_000, PROFILES["typical"], 0.3, seed=99).requests
    index = Index.build(pq.read_table(population), key)
    index.with_model(FellegiSunterEstimator().fit(index, training).model_).save(root / "index")
    yield root / "index", root / "requests.parquet"
    if saved is None:
        os.environ.pop(KEY_ENVIRONMENT_VARIABLE)
    else:
        os.environ[KEY_ENVIRONMENT_VARIABLE] = saved


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_traces_per_second_under_load(benchmark, served: tuple[Path, Path], database: str) -> None:
    index, requests = served
    postgres = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    result = benchmark.pedantic(
        run,
        kwargs={
            "index": index,
            "requests": requests,
            "concurrency": CONCURRENCY,
            "duration": 20.0,
            "database_url": postgres if database == "postgresql" else None,
            "client": "wrk" if shutil.which("wrk") else "httpx",
        },
        rounds=1,
        iterations=1,
    )
    benchmark.extra_info.update({k: v for k, v in result.items() if k != "server_error_lines"})
    print(
        f"\n{result['database']}, {result['client']}, {CONCURRENCY} connections: {result['throughput']:.0f} traces/s, "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, errors {result['errors']}, "
        f"register {result['register_entries']:,} entries verified={result['register_verified']}"
    )
    assert result["errors"] == 0 and result["server_errors"] == 0
    outcomes = result["register_outcomes"]
    assert set(outcomes) <= {"traced", "not_found", "ambiguous", "pending_review", "policy_in_force"}
    assert outcomes["traced"] > 0
    assert result["register_verified"] and result["register_entries"] >= result["requests_sent"]
    if database == "sqlite":  # the target is set on the embedded default; PostgreSQL shares the 2 cores here
        assert result["throughput"] >= 300 and result["p99_ms"] <= 50
