"""Fixtures every package's tests share: the session's master key, and a 200,000-person synthetic population with
an index trained on it (built once per session: the slow part of the suite).

The fast lane, ``pytest -m "not slow"``, is the tests that need none of that: a test is marked ``slow`` here when
it uses the population (or anything built on it) or a database, and a module marks itself when it starts processes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthetic.population import write_population
from synthetic.profiles import PROFILES
from synthetic.requests import RequestSet, generate_requests

SAMPLE_SIZE = 200_000
SLOW_FIXTURES = {"population_path", "database_url"}
"""Fixtures whose users are not in the fast lane: the session population (all the others build on it), a database."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def master_key():
    """A key made for this test session, in the environment so that CLI subprocesses find it; the developer's
    own key file is never read."""
    from matcher.protection.keys import KEY_ENVIRONMENT_VARIABLE, MasterKey

    key = MasterKey.generate()
    saved = os.environ.get(KEY_ENVIRONMENT_VARIABLE)
    os.environ[KEY_ENVIRONMENT_VARIABLE] = key.text()
    yield key
    if saved is None:
        del os.environ[KEY_ENVIRONMENT_VARIABLE]
    else:
        os.environ[KEY_ENVIRONMENT_VARIABLE] = saved


@pytest.fixture(scope="session")
def population_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("population") / "population.parquet"
    write_population(path, SAMPLE_SIZE, seed=11)
    return path


@pytest.fixture(scope="session")
def population(population_path: Path) -> pa.Table:
    return pq.read_table(population_path)


@pytest.fixture(scope="session")
def request_sets(population_path: Path) -> dict[str, RequestSet]:
    return {
        name: generate_requests(population_path, 20_000, profile, 0.3, seed=5) for name, profile in PROFILES.items()
    }


@pytest.fixture(scope="session")
def trained_index(population: pa.Table, population_path: Path, master_key):
    """The 200k sample indexed and trained on unlabelled requests of another seed than any test's."""
    from matcher.estimation import FellegiSunterEstimator
    from matcher.index import Index

    index = Index.build(population, master_key)
    training = generate_requests(population_path, 10_000, PROFILES["typical"], 0.3, seed=99).requests
    return index.with_model(FellegiSunterEstimator(u_pairs=500_000).fit(index, training).model_)


@pytest.fixture(scope="session")
def tracer(trained_index):
    from matcher.tracer import Tracer

    return Tracer(trained_index)
