"""The review queue: held requests, reviewers' decisions, and the requester's one collection (both databases)."""

from __future__ import annotations

from matcher.disclosure import DISCLOSURE_FIELDS
from tests.support.api import bearer, trace_body


def _hold_restricted(api, requester_key, people) -> str:
    """A welfare concern about a restricted person: held for a clinician (a certain match to them in an ordinary
    request is answered not_found, with nothing to review)."""
    return _hold_welfare(api, requester_key, people, "restricted")


def _hold_welfare(api, requester_key, people, who: str = "ordinary") -> str:
    body = trace_body(people[who])
    body["basis"] = {"category": 2, "welfare_description": "vulnerable adult missing from care"}
    answer = api.trace(body, requester_key).json()
    assert answer["status"] == "pending_review"
    return answer["trace_id"]


def _hold_as_probe(api, requester_key, body) -> str:
    """An ordinary request held as one variant too many (the limit lowered to none for it)."""
    probes = api.components.probes
    limit, probes.limit = probes.limit, 0
    try:
        answer = api.trace(body, requester_key).json()
    finally:
        probes.limit = limit
    assert answer["status"] == "pending_review"
    return answer["trace_id"]


def _guardian(api, name: str = "caldicott", organisation: str = "NHS England") -> str:
    return api.add_client("guardian", name=name, organisation=organisation)


def test_a_guardian_sees_the_case_without_the_record_and_two_approvals_disclose_once(api, requester_key, people):
    trace_id = _hold_welfare(api, requester_key, people)
    guardian, second = _guardian(api), _guardian(api, "caldicott-wales", "NHS Wales")

    queue = api.http.get("/v1/reviews", headers=bearer(guardian)).json()["pending"]
    assert [(p["trace_id"], p["reason"], p["state"]) for p in queue] == [(trace_id, "welfare", "pending")]
    case = api.http.get(f"/v1/reviews/{trace_id}", headers=bearer(guardian)).json()
    assert case["state"] == "pending" and case["request"]["subject"]["family_name"] == people["ordinary"]["family_name"]
    assert case["candidates"] and {"comparison", "level", "weight"} == set(case["candidates"][0]["comparisons"][0])
    assert case["decided_by_role"] == "guardian" and set(case["approvals_needed"].values()) == {2}  # welfare
    assert people["ordinary"]["address_line_1"] not in str(case)  # per-field levels, never the record

    pending = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(requester_key)).json()
    assert pending["status"] == "pending_review" and pending["disclosure"] is None

    approve = {"decision": "approve", "reason": "lawful and necessary", "candidate": 0}
    decided = api.http.post(f"/v1/reviews/{trace_id}", json=approve, headers=bearer(guardian))
    assert decided.status_code == 200 and decided.json()["state"] == "awaiting_second"
    waiting = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(requester_key)).json()
    assert waiting["status"] == "pending_review" and waiting["disclosure"] is None
    decided = api.http.post(f"/v1/reviews/{trace_id}", json=approve, headers=bearer(second))
    assert decided.status_code == 200 and decided.json()["state"] == "approved"
    first = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(requester_key)).json()
    assert first["status"] == "traced"
    assert first["disclosure"]["last_known_address"]["lines"][0] == people["ordinary"]["address_line_1"]
    again = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(requester_key)).json()
    assert again["status"] == "traced" and again["disclosure"] is None  # once only

    steps = [(e.draft.outcome, e.draft.concerns, e.draft.fields_disclosed) for e in api.entries()]
    assert steps[0] == ("pending_review", None, ())
    assert [s[0] for s in steps[1:]] == ["reviews_listed", "review_read", "status_read", "review_approved_once",
                                         "status_read", "review_countersigned", "collected", "status_read"]  # fmt: skip
    assert steps[7] == ("collected", trace_id, DISCLOSURE_FIELDS)
    assert api.components.service.register.verify().ok


def test_a_restricted_record_is_never_released_even_by_a_reviewer(api, requester_key, people):
    trace_id = _hold_restricted(api, requester_key, people)
    sealed = api.components.service.reviews._open(trace_id, "case", _sealed_case(api, trace_id))
    # Nothing of it is kept: no disclosure (never decrypted) and no candidate, whose levels would say where the
    # restricted person lives; the case is one about nobody.
    assert sealed["disclosures"] == [] and sealed["candidates"] == []
    reviewer = _guardian(api)
    approve = {"decision": "approve", "reason": "lawful and necessary"}
    approved = api.http.post(f"/v1/reviews/{trace_id}", json=approve, headers=bearer(reviewer))
    assert approved.status_code == 200 and approved.json()["state"] == "approved"  # releasing nothing
    answer = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(requester_key)).json()
    assert answer["status"] == "not_found" and answer["disclosure"] is None


