"""An operator with write access to the database, without the master key, against clients and organisations (issue
17): every edit of a row that grants rights is refused at once (its keyed MAC fails) or found by replaying the
register's changes (a row restored from a backup), and reported. Both databases."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from sqlalchemy import insert, select, update

from api.access.clients import ClientError, _hash, _new_key
from api.access.replay import replay
from api.access.tampering import UNVERIFIED, RowProblem
from api.audit.outcomes import RegisterOutcome
from api.storage.tables import clients, organisations
from tests.support.api import UNKNOWN_KEY, ApiHarness, bearer, trace_body

WELFARE = {"category": 2, "welfare_description": "vulnerable adult missing from care"}


def _edit(api: ApiHarness, client: str, **values) -> None:
    with api.components.engine.begin() as connection:
        connection.execute(update(clients).where(clients.c.name == client).values(**values))


def _row(api: ApiHarness, name: str) -> dict:
    with api.components.engine.connect() as connection:
        return dict(connection.execute(select(clients).where(clients.c.name == name)).one()._mapping)


def _tampering(api: ApiHarness) -> list:
    api.components.clients.tampering.flush()
    return [e for e in api.entries() if e.draft.outcome == RegisterOutcome.TAMPERING_DETECTED]


def _refused_like_an_unknown_key(api: ApiHarness, response, path: str = "/v1/traces", method: str = "post") -> None:
    """The answer to a key whose row was edited is the answer to a key no client holds."""
    kwargs = {"json": trace_body()} if method == "post" else {}
    unknown = getattr(api.http, method)(path, headers=bearer(UNKNOWN_KEY), **kwargs)
    assert response.status_code == unknown.status_code == 401
    assert {k: v for k, v in response.json().items() if k != "instance"} == {
        k: v for k, v in unknown.json().items() if k != "instance"
    }


def _hold(api: ApiHarness, requester: str, person: dict) -> str:
    answer = api.trace(trace_body(person, basis=WELFARE), requester).json()
    assert answer["status"] == "pending_review"
    return answer["trace_id"]


def _restart(api: ApiHarness, master_key) -> ApiHarness:
    """A new service on the same database: what a start finds."""
    return ApiHarness(api.settings.database_url, api.components.service.tracer, master_key)


def test_a_revoked_key_set_back_to_null_is_refused_at_once_and_reported(api, people, caplog):
    key = api.add_client("requester", name="revoked-then-restored")
    api.components.clients.revoke("revoked-then-restored")
    _edit(api, "revoked-then-restored", revoked_at=None)
    with caplog.at_level(logging.WARNING, logger="api.access.tampering"):
        response = api.trace(trace_body(people["ordinary"]), key)
    _refused_like_an_unknown_key(api, response)
    [entry] = _tampering(api)
    assert entry.draft.client_id == _row(api, "revoked-then-restored")["id"]
    assert entry.draft.refusal_codes == (RowProblem.MAC_INVALID.value,)
    [line] = [r.getMessage() for r in caplog.records if "tampering detected" in r.getMessage()]
    row = _row(api, "revoked-then-restored")
    assert key not in line and row["key_hash"] not in line and row["row_mac"] not in line
    api.trace(trace_body(people["ordinary"]), key)  # again: refused, and not reported twice
    assert len(_tampering(api)) == 1
    [record] = [c for c in api.components.clients.list() if c.name == "revoked-then-restored"]
    assert not record.intact


def test_a_requester_made_reviewer_by_hand_is_refused_and_cannot_read_a_case(api, people):
    requester = api.add_client("requester", name="ho", organisation="Home Office")
    trace_id = _hold(api, requester, people["ordinary"])
    promoted = api.add_client("requester", name="police", organisation="Police")
    _edit(api, "police", role="reviewer")
    response = api.http.get(f"/v1/reviews/{trace_id}", headers=bearer(promoted))
    _refused_like_an_unknown_key(api, response, f"/v1/reviews/{trace_id}", "get")
    assert api.http.get("/v1/reviews", headers=bearer(promoted)).status_code == 401
    [entry] = _tampering(api)
    assert (entry.draft.client_id, entry.draft.client_name) == (_row(api, "police")["id"], UNVERIFIED)


def test_a_reviewer_moved_to_another_organisation_by_hand_is_refused(api, people):
    requester = api.add_client("requester", name="ho", organisation="Home Office")
    trace_id = _hold(api, requester, people["ordinary"])
    insider = api.add_client("reviewer", name="ho-review", organisation="Home Office")
    api.components.clients.organisations.ensure("NHS England")
    _edit(api, "ho-review", organisation="nhs-england")  # an organisation that may decide Home Office's requests
    decided = api.http.post(
        f"/v1/reviews/{trace_id}", json={"decision": "approve", "reason": "fine"}, headers=bearer(insider)
    )
    assert decided.status_code == 401
    assert api.components.service.reviews.case(trace_id).state == "pending"
    assert [e.draft.client_id for e in _tampering(api)] == [_row(api, "ho-review")["id"]]


def test_a_mac_copied_from_another_row_is_refused(api, people):
    api.add_client("reviewer", name="real-reviewer", organisation="NHS England")
    requester = api.add_client("requester", name="wants-more", organisation="Police")
    trace_id = _hold(api, api.add_client("requester", name="ho", organisation="Home Office"), people["ordinary"])
    reviewer_row = _row(api, "real-reviewer")
    _edit(api, "wants-more", role="reviewer", organisation="nhs-england", row_mac=reviewer_row["row_mac"])
    assert api.http.get(f"/v1/reviews/{trace_id}", headers=bearer(requester)).status_code == 401
    assert [e.draft.client_id for e in _tampering(api)] == [_row(api, "wants-more")["id"]]


def test_a_row_restored_from_an_old_copy_is_found_by_verify_and_refused_from_the_next_start(
    api, people, database_url, master_key
):
    key = api.add_client("requester", name="restored")
    before = _row(api, "restored")  # a backup, taken while the key was valid
    api.components.clients.revoke("restored")
    _edit(api, "restored", **{k: v for k, v in before.items() if k != "id"})  # put back, with its valid MAC
    findings = replay(api.components.engine, api.components.service.register, api.components.clients.macs)
    assert [(f.table, f.name, f.problem) for f in findings] == [("clients", "restored", RowProblem.DIFFERS)]

    verify = _cli(database_url, "register", "verify")
    assert verify.returncode == 1 and "clients row" in verify.stdout and "differs_from_register" in verify.stdout
    assert key not in verify.stdout and before["key_hash"] not in verify.stdout

    restarted = _restart(api, master_key)
    try:
        _refused_like_an_unknown_key(restarted, restarted.trace(trace_body(people["ordinary"]), key))
        assert [e.draft.refusal_codes for e in _tampering(restarted)] == [(RowProblem.DIFFERS.value,)]
        # Revoking it again is a change the service makes: the row is what the register says once more.
        restarted.components.clients.revoke("restored")
    finally:
        restarted.close()
    assert replay(api.components.engine, api.components.service.register, api.components.clients.macs) == []


def test_a_client_inserted_by_hand_is_refused_and_found(api, people, database_url, master_key):
    api.components.clients.organisations.ensure("Home Office")
    key_id, key = _new_key()
    row = {
        "name": "smuggled",
        "role": "requester",
        "key_id": key_id,
        "key_hash": _hash(key),
        "rate_per_minute": None,
        "organisation": "home-office",
        "created_at": "2026-11-22T12:00:00.000000+00:00",
        "revoked_at": None,
        "row_mac": "0" * 64,
    }
    with api.components.engine.begin() as connection:
        connection.execute(insert(clients).values(**row))
    _refused_like_an_unknown_key(api, api.trace(trace_body(people["ordinary"]), key))
    assert [e.draft.client_id for e in _tampering(api)] == [_row(api, "smuggled")["id"]]
    verify = _cli(database_url, "register", "verify")
    assert verify.returncode == 1 and "row_mac_invalid" in verify.stdout
    restarted = _restart(api, master_key)
    try:
        assert restarted.trace(trace_body(people["ordinary"]), key).status_code == 401
    finally:
        restarted.close()


def test_an_empty_or_null_mac_is_never_accepted(api, people):
    key = api.add_client("requester", name="unsealed")
    row = _row(api, "unsealed")
    macs = api.components.clients.macs
    assert macs.client_intact(row) and not macs.client_intact({**row, "row_mac": None})  # the column is NOT NULL
    _edit(api, "unsealed", row_mac="")
    assert api.trace(trace_body(people["ordinary"]), key).status_code == 401


def test_an_organisation_row_edited_by_hand_is_found(api, database_url):
    api.components.clients.organisations.ensure("Home Office")
    with api.components.engine.begin() as connection:
        connection.execute(update(organisations).values(name="Someone Else"))
    [listed] = api.components.clients.organisations.list()
    assert not listed.intact
    findings = replay(api.components.engine, api.components.service.register, api.components.clients.macs)
    assert [(f.table, f.row_id, f.problem) for f in findings] == [
        ("organisations", "home-office", RowProblem.MAC_INVALID)
    ]
    with pytest.raises(ClientError, match="fails its MAC"):
        api.add_client("requester", name="of-an-edited-organisation", organisation="Home Office")


@pytest.mark.parametrize("variant", ["demo-requester-1", "Demo Requester 1 ", "DEMO_REQUESTER.1", " demo--requester 1"])
def test_spellings_of_one_organisation_are_one_and_a_second_add_is_refused(api, variant):
    store = api.components.clients.organisations
    assert store.add("Demo-Requester-1").id == "demo-requester-1"
    with pytest.raises(ClientError, match="exists already"):
        store.add(variant)
    assert [(o.id, o.name) for o in store.list()] == [("demo-requester-1", "Demo-Requester-1")]


def test_a_reviewer_whose_organisation_differs_only_by_case_cannot_decide_its_request(api, people):
    requester = api.add_client("requester", name="demo-requester", organisation="Demo-Requester-1")
    trace_id = _hold(api, requester, people["ordinary"])
    reviewer = api.add_client("reviewer", name="demo-reviewer", organisation="demo-requester-1 ")
    decided = api.http.post(
        f"/v1/reviews/{trace_id}", json={"decision": "approve", "reason": "fine"}, headers=bearer(reviewer)
    )
    assert decided.status_code == 403
    assert api.components.service.reviews.case(trace_id).state == "pending"


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url},
        timeout=120,
    )
