"""A key whose key id no client holds is checked as a key of a real key id with a wrong secret is: the same query,
the same hash and constant-time comparison, the same answer, nothing recorded, so that a 401's time does not say
whether a guessed key id exists. (How long each takes is measured by ``benchmarks/key_timing.py``; here, without
timing anything, that both do the same work.)"""

from __future__ import annotations

import hmac
import secrets
import types

import pytest
from sqlalchemy import event

import api.access.clients as clients_module
from api.access.clients import Role
from tests.support.api import bearer

SOME_TRACE_ID = "0b7e3f0c-3f55-4d1e-9d0c-2c8a3f9e1d44"
ENDPOINTS = [  # every endpoint that checks a key, and the role of the client whose key id is tried
    ("POST", "/v1/traces", Role.REQUESTER),
    ("GET", f"/v1/traces/{SOME_TRACE_ID}", Role.REQUESTER),
    ("GET", "/v1/reviews", Role.REVIEWER),
    ("GET", f"/v1/reviews/{SOME_TRACE_ID}", Role.REVIEWER),
    ("POST", f"/v1/reviews/{SOME_TRACE_ID}", Role.REVIEWER),
    ("GET", "/v1/register/summary", Role.AUDITOR),
    ("GET", "/v1/register/entries", Role.AUDITOR),
]


def wrong_secret(key: str) -> str:
    """The key's own key id with a new secret (split at the first underscores: a secret may hold some)."""
    return f"trc_{key.split('_')[1]}_{secrets.token_urlsafe(32)}"


def unknown_id() -> str:
    return f"trc_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


@pytest.fixture
def work_of(api, monkeypatch):
    """What checking a key does: the SQL it runs, the hashes it takes, the comparisons it makes, in order."""
    done: list[str] = []
    real_hash = clients_module._hash

    def hashing(text: str) -> str:
        done.append("hash")
        return real_hash(text)

    def comparing(a, b) -> bool:
        done.append(f"compare {len(a)}:{len(b)}")
        return hmac.compare_digest(a, b)

    def executing(conn, cursor, statement, parameters, context, executemany) -> None:
        done.append(" ".join(statement.split()))

    monkeypatch.setattr(clients_module, "_hash", hashing)
    monkeypatch.setattr(clients_module, "hmac", types.SimpleNamespace(compare_digest=comparing))
    engine = api.components.clients.engine
    event.listen(engine, "before_cursor_execute", executing)

    def check(key: str) -> list[str]:
        done.clear()
        assert api.components.clients.authenticate_many([key]) == [None]
        return list(done)

    yield check
    event.remove(engine, "before_cursor_execute", executing)


def test_an_unknown_key_id_is_checked_with_the_same_work_as_a_wrong_secret(api, work_of):
    key = api.add_client(Role.REVIEWER.value)
    unknown, wrong = work_of(unknown_id()), work_of(wrong_secret(key))
    assert unknown == wrong
    assert unknown.count("hash") == 1 and sum(step.startswith("compare 64:64") for step in unknown) == 1, unknown
    assert sum(step.startswith("SELECT") for step in unknown) == 1, unknown


def test_a_revoked_key_is_checked_with_the_same_work_too(api, work_of):
    key = api.add_client(Role.AUDITOR.value, name="leaving")
    api.components.clients.revoke("leaving")
    assert work_of(key) == work_of(unknown_id())


@pytest.mark.parametrize(("method", "path", "role"), ENDPOINTS)
def test_every_endpoint_answers_an_unknown_key_id_as_a_wrong_secret_and_records_neither(api, method, path, role):
    key = api.add_client(role.value)
    before = len(api.entries())
    answers = []
    for presented in (unknown_id(), wrong_secret(key)):
        response = api.http.request(method, path, json={} if method == "POST" else None, headers=bearer(presented))
        headers = {k: v for k, v in response.headers.items() if k.lower() != "date"}
        answers.append((response.status_code, headers, response.content))
    assert answers[0] == answers[1] and answers[0][0] == 401
    assert len(api.entries()) == before