def _sealed_case(api, trace_id: str) -> bytes:
    from sqlalchemy import select

    from api.storage.tables import reviews

    with api.components.engine.connect() as connection:
        return connection.execute(select(reviews.c.sealed_case).where(reviews.c.trace_id == trace_id)).scalar()


def test_a_refusal_is_final_and_tells_the_requester(api, requester_key, people):
    trace_id = _hold_restricted(api, requester_key, people)
    reviewer = _guardian(api)
    refuse = {"decision": "refuse", "reason": "no serious crime shown"}
    assert api.http.post(f"/v1/reviews/{trace_id}", json=refuse, headers=bearer(reviewer)).status_code == 200
    answer = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(requester_key)).json()
    assert answer["status"] == "refused" and answer["refusals"][0]["code"] == "REVIEW_REFUSED"
    assert answer["disclosure"] is None
    again = api.http.post(f"/v1/reviews/{trace_id}", json={**refuse, "decision": "approve"}, headers=bearer(reviewer))
    assert again.status_code == 409


def test_a_reviewer_cannot_decide_their_own_organisations_request(api, people):
    requester = api.add_client("requester", name="ho-requests", organisation="Home Office")
    trace_id = _hold_restricted(api, requester, people)
    insider = api.add_client("guardian", name="ho-review", organisation="Home Office")
    response = api.http.post(
        f"/v1/reviews/{trace_id}", json={"decision": "approve", "reason": "looks fine"}, headers=bearer(insider)
    )
    assert response.status_code == 403
    assert api.components.service.reviews.case(trace_id).state == "pending"
    assert api.entries()[-1].draft.outcome == "forbidden"


def test_only_the_requester_who_asked_collects_and_only_reviewers_review(api, requester_key, people):
    trace_id = _hold_restricted(api, requester_key, people)
    other = api.add_client("requester")
    assert api.http.get(f"/v1/traces/{trace_id}", headers=bearer(other)).status_code == 404
    assert api.http.get("/v1/reviews", headers=bearer(requester_key)).status_code == 403
    unknown = "/v1/reviews/0b7e3f0c-3f55-4d1e-9d0c-2c8a3f9e1d44"
    assert api.http.get(unknown, headers=bearer(api.add_client("reviewer"))).status_code == 404


def test_the_held_case_is_sealed_at_rest(api, requester_key, people):
    _hold_restricted(api, requester_key, people)
    from sqlalchemy import select

    from api.storage.tables import reviews

    with api.components.engine.connect() as connection:
        stored = repr([tuple(r) for r in connection.execute(select(reviews)).all()]).upper()
    for value in (people["restricted"]["family_name"], people["restricted"]["address_line_1"]):
        assert value.upper() not in stored


def test_a_policy_switch_is_recorded_and_a_waiting_request_is_judged_again(api, requester_key, people):
    import datetime as dt

    api.clock.now = dt.datetime(2018, 5, 1, 12, tzinfo=dt.UTC)  # under mou-2017-01: no serious-crime ground needed
    body = trace_body(people["ordinary"], investigation__last_contact="2017-06-01")
    del body["basis"]["serious_crime"]
    trace_id = _hold_as_probe(api, requester_key, body)
    reviewer = api.add_client("reviewer", name="caldicott", organisation="NHS England")

    api.clock.now = dt.datetime(2018, 5, 10, 12, tzinfo=dt.UTC)  # mou-2018-05 now in force
    api.trace(trace_body(people["ordinary"], investigation__last_contact="2017-06-01"), requester_key)
    notes = [e for e in api.components.service.register.entries() if e.draft.outcome == "policy_in_force"]
    assert [n.draft.policy_version for n in notes] == ["mou-2018-05", "mou-2017-01", "mou-2018-05"]

    approve = {"decision": "approve", "reason": "necessary"}
    decided = api.http.post(f"/v1/reviews/{trace_id}", json=approve, headers=bearer(reviewer)).json()
    assert decided["state"] == "refused" and [r["code"] for r in decided["refusals"]] == ["SERIOUS_CRIME_NOT_SHOWN"]
    answer = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(requester_key)).json()
    assert answer["status"] == "refused" and answer["refusals"][0]["code"] == "SERIOUS_CRIME_NOT_SHOWN"
    assert answer["disclosure"] is None
    assert api.entries()[-2].draft.refusal_codes == ("SERIOUS_CRIME_NOT_SHOWN",)


