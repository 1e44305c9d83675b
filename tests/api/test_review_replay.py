"""Held requests' rows replayed against the register's review steps (``api.review.replay``), both databases.

A legitimate history (approved and collected, refused, four eyes countersigned or refused at the second step, a
case with no candidate, cases left open, retention) gives no finding at start, in the replay or in ``register
verify``, and leaves every open case open: the replay must not cry wolf. Rows put back whole (valid MAC and all)
are refused by the running service at the next decision or collection, without a restart, and found at start.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from api.access.tampering import RowProblem
from api.audit.outcomes import RegisterOutcome
from api.review.replay import replay
from tests.support.api import ApiHarness, bearer, trace_body

WELFARE = {"category": 2, "welfare_description": "vulnerable adult missing from care"}


@pytest.fixture
def keys(api: ApiHarness) -> dict[str, str]:
    made = {
        "requester": ("requester", "Home Office"),
        "reviewer": ("reviewer", "NHS England"),
        "reviewer2": ("reviewer", "NHS Wales"),
        "guardian": ("guardian", "NHS England"),
        "guardian2": ("guardian", "NHS Wales"),
        "guardian3": ("guardian", "NHS Scotland"),
    }
    return {name: api.add_client(role, name=name, organisation=org) for name, (role, org) in made.items()}


def _held(api: ApiHarness, requester: str, person: dict, basis: dict | None = None) -> str:
    """A held request: welfare if ``basis`` says so, else category 1 held as a probe (one approval releases it)."""
    probes = api.components.probes
    limit, probes.limit = probes.limit, (1_000 if basis else 0)
    try:
        body = trace_body(person) if basis is None else trace_body(person, basis=basis)
        answer = api.trace(body, requester).json()
    finally:
        probes.limit = limit
    assert answer["status"] == "pending_review", answer
    return answer["trace_id"]


def _decide(api: ApiHarness, key: str, trace_id: str, approve: bool = True, candidate: int | None = 0):
    body = {"decision": "approve" if approve else "refuse", "reason": "seen"}
    body |= {} if candidate is None else {"candidate": candidate}
    return api.http.post(f"/v1/reviews/{trace_id}", json=body, headers=bearer(key))


def _state(api: ApiHarness, key: str, trace_id: str, **decision) -> str:
    response = _decide(api, key, trace_id, **decision)
    assert response.status_code == 200, response.text
    return response.json()["state"]


def _look(api: ApiHarness, key: str, trace_id: str):
    return api.http.get(f"/v1/traces/{trace_id}", headers=bearer(key))


def _row(api: ApiHarness, trace_id: str) -> dict:
    with api.components.engine.connect() as connection:
        query = text("SELECT * FROM reviews WHERE trace_id = :t")
        return dict(connection.execute(query, {"t": trace_id}).one()._mapping)


def _put_back(api: ApiHarness, saved: dict) -> None:
    columns = [c for c in saved if c != "trace_id"]
    with api.components.engine.begin() as connection:
        statement = "UPDATE reviews SET " + ", ".join(f"{c} = :{c}" for c in columns) + " WHERE trace_id = :trace_id"
        connection.execute(text(statement), saved)


def _findings(api: ApiHarness) -> list:
    components = api.components
    return replay(components.engine, components.service.register, components.service.reviews.seal)


def _tampering(api: ApiHarness, trace_id: str | None = None) -> list:
    api.components.clients.tampering.flush()
    return [
        e.draft
        for e in api.entries()
        if e.draft.outcome == RegisterOutcome.TAMPERING_DETECTED and trace_id in (None, e.draft.concerns)
    ]


def _restart(api: ApiHarness, master_key) -> ApiHarness:
    url, tracer = api.settings.database_url, api.components.service.tracer
    api.close()
    return ApiHarness(url, tracer, master_key)


def _verify(api: ApiHarness) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api", "register", "verify"],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": api.settings.database_url},
        timeout=120,
    )


def test_a_legitimate_history_gives_no_finding_and_leaves_open_cases_open(api, people, keys, master_key):
    ordinary, restricted = people["ordinary"], people["restricted"]
    collected = _held(api, keys["requester"], ordinary)
    assert _state(api, keys["reviewer"], collected) == "approved"
    assert _look(api, keys["requester"], collected).json()["status"] == "traced"
    refused = _held(api, keys["requester"], ordinary)
    assert _state(api, keys["reviewer"], refused, approve=False) == "refused"
    countersigned = _held(api, keys["requester"], ordinary, WELFARE)
    assert _state(api, keys["guardian"], countersigned) == "awaiting_second"
    assert _state(api, keys["guardian2"], countersigned) == "approved"
    assert _look(api, keys["requester"], countersigned).json()["status"] == "traced"
    second_refused = _held(api, keys["requester"], ordinary, WELFARE)
    assert _state(api, keys["guardian"], second_refused) == "awaiting_second"
    assert _state(api, keys["guardian2"], second_refused, approve=False) == "refused"
    awaiting = _held(api, keys["requester"], ordinary, WELFARE)
    assert _state(api, keys["guardian"], awaiting) == "awaiting_second"
    waiting = _held(api, keys["requester"], ordinary)
    assert _state(api, keys["reviewer"], waiting) == "approved"
    nothing = _held(api, keys["requester"], restricted)  # no candidate is shown or stored: approval finds no one
    assert _state(api, keys["reviewer"], nothing, candidate=None) == "approved"
    assert _look(api, keys["requester"], nothing).json()["status"] == "not_found"
    pending = _held(api, keys["requester"], ordinary)
    for trace_id in (pending, awaiting, refused):  # reads and status looks change nothing
        assert _look(api, keys["requester"], trace_id).status_code == 200
    assert _decide(api, keys["guardian"], awaiting).status_code == 403  # a refused step names the case too

    assert _findings(api) == []
    api = _restart(api, master_key)
    try:
        assert _tampering(api) == []
        api.clock.now += dt.timedelta(days=31)
        expired = set(api.components.service.apply_retention())
        assert expired == {collected, refused, countersigned, second_refused, waiting, nothing}
        assert _look(api, keys["requester"], waiting).json().get("disclosure") is None  # past retention
        assert _findings(api) == []
    finally:
        api.close()
    api = _restart(api, master_key)
    try:
        assert _tampering(api) == []
        assert _state(api, keys["guardian3"], awaiting) == "approved"  # the open cases are still open
        assert _look(api, keys["requester"], awaiting).json()["status"] == "traced"
        assert _state(api, keys["reviewer2"], pending) == "approved"
        assert _findings(api) == []
        verify = _verify(api)
        assert verify.returncode == 0, verify.stdout
        assert "held requests: as the register's review steps left them" in verify.stdout
    finally:
        api.close()


def test_a_second_collection_of_a_row_put_back_is_refused_without_a_restart(api, people, keys):
    trace_id = _held(api, keys["requester"], people["ordinary"])
    assert _state(api, keys["reviewer"], trace_id) == "approved"
    saved = _row(api, trace_id)
    assert _look(api, keys["requester"], trace_id).json()["disclosure"]
    _put_back(api, saved)
    for _ in range(2):  # refused, and the case stays closed
        again = _look(api, keys["requester"], trace_id)
        assert again.status_code == 409 and "disclosure" not in again.json(), again.text
        assert "not what the register records" in again.json()["detail"]
    noted = _tampering(api, trace_id)
    assert [(d.client_name, d.refusal_codes) for d in noted] == [("requester", ("differs_from_register",))] * 2
    steps = [e.draft.outcome for e in api.entries() if e.draft.concerns == trace_id]
    assert steps.count(RegisterOutcome.COLLECTED) == 1
    assert [(f.table, f.row_id, f.problem) for f in _findings(api)] == [("reviews", trace_id, RowProblem.DIFFERS)]
    verify = _verify(api)
    assert verify.returncode == 1 and f"reviews row {trace_id}: differs_from_register" in verify.stdout


def test_decisions_on_rows_put_back_from_before_a_decision_are_refused_without_a_restart(api, people, keys):
    # A first approval undone: another guardian's approval would be a first approval again (a third decider).
    welfare = _held(api, keys["requester"], people["ordinary"], WELFARE)
    before = _row(api, welfare)
    assert _state(api, keys["guardian"], welfare) == "awaiting_second"
    _put_back(api, before)
    assert _decide(api, keys["guardian2"], welfare).status_code == 409
    # A refusal undone: the case would be open to another reviewer.
    probe = _held(api, keys["requester"], people["ordinary"])
    before = _row(api, probe)
    assert _state(api, keys["reviewer"], probe, approve=False) == "refused"
    _put_back(api, before)
    assert _decide(api, keys["reviewer2"], probe).status_code == 409
    assert api.http.get(f"/v1/reviews/{probe}", headers=bearer(keys["reviewer2"])).status_code == 409  # closed
    # A refusal undone with its entry edited too (another outcome, so that no refusal shows): that entry's hash is
    # not the key's, and the case agrees with no row.
    edited = _held(api, keys["requester"], people["ordinary"])
    before = _row(api, edited)
    assert _state(api, keys["reviewer"], edited, approve=False) == "refused"
    _put_back(api, before)
    with api.components.engine.begin() as connection:
        statement = "UPDATE register_entries SET outcome = 'review_read' WHERE concerns = :t AND outcome = :o"
        connection.execute(text(statement), {"t": edited, "o": RegisterOutcome.REVIEW_REFUSED.value})
    assert _decide(api, keys["reviewer2"], edited).status_code == 409
    for trace_id, decider in ((welfare, "guardian2"), (probe, "reviewer2")):
        noted = [(d.client_name, d.refusal_codes) for d in _tampering(api, trace_id)]
        assert noted[0] == (decider, ("differs_from_register",))
        finals = [e for e in api.entries() if e.draft.concerns == trace_id and e.draft.outcome.startswith("review_")]
        assert len(finals) == 1  # the one decision the service made


def test_an_expired_row_put_back_and_a_row_deleted_are_found_at_start(api, people, keys, master_key):
    expired = _held(api, keys["requester"], people["ordinary"])
    assert _state(api, keys["reviewer"], expired) == "approved"
    saved = _row(api, expired)
    api.clock.now += dt.timedelta(days=31)
    assert api.components.service.apply_retention() == [expired]
    _put_back(api, saved)  # its disclosure waiting again
    deleted = _held(api, keys["requester"], people["ordinary"])
    with api.components.engine.begin() as connection:
        connection.execute(text("DELETE FROM reviews WHERE trace_id = :t"), {"t": deleted})
    api = _restart(api, master_key)
    try:
        found = {(d.concerns, d.client_name, d.refusal_codes) for d in _tampering(api)}
        assert found == {
            (expired, "requester", ("differs_from_register",)),
            (deleted, "requester", ("missing_from_table",)),
        }
        assert _look(api, keys["requester"], expired).status_code == 409
        assert _look(api, keys["requester"], deleted).status_code == 404
    finally:
        api.close()


def test_steps_out_of_the_rules_order_agree_with_no_row():
    """Entries made up or edited without the key can add findings, never make an older row look current."""
    from api.review.replay import Recorded, disagrees

    row = {"state": "awaiting_second", "first_approved_by": 3, "collected_at": None, "expired_at": None}
    row["sealed_disclosure"] = None
    recorded = Recorded("requester")
    recorded.after(RegisterOutcome.REVIEW_FIRST_APPROVAL)
    assert not disagrees(recorded, row)
    for later in (
        (RegisterOutcome.REVIEW_REFUSED, RegisterOutcome.REVIEW_FIRST_APPROVAL),  # a refusal approved again
        (RegisterOutcome.REVIEW_REFUSED, RegisterOutcome.EXPIRED, RegisterOutcome.REVIEW_FIRST_APPROVAL),
        (RegisterOutcome.COLLECTED,),  # collected before its final approval
    ):
        recorded = Recorded("requester")
        for step in (RegisterOutcome.REVIEW_FIRST_APPROVAL, *later):
            recorded.after(step)
        assert recorded.broken and disagrees(recorded, row), later
    twice = Recorded("requester")
    for step in (RegisterOutcome.REVIEW_APPROVED, RegisterOutcome.COLLECTED, RegisterOutcome.COLLECTED):
        twice.after(step)
    assert twice.broken
