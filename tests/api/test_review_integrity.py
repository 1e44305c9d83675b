"""Review rows carry a keyed MAC: a row edited in the database is refused where it is read, logged, and noted in
the register as ``tampering_detected`` (both databases). And migration 0006 gives existing rows their MAC.

The edits are an operator's with write access to the database and without the master key: a refused case set back
to pending, a case handed to another requester, its decider changed, a case marked approved without its second
approval, an older sealed case put back.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import text

from api.audit.outcomes import RegisterOutcome
from tests.support.api import assert_problem, bearer, trace_body


def _client(api, name: str, role: str, organisation: str) -> str:
    return api.add_client(role, name=name, organisation=organisation)


def _held(api, requester: str, people) -> str:
    """A category 1 request about the ordinary person held as a probe (candidate 0 meets the requirements)."""
    probes = api.components.probes
    limit, probes.limit = probes.limit, 0
    try:
        answer = api.trace(trace_body(people["ordinary"]), requester).json()
    finally:
        probes.limit = limit
    assert answer["status"] == "pending_review"
    return answer["trace_id"]


def _sql(api, statement: str, **values) -> None:
    with api.components.engine.begin() as connection:
        assert connection.execute(text(statement), values).rowcount == 1


def _decide(api, key: str, trace_id: str, decision: str = "approve", candidate: int | None = 0):
    body = {"decision": decision, "reason": "seen", "candidate": candidate}
    return api.http.post(f"/v1/reviews/{trace_id}", json=body, headers=bearer(key))


def _noted(api, trace_id: str) -> list[tuple[str, int]]:
    return [
        (e.draft.client_name, e.draft.http_status)
        for e in api.entries()
        if e.draft.outcome == RegisterOutcome.TAMPERING_DETECTED and e.draft.concerns == trace_id
    ]


@pytest.fixture
def world(api):
    keys = {
        "requester": _client(api, "ho-requests", "requester", "Home Office"),
        "other": _client(api, "ho-other", "requester", "Home Office"),
        "reviewer": _client(api, "r-eng", "reviewer", "NHS England"),
        "second": _client(api, "r-wal", "reviewer", "NHS Wales"),
    }
    ids = {c.name: c.id for c in api.components.clients.list()}
    return keys, ids


def test_a_refused_case_set_back_to_pending_is_refused_everywhere_and_noted(api, people, world, caplog):
    keys, _ = world
    caplog.set_level(logging.ERROR, logger="api")
    trace_id = _held(api, keys["requester"], people)
    assert _decide(api, keys["reviewer"], trace_id, "refuse").json()["state"] == "refused"
    _sql(api, "UPDATE reviews SET state = 'pending' WHERE trace_id = :t", t=trace_id)

    queue = api.http.get("/v1/reviews", headers=bearer(keys["second"]))
    assert queue.status_code == 200 and queue.json()["pending"] == []  # left out of the queue
    problem = assert_problem(api.http.get(f"/v1/reviews/{trace_id}", headers=bearer(keys["second"])), 409)
    assert "integrity" in problem["detail"] and people["ordinary"]["family_name"] not in str(problem)
    assert_problem(_decide(api, keys["second"], trace_id), 409)
    assert_problem(api.http.get(f"/v1/traces/{trace_id}", headers=bearer(keys["requester"])), 409)
    assert _noted(api, trace_id) == [("r-wal", 200), ("r-wal", 409), ("r-wal", 409), ("ho-requests", 409)]
    assert f"review row {trace_id} fails its integrity check" in caplog.text
    assert api.components.service.register.verify().ok


def test_a_case_handed_to_another_requester_is_not_theirs_to_collect(api, people, world):
    keys, ids = world
    trace_id = _held(api, keys["requester"], people)
    assert _decide(api, keys["reviewer"], trace_id).json()["state"] == "approved"
    _sql(api, "UPDATE reviews SET client_id = :c WHERE trace_id = :t", c=ids["ho-other"], t=trace_id)
    taken = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(keys["other"]))
    assert_problem(taken, 409)
    assert "disclosure" not in taken.json() and _noted(api, trace_id) == [("ho-other", 409)]
    # Nothing was collected: put back, the requester who asked still can.
    _sql(api, "UPDATE reviews SET client_id = :c WHERE trace_id = :t", c=ids["ho-requests"], t=trace_id)
    collected = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(keys["requester"])).json()
    assert collected["status"] == "traced" and collected["disclosure"] is not None


def test_a_changed_decider_is_refused_on_reading_collecting_and_expiring(api, people, world):
    keys, ids = world
    trace_id = _held(api, keys["requester"], people)
    assert _decide(api, keys["reviewer"], trace_id).json()["state"] == "approved"
    _sql(api, "UPDATE reviews SET decided_by = :c WHERE trace_id = :t", c=ids["r-wal"], t=trace_id)
    assert_problem(api.http.get(f"/v1/reviews/{trace_id}", headers=bearer(keys["second"])), 409)
    assert_problem(api.http.get(f"/v1/traces/{trace_id}", headers=bearer(keys["requester"])), 409)
    api.clock.now += dt.timedelta(days=31)
    assert api.components.service.apply_retention() == []  # not expired: sealing it again would launder the edit
    assert _noted(api, trace_id) == [("r-wal", 409), ("ho-requests", 409), ("(service)", 0)]


def test_a_case_marked_approved_without_its_second_approval_is_refused(api, people, world):
    keys, _ = world
    body = trace_body(people["ordinary"])
    body["basis"] = {"category": 2, "welfare_description": "vulnerable adult missing from care"}
    trace_id = api.trace(body, keys["requester"]).json()["trace_id"]
    guardian = _client(api, "caldicott", "guardian", "NHS Scotland")
    assert _decide(api, guardian, trace_id).json()["state"] == "awaiting_second"
    _sql(api, "UPDATE reviews SET state = 'approved' WHERE trace_id = :t", t=trace_id)
    answer = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(keys["requester"]))
    assert_problem(answer, 409)
    assert _noted(api, trace_id) == [("ho-requests", 409)]


def test_an_older_sealed_case_put_back_is_refused(api, people, world):
    keys, _ = world
    trace_id = _held(api, keys["requester"], people)
    with api.components.engine.connect() as connection:
        before = connection.execute(
            text("SELECT sealed_case FROM reviews WHERE trace_id = :t"), {"t": trace_id}
        ).scalar()
    assert _decide(api, keys["reviewer"], trace_id, "refuse").json()["state"] == "refused"
    _sql(api, "UPDATE reviews SET sealed_case = :b WHERE trace_id = :t", b=bytes(before), t=trace_id)
    assert_problem(api.http.get(f"/v1/reviews/{trace_id}", headers=bearer(keys["second"])), 409)


def test_a_missing_mac_is_never_accepted(api, people, world):
    from sqlalchemy.exc import IntegrityError

    keys, _ = world
    trace_id = _held(api, keys["requester"], people)
    with pytest.raises(IntegrityError), api.components.engine.begin() as connection:
        connection.execute(text("UPDATE reviews SET row_mac = NULL WHERE trace_id = :t"), {"t": trace_id})
    _sql(api, "UPDATE reviews SET row_mac = '' WHERE trace_id = :t", t=trace_id)
    assert_problem(api.http.get(f"/v1/reviews/{trace_id}", headers=bearer(keys["reviewer"])), 409)


def test_migration_0006_gives_existing_rows_their_mac_with_the_key_and_stops_without(
    database_url, master_key, monkeypatch
):
    from api.review.queue import ReviewState, ReviewStore
    from api.storage.engine import make_engine
    from api.storage.migrate import current_revision, upgrade

    engine = make_engine(database_url)
    try:
        upgrade(engine, "0005", key=master_key)
        store = ReviewStore(engine, master_key)
        trace_id = "00000000-0000-4000-8000-000000000006"
        sealed = store._seal(trace_id, "case", {"request": {}, "candidates": [], "disclosures": []})
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO reviews (trace_id, client_id, organisation, reason, policy_version, created_at, "
                    "sealed_case, state) VALUES (:t, 7, 'Home Office', 'welfare', 'mou-2018-05', "
                    "'2026-11-01T00:00:00.000000+00:00', :s, 'pending')"
                ),
                {"t": trace_id, "s": sealed},
            )
        with monkeypatch.context() as without:  # no key given, and none in the environment
            without.setattr("matcher.protection.keys.load_master_key", _no_key)
            with pytest.raises(RuntimeError, match="needs the master key"):
                upgrade(engine)
        assert current_revision(engine) == "0005"
        upgrade(engine, key=master_key)
        case = store.case(trace_id)  # the migration's MAC is the store's
        assert case.state is ReviewState.PENDING and case.client_id == 7
    finally:
        engine.dispose()


def _no_key():
    from matcher.protection.keys import KeyConfigurationError

    raise KeyConfigurationError("no master key configured")