def _approved(api, requester_key, people) -> str:
    """A welfare request approved by two guardians of two organisations."""
    trace_id = _hold_welfare(api, requester_key, people)
    approve = {"decision": "approve", "reason": "necessary", "candidate": 0}
    for guardian in (_guardian(api), _guardian(api, "caldicott-wales", "NHS Wales")):
        assert api.http.post(f"/v1/reviews/{trace_id}", json=approve, headers=bearer(guardian)).status_code == 200
    return trace_id


def test_past_retention_an_uncollected_disclosure_is_gone_even_before_the_purge(api, requester_key, people):
    import datetime as dt

    trace_id = _approved(api, requester_key, people)
    api.clock.now += dt.timedelta(days=31)  # the shipped policies keep 30 days
    answer = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(requester_key)).json()
    assert answer["status"] == "traced" and answer["disclosure"] is None


def test_retention_drops_disclosures_and_subject_details_but_keeps_the_entries(
    api, requester_key, people, database_url
):
    import datetime as dt
    import os
    import subprocess
    import sys

    trace_id = _approved(api, requester_key, people)
    assert api.components.service.apply_retention() == []  # not yet
    api.clock.now += dt.timedelta(days=31)
    assert api.components.service.apply_retention() == [trace_id]
    case = api.components.service.reviews.case(trace_id)
    assert "subject" not in case.request and case.decision_reason == "necessary" and case.candidates
    assert api.entries()[-1].draft.outcome == "expired" and api.entries()[-1].draft.concerns == trace_id
    assert api.components.service.register.verify().ok
    answer = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(requester_key)).json()
    assert answer["status"] == "traced" and answer["disclosure"] is None
    # The command finds nothing more to do (and needs no index).
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "api", "retention", "apply"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "expired 0 review cases past 30 days" in done.stdout


def test_deciding_an_expired_case_again_is_a_recorded_409_not_a_500(api, requester_key, people):
    """Past retention the case has lost the subject's details: a second decision is refused as already decided,
    before anything tries to judge grounds that are no longer there (it was a 500)."""
    import datetime as dt

    trace_id = _approved(api, requester_key, people)
    api.clock.now += dt.timedelta(days=31)
    assert api.components.service.apply_retention() == [trace_id]
    reviewer = _guardian(api, "second-look", "NHS Scotland")
    for decision in ("approve", "refuse"):
        response = api.http.post(
            f"/v1/reviews/{trace_id}", json={"decision": decision, "reason": "again"}, headers=bearer(reviewer)
        )
        assert response.status_code == 409 and "already been decided" in response.json()["detail"]
        assert api.entries()[-1].draft.http_status == 409 and api.entries()[-1].draft.concerns == trace_id


def test_an_approved_disclosure_waits_on_the_policy_in_force_when_collected(api, requester_key, people, monkeypatch):
    import datetime as dt

    from api.review.queue import ReviewReason
    from api.usecases import admission as service

    api.clock.now = dt.datetime(2018, 5, 1, 12, tzinfo=dt.UTC)
    body = trace_body(people["ordinary"], investigation__last_contact="2017-06-01")
    del body["basis"]["serious_crime"]
    # A category 1 request held as ambiguous (forced here: which requests are held is tested elsewhere).
    monkeypatch.setattr(service, "_hold_reason", lambda *_: ReviewReason.AMBIGUOUS)
    trace_id = api.trace(body, requester_key).json()["trace_id"]
    monkeypatch.undo()
    reviewer = api.add_client("reviewer", name="caldicott", organisation="NHS England")
    case = api.http.get(f"/v1/reviews/{trace_id}", headers=bearer(reviewer)).json()
    assert case["policy_in_force"] == "mou-2017-01" and case["policy_checks"] == []
    approve = {"decision": "approve", "reason": "necessary", "candidate": 0}
    decided = api.http.post(f"/v1/reviews/{trace_id}", json=approve, headers=bearer(reviewer))
    assert decided.json()["state"] == "awaiting_second"  # an ambiguous hold: the core was not certain
    second = api.add_client("reviewer", name="second", organisation="NHS Wales")
    decided = api.http.post(f"/v1/reviews/{trace_id}", json=approve, headers=bearer(second))
    assert decided.json()["state"] == "approved"

    api.clock.now = dt.datetime(2018, 5, 10, 12, tzinfo=dt.UTC)  # mou-2018-05 before the requester collects
    answer = api.http.get(f"/v1/traces/{trace_id}", headers=bearer(requester_key)).json()
    assert answer["status"] == "refused" and answer["disclosure"] is None
    assert [r["code"] for r in answer["refusals"]] == ["SERIOUS_CRIME_NOT_SHOWN"]
    assert api.entries()[-1].draft.fields_disclosed == ()
