"""POST /v1/traces: what each answer carries, and what the policy in force decides (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from api.policy.versions import PolicyBook
from matcher.disclosure import DISCLOSURE_FIELDS
from tests.support.api import trace_body

ANSWER_KEYS = {"trace_id", "status", "policy_version", "register_sequence", "refusals", "disclosure"}


def test_a_certain_match_discloses_the_allowed_fields_and_nothing_else(api, requester_key, people):
    person = people["ordinary"]
    response = api.trace(trace_body(person), requester_key)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == ANSWER_KEYS
    assert answer["status"] == "traced" and answer["refusals"] == [] and answer["policy_version"] == "mou-2018-05"
    disclosure = answer["disclosure"]
    assert set(disclosure) == {"last_known_address", "registration_date", "gp_practice"}
    assert set(disclosure["last_known_address"]) == {"lines", "town", "postcode"}
    assert set(disclosure["gp_practice"]) == {"code", "name", "address", "postcode"}
    assert disclosure["last_known_address"]["lines"][0] == person["address_line_1"]
    assert disclosure["last_known_address"]["postcode"] == person["postcode"]
    assert disclosure["registration_date"] == person["registration_date"].isoformat()
    assert disclosure["gp_practice"]["code"] == person["gp_practice_code"]
    # No NHS number, no score, no candidate, no date of birth echoed.
    assert person["nhs_number"] not in response.text
    for word in ("probability", "score", "candidate", "weight", "nhs"):
        assert word not in response.text.lower()
    [entry] = api.entries()
    assert entry.sequence == answer["register_sequence"] and entry.trace_id == answer["trace_id"]
    assert entry.draft.outcome == "traced" and entry.draft.fields_disclosed == DISCLOSURE_FIELDS


def test_someone_not_in_the_index_is_not_found(api, requester_key):
    body = trace_body(
        None, subject={"given_name": "Quillon", "family_name": "Zarvanescu", "date_of_birth": "1971-02-03"}
    )
    answer = api.trace(body, requester_key).json()
    assert answer["status"] == "not_found" and answer["disclosure"] is None
    assert api.entries()[-1].draft.fields_disclosed == ()


def test_an_ambiguous_match_discloses_nothing(api, requester_key, people, monkeypatch):
    from matcher.decision import Outcome

    tracer = api.components.service.tracer
    real = tracer.trace_many

    def ambiguous(requests, explain=False):
        return [r.__class__(**{**r.__dict__, "outcome": Outcome.AMBIGUOUS, "disclosure": None}) for r in real(requests)]

    monkeypatch.setattr(tracer, "trace_many", ambiguous)
    held = api.trace(trace_body(people["ordinary"]), requester_key).json()
    assert held["status"] == "pending_review" and held["disclosure"] is None  # the shipped policies review them

    service = api.components.service
    no_review = tuple(dataclasses.replace(v, review_ambiguous=False) for v in service.policies.versions)
    monkeypatch.setattr(service, "policies", PolicyBook(no_review))
    answer = api.trace(trace_body(people["ordinary"]), requester_key).json()
    assert answer["status"] == "ambiguous" and answer["disclosure"] is None


def test_a_request_with_no_given_name_goes_to_a_reviewer_with_its_candidate(api, requester_key, people):
    """The core would match it but for a same-sex twin that nothing in it rules out: held, nothing disclosed, and
    the reviewer sees the candidate it stopped short of."""
    person = people["ordinary"]
    body = trace_body(person)
    del body["subject"]["given_name"]
    body["subject"]["address"] = person["address_line_1"]
    held = api.trace(body, requester_key).json()
    assert held["status"] == "pending_review" and held["disclosure"] is None
    reviewer = api.add_client("reviewer", name="nhs-reviewer", organisation="NHS Digital")
    case = api.http.get(f"/v1/reviews/{held['trace_id']}", headers={"Authorization": f"Bearer {reviewer}"}).json()
    assert case["reason"] == "ambiguous"
    assert any(not c["meets_requirements"] for c in case["candidates"])


def test_a_restricted_record_is_answered_as_someone_the_index_does_not_hold(api, requester_key, people):
    restricted = api.trace(trace_body(people["restricted"]), requester_key)
    stranger = api.trace(
        trace_body(people["ordinary"], subject__family_name="Qqzzyx", subject__given_name="Wuvvx"), requester_key
    )
    assert restricted.status_code == stranger.status_code == 200
    answers = [r.json() for r in (restricted, stranger)]
    assert [a["status"] for a in answers] == ["not_found", "not_found"]
    # Same keys, same values but for the ids: nothing tells a restricted person from nobody.
    for answer in answers:
        answer.pop("trace_id"), answer.pop("register_sequence")
    assert answers[0] == answers[1]
    assert restricted.headers.keys() == stranger.headers.keys()
    assert people["restricted"]["address_line_1"] not in restricted.text
    assert [(e.draft.outcome, e.draft.fields_disclosed) for e in api.entries()] == [("withheld", ()), ("not_found", ())]
    assert not api.components.service.reviews.pending()  # nothing a reviewer could release


def test_a_refused_request_is_never_matched(api, requester_key, people, monkeypatch):
    tracer = api.components.service.tracer
    calls = []
    monkeypatch.setattr(tracer, "trace_many", lambda *a, **k: calls.append(a) or [])
    body = trace_body(
        people["ordinary"],
        officers__authorising={"id": "HO-1", "grade": "EO"},
        investigation__last_contact="2026-11-01",
        investigation__channels_tried=[],
    )
    answer = api.trace(body, requester_key).json()
    assert answer["status"] == "refused" and answer["disclosure"] is None
    codes = {r["code"] for r in answer["refusals"]}
    assert codes == {"AUTHORISER_TOO_JUNIOR", "INVESTIGATION_TOO_RECENT", "NO_CHANNELS_TRIED"}
    assert all(r["message"] for r in answer["refusals"])
    assert calls == []
    entry = api.entries()[-1]
    assert entry.draft.outcome == "refused" and set(entry.draft.refusal_codes) == codes


def test_the_policy_in_force_on_the_uk_day_of_arrival_applies(api, requester_key, people):
    without_serious_crime = trace_body(people["ordinary"], investigation__last_contact="2017-06-01")
    del without_serious_crime["basis"]["serious_crime"]

    api.clock.now = dt.datetime(2018, 5, 8, 22, 59, tzinfo=dt.UTC)  # 23:59 BST on 8 May 2018
    before = api.trace(without_serious_crime, requester_key).json()
    assert before["policy_version"] == "mou-2017-01" and before["status"] == "traced"

    api.clock.now = dt.datetime(2018, 5, 8, 23, 30, tzinfo=dt.UTC)  # 00:30 BST on 9 May 2018
    after = api.trace(without_serious_crime, requester_key).json()
    assert after["policy_version"] == "mou-2018-05" and after["status"] == "refused"
    assert [r["code"] for r in after["refusals"]] == ["SERIOUS_CRIME_NOT_SHOWN"]
    assert [e.draft.policy_version for e in api.entries()] == ["mou-2017-01", "mou-2018-05"]


def test_the_subject_is_recorded_as_a_keyed_token_that_links_repeat_requests(api, requester_key, people):
    person = people["ordinary"]
    first = trace_body(person)
    again = trace_body(person)
    again["subject"] = {**again["subject"], "family_name": person["family_name"].lower() + " ", "postcode": None}
    api.trace(first, requester_key)
    api.trace(again, requester_key)
    api.trace(trace_body(people["restricted"]), requester_key)
    tokens = [e.draft.subject_token for e in api.entries()]
    assert tokens[0] == tokens[1] != tokens[2]
    assert all(len(t) == 32 for t in tokens)


def test_no_trace_answer_leaves_before_the_response_floor(database_url, tracer, master_key, people, population):
    """Found, held, not found, refused or malformed: each answer leaves no sooner than the floor after arrival, so
    that below it the time says nothing of the outcome (the spread above it is measured by
    benchmarks/api_timing.py). A lower bound only: this cannot fail on a slow machine."""
    import time

    from tests.support.api import ApiHarness

    harness = ApiHarness(database_url, tracer, master_key, response_floor_ms=300)
    try:
        key = harness.add_client("requester")
        stranger = trace_body(people["ordinary"], subject__family_name="Qqzzyx", subject__given_name="Wuvvx")
        refused = trace_body(people["ordinary"], investigation__no_known_explanation=False)
        welfare = {"category": 2, "welfare_description": "vulnerable adult missing from care"}
        bodies = {"traced": trace_body(people["ordinary"]),
                  "pending_review": trace_body(people["ordinary"], basis=welfare),
                  "not_found": stranger, "refused": refused}  # fmt: skip
        for status, body in bodies.items():
            started = time.monotonic()
            answer = harness.trace(body, key).json()
            assert answer["status"] == status and time.monotonic() - started >= 0.3
        started = time.monotonic()
        assert harness.trace({"subject": {}}, key).status_code == 422 and time.monotonic() - started >= 0.3
    finally:
        harness.close()


def test_the_town_and_address_line_sent_reach_the_core(api, requester_key, people):
    """A held request's case shows the core's comparisons: the town sent is compared (exact for the person's own,
    else for another), as the address line is. Without a postcode: one that agrees says the town already, and the
    town then reads as no evidence (``test_the_town_is_no_evidence_where_the_postcode_already_agrees``)."""
    person = people["ordinary"]
    guardian = api.add_client("guardian", name="g-towns", organisation="NHS Towns")
    welfare = {"category": 2, "welfare_description": "vulnerable adult missing from care"}
    levels = {}
    for town in (person["town"], "Nowhere On Sea"):
        body = trace_body(person, basis=welfare, subject__town=town, subject__address=person["address_line_1"])
        del body["subject"]["postcode"]
        trace_id = api.trace(body, requester_key).json()["trace_id"]
        case = api.http.get(f"/v1/reviews/{trace_id}", headers={"Authorization": f"Bearer {guardian}"}).json()
        comparisons = {c["comparison"]: c["level"] for c in case["candidates"][0]["comparisons"]}
        levels[town] = (comparisons.get("town"), comparisons.get("address_line_1"))
    assert levels[person["town"]][0] == "exact", levels
    assert levels["Nowhere On Sea"][0] not in (None, "exact"), levels
    assert levels[person["town"]][1] not in (None, "missing"), levels
