"""Who may call POST /v1/traces: API keys, roles, rate limits, the client store and its CLI (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from api.access.clients import ClientError, ClientStore, Role
from api.access.ratelimit import RateLimiter
from api.storage.tables import clients
from tests.support.api import UNKNOWN_KEY, ApiHarness, assert_problem, trace_body

REPO = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def post(api: ApiHarness, headers: dict[str, str]):
    return api.http.post("/v1/traces", json=trace_body(), headers=headers)


def assert_unauthenticated(response) -> None:
    problem = assert_problem(response, 401)
    assert problem["type"] == "/problems/unauthenticated" and "trace_id" not in problem
    assert response.headers["www-authenticate"] == "Bearer"


# --- Authentication: 401, and nothing in the register ---


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic xyz", "Bearer", "Bearer trc_bad", f"Bearer {UNKNOWN_KEY}"],
    ids=["none", "basic", "bearer-without-key", "malformed-key", "unknown-key"],
)
def test_a_request_without_a_valid_key_is_refused_401_and_not_registered(api, authorization):
    response = post(api, {"Authorization": authorization} if authorization else {})
    assert_unauthenticated(response)
    assert api.entries() == []


def test_a_known_key_id_with_a_wrong_secret_is_refused_401(api, requester_key):
    forged = requester_key[:-1] + ("A" if requester_key[-1] != "A" else "B")
    assert_unauthenticated(api.trace(trace_body(), forged))
    assert api.entries() == []


def test_a_revoked_key_is_refused_401_at_once_and_not_registered(api):
    key = api.add_client("requester", name="soon-revoked")
    assert api.trace(trace_body(), key).status_code == 200
    before = api.entries()
    api.components.clients.revoke("soon-revoked")
    assert_unauthenticated(api.trace(trace_body(), key))
    assert api.entries() == before


# --- Roles: 403, recorded as forbidden ---


@pytest.mark.parametrize("role", ["auditor", "reviewer"])
def test_a_client_that_is_not_a_requester_is_refused_403_and_registered_as_forbidden(api, role):
    key = api.add_client(role)
    problem = assert_problem(api.trace(trace_body(), key), 403)
    assert problem["type"] == "/problems/forbidden"
    [entry] = api.entries()
    assert (entry.draft.outcome, entry.draft.http_status) == ("forbidden", 403)
    assert entry.draft.client_name == f"{role}-1" and entry.draft.subject_token is None
    assert problem["trace_id"] == entry.trace_id


# --- Rate limits: 429 with Retry-After, recorded as rate_limited ---


@pytest.fixture
def limited(database_url, tracer, master_key):
    """A harness at 60/min with a burst of 3, its limiter on a frozen clock so that no refill happens by chance."""
    harness = ApiHarness(database_url, tracer, master_key, rate_per_minute=60, rate_burst=3)
    harness.components.limiter.clock = FakeClock()
    yield harness
    harness.close()


def test_a_requester_over_its_burst_gets_429_with_retry_after_and_a_register_entry(limited):
    key = limited.add_client("requester")
    assert [limited.trace(trace_body(), key).status_code for _ in range(3)] == [200, 200, 200]
    response = limited.trace(trace_body(), key)
    problem = assert_problem(response, 429)
    assert problem["type"] == "/problems/rate-limited"
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit() and int(retry_after) >= 1
    entry = limited.entries()[-1]
    assert (entry.draft.outcome, entry.draft.http_status, entry.trace_id) == ("rate_limited", 429, problem["trace_id"])
    assert len(limited.entries()) == 4

    limited.components.limiter.clock.now += int(retry_after)
    assert limited.trace(trace_body(), key).status_code == 200


def test_the_limiter_refuses_past_the_burst_and_refills_with_time_up_to_the_burst():
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.acquire(1) for _ in range(3)] == [None, None, None]
    assert limiter.acquire(1) == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.acquire(1) == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire(1) is None
    clock.now += 1_000  # a long pause refills the bucket to the burst, no further
    assert [limiter.acquire(1) for _ in range(4)][3] == pytest.approx(1.0)


def test_each_client_has_its_own_bucket():
    limiter = RateLimiter(per_minute=60, burst=2, clock=FakeClock())
    assert [limiter.acquire(1) for _ in range(3)][2] is not None
    assert [limiter.acquire(2), limiter.acquire(2)] == [None, None]


def test_a_clients_own_rate_overrides_the_default():
    limiter = RateLimiter(per_minute=60, burst=3, clock=FakeClock())
    slow = [limiter.acquire(1, per_minute=6) for _ in range(4)]
    assert slow[:3] == [None] * 3 and slow[3] == pytest.approx(10.0)  # 6/min: one every 10 s, not every 1 s
    fast = [limiter.acquire(2, per_minute=600) for _ in range(101)]
    assert fast[:100] == [None] * 100 and fast[100] == pytest.approx(0.1)  # burst of a sixth of a minute


@pytest.mark.parametrize(
    ("seconds", "header"), [(0.0, "1"), (0.001, "1"), (1.0, "1"), (1.01, "2"), (9.5, "10"), (60.0, "60")]
)
def test_retry_after_rounds_up_to_whole_seconds_and_is_at_least_one(seconds, header):
    assert RateLimiter.retry_after_header(seconds) == header


# --- The client store: keys shown once, stored only as hashes ---


def test_a_new_key_is_stored_only_as_its_sha256(api, database_url):
    key = api.add_client("requester", name="stored-once")
    secret = key.rsplit("_", 1)[1]
    with api.components.engine.connect() as connection:
        rows = [r._asdict() for r in connection.execute(select(clients)).all()]
    [row] = rows
    assert row["name"] == "stored-once" and row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert not any(key in str(v) or secret in str(v) for v in row.values())
    if database_url.startswith("sqlite"):
        path = Path(make_url(database_url).database)
        stored = b"".join(f.read_bytes() for f in path.parent.glob(f"{path.name}*"))  # the file and its WAL
        assert b"stored-once" in stored and secret.encode() not in stored


@pytest.mark.parametrize(
    ("name", "role", "rate"),
    [("x", "admin", None), ("", "requester", None), ("-x", "requester", None), ("x", "requester", 0)],
    ids=["bad-role", "empty-name", "bad-name", "zero-rate"],
)
def test_a_client_with_a_bad_role_name_or_rate_is_not_added(api, name, role, rate):
    with pytest.raises(ClientError):
        api.components.clients.add(name, role, rate, organisation=api.components.clients.organisations.ensure("o").id)
    assert api.components.clients.list() == []


def test_a_duplicate_client_name_is_not_added(api):
    api.add_client("requester", name="twice")
    with pytest.raises(ClientError, match="already exists"):
        api.add_client("auditor", name="twice")
    assert [(c.name, c.role) for c in api.components.clients.list()] == [("twice", Role.REQUESTER)]


def test_listing_clients_never_shows_a_key_or_its_hash(api):
    store: ClientStore = api.components.clients
    key = api.add_client("reviewer", 30, name="listed")
    store.revoke("listed")
    [record] = store.list()
    assert set(vars(record)) == {
        "id", "name", "role", "rate_per_minute", "organisation", "created_at", "revoked_at", "intact"
    }  # fmt: skip
    assert (record.name, record.role, record.rate_per_minute) == ("listed", Role.REVIEWER, 30)
    assert record.revoked_at is not None
    shown = repr(store.list())
    assert key not in shown and hashlib.sha256(key.encode()).hexdigest() not in shown


def test_revoking_an_unknown_or_already_revoked_client_raises(api):
    store: ClientStore = api.components.clients
    with pytest.raises(ClientError, match="no active client"):
        store.revoke("nobody")
    api.add_client("requester", name="once")
    store.revoke("once")
    with pytest.raises(ClientError, match="no active client"):
        store.revoke("once")


# --- python -m api clients ---


def clients_cli(database_url: str, *args: str, command: str = "clients") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api", command, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": database_url},
        timeout=120,
    )


def organisations_cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return clients_cli(database_url, *args, command="organisations")


def test_the_cli_adds_a_client_shows_its_key_once_lists_it_without_the_key_and_revokes_it(api, database_url):
    assert organisations_cli(database_url, "add", "--name", "CLI Org").stdout.strip() == "cli-org"
    added = clients_cli(database_url, "add", "--name", "cli-client", "--role", "requester", "--organisation", "cli-org")
    assert added.returncode == 0, added.stderr
    [key] = [line for line in added.stdout.splitlines() if line.startswith("trc_")]
    assert api.trace(trace_body(), key).status_code == 200

    listed = clients_cli(database_url, "list")
    assert listed.returncode == 0, listed.stderr
    assert "cli-client" in listed.stdout and "active" in listed.stdout and key not in listed.stdout

    revoked = clients_cli(database_url, "revoke", "--name", "cli-client")
    assert revoked.returncode == 0, revoked.stderr
    assert_unauthenticated(api.trace(trace_body(), key))
    assert "revoked" in clients_cli(database_url, "list").stdout


@pytest.mark.slow  # a process of its own
def test_the_cli_refuses_a_bad_role_with_exit_2(tmp_path):
    bad_role = clients_cli(f"sqlite:///{tmp_path / 'unused.db'}", "add", "--name", "x", "--role", "admin")
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr and "trc_" not in bad_role.stdout


def test_the_cli_refuses_a_duplicate_name_with_exit_2_and_a_clear_error(database_url):
    assert organisations_cli(database_url, "add", "--name", "dup-org").returncode == 0
    first = clients_cli(database_url, "add", "--name", "dup", "--role", "requester", "--organisation", "dup-org")
    assert first.returncode == 0
    again = clients_cli(database_url, "add", "--name", "dup", "--role", "auditor", "--organisation", "dup-org")
    assert again.returncode == 2 and "trc_" not in again.stdout
    assert again.stderr.startswith("error:") and "'dup' already exists" in again.stderr
    assert "Traceback" not in again.stderr


# --- Client names and rates the store must refuse cleanly. ---


def test_a_client_name_with_a_trailing_newline_is_refused(api):
    with pytest.raises(ClientError):
        api.components.clients.add("alice\n", "requester", organisation="o")


def test_a_rate_beyond_the_limit_is_a_client_error_not_a_database_error(api):
    with pytest.raises(ClientError, match="1,000,000"):
        api.components.clients.add("fast", "requester", 2**31, organisation="o")
    assert api.components.clients.list() == []
