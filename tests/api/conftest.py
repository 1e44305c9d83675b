"""The API tests' fixtures: a fresh database per test (both kinds), a harness on it, a requester, two people."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from tests.support.api import HEAD_DIR_VARIABLE, POSTGRES_URL, ApiHarness


@pytest.fixture(scope="session", autouse=True)
def register_head_dir(tmp_path_factory: pytest.TempPathFactory):
    """One directory for the session's register head files, in the environment so that the commands the tests run
    find them: never the repository's out/service. Each database's file has a name of its own."""
    directory = tmp_path_factory.mktemp("register-heads")
    saved = os.environ.get(HEAD_DIR_VARIABLE)
    os.environ[HEAD_DIR_VARIABLE] = str(directory)
    yield directory
    if saved is None:
        del os.environ[HEAD_DIR_VARIABLE]
    else:
        os.environ[HEAD_DIR_VARIABLE] = saved


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh, empty database: a SQLite file, or a schema of its own in PostgreSQL (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    import uuid

    from sqlalchemy import create_engine, text

    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def api(database_url: str, tracer, master_key):
    harness = ApiHarness(database_url, tracer, master_key)
    yield harness
    harness.close()


@pytest.fixture
def requester_key(api: ApiHarness) -> str:
    return api.add_client("requester")


@pytest.fixture(scope="session")
def people(population: pa.Table) -> dict[str, dict]:
    """Index members to trace: an ordinary one and a restricted one (alive, from the session's population)."""
    import pyarrow.compute as pc

    alive = population.filter(pc.is_null(population.column("date_of_death")))
    restricted = alive.filter(alive.column("restricted")).slice(0, 1).to_pylist()[0]
    ordinary = alive.filter(pc.invert(alive.column("restricted"))).slice(100, 1).to_pylist()[0]
    return {"ordinary": ordinary, "restricted": restricted}
