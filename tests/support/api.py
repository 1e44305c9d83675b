"""The HTTP service under test: a harness around an app in-process, request bodies, and what a problem looks like.

Every API test runs on SQLite and on the PostgreSQL of this machine (``TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

HEAD_DIR_VARIABLE = "TRACING_REGISTER_HEAD_DIR"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
UNKNOWN_KEY = f"trc_{'0' * 12}_{'A' * 43}"  # well formed, held by no client
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail"}


def bearer(key: str) -> dict[str, str]:
    """The header that presents an API key."""
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response, status: int | None = None) -> dict:
    """The response is an RFC 9457 problem (of ``status``, if given): its media type, members and status agree."""
    assert status is None or response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    problem = response.json()
    assert set(problem) >= PROBLEM_KEYS and problem["status"] == response.status_code
    return problem


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
        register_head_dir: Path | None = None,
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
            # The session's directory (tests/api/conftest.py), as for the commands the tests run in subprocesses.
            register_head_dir=register_head_dir or Path(os.environ[HEAD_DIR_VARIABLE]),
        )
        self.components = build_components(self.settings, key=master_key, tracer=tracer, clock=self.clock)
        self.app = create_app(self.components)
        self.http = TestClient(self.app, raise_server_exceptions=False)

    def add_client(
        self,
        role: str = "requester",
        rate_per_minute: int | None = None,
        name: str | None = None,
        organisation: str | None = None,
    ) -> str:
        """A new client's key; ``organisation`` (default: an organisation of the client's own name) is added if
        there is none."""
        store = self.components.clients
        name = name or f"{role}-{len(store.list()) + 1}"
        organisation_id = store.organisations.ensure(organisation or name).id
        return store.add(name, role, rate_per_minute, organisation=organisation_id)[1]

    def trace(self, body: dict, key: str):
        return self.http.post("/v1/traces", json=body, headers={"Authorization": f"Bearer {key}"})

    def entries(self) -> list:
        """The register's entries but the service's own notes of the policy in force and the changes of rights
        (organisations and clients added) the test's set-up made."""
        from api.audit.outcomes import RIGHTS

        notes = RIGHTS | {"policy_in_force"}
        return [e for e in self.components.service.register.entries() if e.draft.outcome not in notes]

    def close(self) -> None:
        self.http.close()
        self.app.state.dispatcher.close()
        self.components.clients.tampering.close()
        self.components.engine.dispose()


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
        # Contact cannot have been lost before the person was born (a 422): the youngest were last seen at birth.
        born = person["date_of_birth"].isoformat()
        body["investigation"]["last_contact"] = max(body["investigation"]["last_contact"], born)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = body
        for part in parents:
            node = node[part]
        node[leaf] = value
    return body
