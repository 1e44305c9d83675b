"""Someone who has died is never answered with their last address as if they lived there: the policy decides the
answer (issue 16), and the register summary counts them."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pyarrow.compute as pc
import pytest

from api.policy.versions import PolicyBook
from matcher.decision import Outcome
from tests.support.api import trace_body


@pytest.fixture(scope="module")
def deceased(population) -> list[dict]:
    dead = population.filter(pc.is_valid(population.column("date_of_death")))
    return dead.filter(pc.invert(dead.column("restricted"))).slice(0, 30).to_pylist()


def test_the_core_never_discloses_someone_who_has_died(tracer, deceased):
    from tests.matcher.test_tracer import request_for

    results = tracer.trace_many([request_for(person) for person in deceased])
    assert all(r.disclosure is None for r in results)
    assert sum(r.outcome is Outcome.DECEASED for r in results) >= 0.9 * len(results)
    rows = np.array([r.record for r in results if r.record is not None])
    assert tracer.disclosures(rows) == [None] * len(rows)


def test_a_deceased_person_is_answered_as_the_policy_says_and_counted(api, requester_key, deceased):
    api.clock.now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    answers = [api.trace(trace_body(person), requester_key).json() for person in deceased[:5]]
    assert all(a["disclosure"] is None for a in answers)
    assert sum(a["status"] == "deceased" for a in answers) >= 4
    auditor = api.add_client("auditor")
    summary = api.http.get("/v1/register/summary", headers={"Authorization": f"Bearer {auditor}"}).json()
    assert sum(row["deceased"] for row in summary["rows"]) == sum(a["status"] == "deceased" for a in answers)


def test_a_welfare_request_about_someone_who_has_died_is_answered_not_held(api, requester_key, deceased):
    api.clock.now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    welfare = {"category": 2, "welfare_description": "vulnerable adult missing from care"}
    answers = [api.trace(trace_body(person, basis=welfare), requester_key).json() for person in deceased[:5]]
    assert all(a["disclosure"] is None for a in answers)
    assert sum(a["status"] == "deceased" for a in answers) >= 4  # nothing for a clinician to release


def test_a_policy_may_answer_not_found_instead(api, requester_key, deceased):
    api.clock.now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    service = api.components.service
    in_force = service.policies.in_force(api.clock().date())
    quiet = replace(in_force, deceased_answer="not_found")
    service.policies = PolicyBook(tuple(quiet if p is in_force else p for p in service.policies.versions))
    answers = [api.trace(trace_body(person), requester_key).json() for person in deceased[:5]]
    assert all(a["disclosure"] is None and a["status"] in ("not_found", "pending_review") for a in answers)
    assert sum(a["status"] == "not_found" for a in answers) >= 4


def test_a_policy_cannot_answer_a_deceased_persons_trace_with_an_address():
    import json
    from importlib import resources

    from api.policy.versions import PolicyVersion

    raw = json.loads((resources.files("api.policy") / "policies" / "mou-2018-05.json").read_text())
    with pytest.raises(ValueError, match="deceased_answer must be one of"):
        PolicyVersion.from_json(json.dumps({**raw, "deceased_answer": "traced"}))
    with pytest.raises(ValueError, match="deceased_answer must be one of"):
        replace(PolicyVersion.from_json(json.dumps(raw)), deceased_answer="traced")
