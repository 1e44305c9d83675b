from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthetic.population import DEFAULT_AS_OF, write_population
from synthetic.profiles import PROFILES
from synthetic.requests import RequestSet, generate_requests

SAMPLE_SIZE = 200_000


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
def ages(population: pa.Table) -> np.ndarray:
    dob = population.column("date_of_birth").cast(pa.int32()).to_numpy()
    return ((DEFAULT_AS_OF - dt.date(1970, 1, 1)).days - dob) / 365.25


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


PUBLIC_REFERENCE_COLUMNS = {
    "locality",
    "town",
    "gp_practice_code",
    "gp_practice_name",
    "gp_practice_address",
    "gp_practice_postcode",
}


def index_files_but_public_lists(index_dir: Path) -> bytes:
    """Every file of a saved index but the public reference lists, whose columns are checked to be just those: a
    practice at "11 RICHMOND ROAD, LEEDS" contains a patient's "1 RICHMOND ROAD" without revealing it."""
    import pyarrow.ipc

    reference = pyarrow.ipc.open_file(index_dir / "reference.arrow").read_all()
    assert set(reference.column_names) == PUBLIC_REFERENCE_COLUMNS
    return b"".join(f.read_bytes() for f in sorted(index_dir.rglob("*")) if f.is_file() and f.name != "reference.arrow")


# --- The HTTP service (api/): every API test runs on SQLite and on the PostgreSQL of this machine. ---

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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


class MutableClock:
    """The service's clock, set by a test (the policy in force depends on the day)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class ApiHarness:
    """A running app (in-process, through FastAPI's TestClient) around the session's tracer and a fresh database."""

    # Generous rates and probe limit (tests send the same request many times), no response floor (it would add
    # 25 ms to each of thousands of requests); the tests of each set their own.
    def __init__(
        self,
        database_url: str,
        tracer,
        master_key,
        rate_per_minute: int = 6_000,
        rate_burst: int = 1_000,
        probe_limit: int = 1_000,
        response_floor_ms: int = 0,
        answer_timeout_seconds: int = 60,
    ):
        from fastapi.testclient import TestClient

        from api.http.app import create_app
        from api.settings import Settings
        from api.wiring import build_components

        self.clock = MutableClock(dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC))
        self.settings = Settings(
            database_url=database_url,
            rate_per_minute=rate_per_minute,
            rate_burst=rate_burst,
            probe_limit=probe_limit,
            response_floor_ms=response_floor_ms,
            answer_timeout_seconds=answer_timeout_seconds,
        )
        self.components = build_components(self.settings, key=master_key, tracer=tracer, clock=self.clock)
        self.app = create_app(self.components)
        self.http = TestClient(self.app, raise_server_exceptions=False)

    def add_client(self, role: str = "requester", rate_per_minute: int | None = None, name: str | None = None) -> str:
        name = name or f"{role}-{len(self.components.clients.list()) + 1}"
        return self.components.clients.add(name, role, rate_per_minute)[1]

    def trace(self, body: dict, key: str):
        return self.http.post("/v1/traces", json=body, headers={"Authorization": f"Bearer {key}"})

    def entries(self) -> list:
        """The register's entries but the service's own notes of the policy in force."""
        return [e for e in self.components.service.register.entries() if e.draft.outcome != "policy_in_force"]

    def close(self) -> None:
        self.http.close()
        self.app.state.dispatcher.close()
        self.components.engine.dispose()


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


def trace_body(person: dict | None = None, **changes) -> dict:
    """A request the policy in force in 2026 allows, about ``person`` (a population row) or the OpenAPI example."""
    from api.http.examples import IMMIGRATION_REQUEST

    body = json.loads(json.dumps(IMMIGRATION_REQUEST))
    if person is not None:
        body["subject"] = {
            "given_name": person["given_name"],
            "family_name": person["family_name"],
            "date_of_birth": person["date_of_birth"].isoformat(),
            "sex": person["sex"] if person["sex"] in ("female", "male") else None,
            "postcode": person["postcode"],
        }
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = body
        for part in parents:
            node = node[part]
        node[leaf] = value
    return body
