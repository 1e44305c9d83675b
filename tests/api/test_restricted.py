"""Restricted records never leave (hypothesis): not in a trace answer, not through a review, not at collection.

A restricted record (an NHS "S-flag": the person's whereabouts must not be given out) may match a request, and
the request is then answered as if the index did not hold the person, unless it is held as a welfare concern or a
probe like anyone's; nothing of the record is ever decrypted, so nothing can be stored, shown to a reviewer,
released by an approval or collected. Nor is anything of the other candidates of such a request: they may be the
restricted person's household, whose address is theirs (hypothesis found this).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.decision import OUTCOMES, Outcome
from tests.support.api import ApiHarness, trace_body


@pytest.fixture(scope="module")
def restricted_people(population) -> list[dict]:
    alive = population.filter(pc.is_null(population.column("date_of_death")))
    return alive.filter(alive.column("restricted")).slice(0, 60).to_pylist()


def _whereabouts(person: dict) -> list[str]:
    """What of a restricted person must never appear: their address line and postcode."""
    return [v for v in (person["address_line_1"], person["postcode"]) if v]


def test_the_core_never_opens_a_restricted_record(tracer):
    flags = tracer.index.restricted_at(np.arange(len(tracer.index)))
    restricted = np.flatnonzero(flags)
    # Ordinary: neither withheld (a restricted person's household is too) nor dead; the rows are in a random order.
    rows = np.arange(len(tracer.index))
    ordinary = np.flatnonzero(tracer.index.standing_at(rows) == OUTCOMES.index(Outcome.MATCHED))[:50]
    assert len(restricted) > 50
    assert tracer.disclosures(restricted) == [None] * len(restricted)
    mixed = tracer.disclosures(np.concatenate([restricted[:5], ordinary[:5]]))
    assert mixed[:5] == [None] * 5 and all(isinstance(d, dict) for d in mixed[5:])


def test_no_request_reviewed_or_collected_ever_carries_a_restricted_record(api, requester_key, restricted_people):
    api.clock.now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    reviewer = api.add_client("reviewer", name="caldicott", organisation="NHS England")
    forbidden = [value for person in restricted_people for value in _whereabouts(person)]

    def as_(key: str) -> dict:
        return {"Authorization": f"Bearer {key}"}

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        person=st.sampled_from(restricted_people),
        drop=st.sets(st.sampled_from(["given_name", "postcode", "sex"])),
        welfare=st.booleans(),
        candidate=st.none() | st.integers(0, 2),
    )
    def check(person, drop, welfare, candidate):
        body = trace_body(person)
        for field in drop:
            body["subject"].pop(field, None)
        if welfare:
            body["basis"] = {"category": 2, "welfare_description": "vulnerable adult missing from care"}
        responses = [api.trace(body, requester_key)]
        answer = responses[0].json()
        assert answer["disclosure"] is None
        if answer["status"] == "pending_review":
            trace_id = answer["trace_id"]
            decision = {"decision": "approve", "reason": "lawful and necessary", "candidate": candidate}
            responses += [
                api.http.get(f"/v1/reviews/{trace_id}", headers=as_(reviewer)),
                api.http.post(f"/v1/reviews/{trace_id}", json=decision, headers=as_(reviewer)),
                api.http.get(f"/v1/traces/{trace_id}", headers=as_(requester_key)),
            ]
        for response in responses:
            assert response.status_code < 500
            shown = response.json()
            if isinstance(shown, dict) and "request" in shown:
                shown = {**shown, "request": None}  # the reviewer sees what the requester sent, not the record
            text = str(shown)
            assert not [value for value in forbidden if value in text], response.request.url

    check()


def test_a_restricted_persons_household_is_protected_like_them(api, requester_key, population):
    """Someone at a restricted person's address is answered as if the index did not hold them, as the restricted
    person is; held as a welfare concern, an approval releases nothing: their address is the restricted person's."""
    from matcher.index.households import shares_a_restricted_address

    api.clock.now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    reviewer = api.add_client("reviewer", name="caldicott", organisation="NHS England")
    alive = pc.is_null(population.column("date_of_death")).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(shares_a_restricted_address(population) & alive)[:5]
    held = 0
    welfare = {"category": 2, "welfare_description": "vulnerable adult missing from care"}
    for person in population.take(rows).to_pylist():
        answer = api.trace(trace_body(person), requester_key).json()
        assert answer["disclosure"] is None and answer["status"] == "not_found"
        answer = api.trace(trace_body(person, basis=welfare), requester_key).json()
        assert answer["disclosure"] is None and answer["status"] in ("pending_review", "deceased")
        if answer["status"] != "pending_review":
            continue
        held += 1
        trace_id = answer["trace_id"]
        decision = {"decision": "approve", "reason": "lawful and necessary", "candidate": 0}
        api.http.post(f"/v1/reviews/{trace_id}", json=decision, headers={"Authorization": f"Bearer {reviewer}"})
        collected = api.http.get(f"/v1/traces/{trace_id}", headers={"Authorization": f"Bearer {requester_key}"})
        assert collected.status_code < 500
        text = str(collected.json())
        assert person["address_line_1"] not in text and person["postcode"] not in text
    assert held >= 3


def _variants(person: dict) -> list[dict]:
    """The exact request and the near misses a requester would try around it."""
    born = person["date_of_birth"]
    return [
        trace_body(person),
        trace_body(person, subject__postcode=None),
        trace_body(person, subject__given_name=None),
        trace_body(person, subject__postcode=None, subject__sex=None),
        trace_body(person, subject__date_of_birth=born.replace(day=min(born.day + 1, 28)).isoformat()),
        trace_body(person, subject__given_name=(person["given_name"] or "A")[:-1] + "X"),
        trace_body(person, subject__family_name=person["family_name"][:-1] + "X", subject__postcode=None),
    ]


def test_near_misses_about_a_restricted_person_answer_as_about_nobody(api, requester_key, restricted_people, people):
    """Exact details answer not_found; so must the near misses, or a hold for one of them (a near-threshold or
    ambiguous match) would tell that a restricted person is close to the details sent."""
    answers = [api.trace(body, requester_key).json() for p in restricted_people[:20] for body in _variants(p)]
    assert {a["status"] for a in answers} == {"not_found"}
    # The same near misses about ordinary people are traced or held: the variants do reach the record.
    ordinary = [api.trace(body, requester_key).json()["status"] for body in _variants(people["ordinary"])]
    assert "traced" in ordinary and set(ordinary) - {"not_found"}


def test_a_near_threshold_match_anyone_else_would_be_held_for_answers_not_found_about_a_restricted_person(
    database_url, trained_index, master_key, restricted_people, population
):
    """With a threshold few matches reach, the best candidate of most requests is just under it: an ordinary
    person's request is held (near_threshold); a restricted person's must answer not_found all the same."""
    from matcher.decision import DecisionConfig
    from matcher.tracer import TraceConfig, Tracer

    exacting = Tracer(trained_index, TraceConfig(decision=DecisionConfig(threshold=1 - 1e-15)))
    api = ApiHarness(database_url, exacting, master_key)
    try:
        key = api.add_client("requester")
        others = population.filter(pc.invert(population.column("restricted"))).slice(1_000, 10).to_pylist()
        ordinary = [api.trace(trace_body(p), key).json()["status"] for p in others]
        assert ordinary.count("pending_review") >= 5
        answers = [api.trace(trace_body(p), key).json()["status"] for p in restricted_people[:10]]
        assert answers == ["not_found"] * 10
        assert [e.draft.outcome for e in api.entries()[-10:]] == ["withheld"] * 10
    finally:
        api.close()
