"""The four-eyes rules and the reviewer's summary of what differs between candidates, without a database."""

from __future__ import annotations

import pytest

from api.access.clients import Client, Role
from api.audit.outcomes import RegisterOutcome
from api.review.differences import differences
from api.review.foureyes import FirstApproval, ReviewError, ReviewState, Standing, transition

HOME_OFFICE = "Home Office"


def _standing(
    category: int = 1, meets=(True, False), state=ReviewState.PENDING, first=None, reason="enumeration"
) -> Standing:
    return Standing(state, HOME_OFFICE, category, reason, tuple(meets), (True,) * len(meets), first)


def _client(id_: int, role: Role = Role.REVIEWER, organisation: str = "NHS England") -> Client:
    return Client(id_, f"client-{id_}", role, None, organisation)


def _refused(standing, client, approve=True, candidate=None) -> int:
    with pytest.raises(ReviewError) as error:
        transition(standing, client, approve, candidate)
    return error.value.status


def test_every_outcome_fits_the_registers_column():
    assert max(len(o.value) for o in RegisterOutcome) <= 20


def test_one_approval_releases_a_category_1_candidate_that_meets_the_requirements():
    done = transition(_standing(), _client(1), True, 0)
    assert (done.to, done.candidate, done.countersigns) == (ReviewState.APPROVED, 0, False)


def test_a_candidate_short_of_the_requirements_or_none_meeting_them_or_welfare_waits_for_a_second():
    assert transition(_standing(), _client(1), True, 1).to is ReviewState.AWAITING_SECOND
    assert transition(_standing(meets=(False, False)), _client(1), True, 0).to is ReviewState.AWAITING_SECOND
    guardian = _client(1, Role.GUARDIAN)
    assert transition(_standing(category=2), guardian, True, 0).to is ReviewState.AWAITING_SECOND
    assert transition(_standing(category=None), guardian, True, 0).to is ReviewState.AWAITING_SECOND  # unreadable


def test_a_hold_the_core_was_not_certain_of_waits_for_a_second_even_for_a_candidate_meeting_the_requirements():
    for reason in ("ambiguous", "near_threshold"):
        assert transition(_standing(reason=reason), _client(1), True, 0).to is ReviewState.AWAITING_SECOND
    assert transition(_standing(reason="enumeration"), _client(1), True, 0).to is ReviewState.APPROVED


def test_a_case_without_candidates_is_ended_by_one_approval_which_releases_nothing():
    for category in (1, 2):
        done = transition(_standing(category=category, meets=()), _client(1, Role.GUARDIAN), True, None)
        assert (done.to, done.candidate) == (ReviewState.APPROVED, None)


def test_welfare_is_a_guardians_to_decide_either_way():
    assert _refused(_standing(category=2), _client(1), True, 0) == 403
    assert _refused(_standing(category=2), _client(1), False) == 403
    assert transition(_standing(category=2), _client(1, Role.GUARDIAN), False, None).to is ReviewState.REFUSED


def test_the_second_approval_is_another_clients_of_a_third_organisation_naming_the_same_candidate():
    first = FirstApproval(1, "NHS England", "2026-11-22T12:00:00+00:00", 1, "reason")
    waiting = _standing(state=ReviewState.AWAITING_SECOND, first=first)
    assert _refused(waiting, _client(1), True, 1) == 403  # the same client
    assert _refused(waiting, _client(2), True, 1) == 403  # the first approver's organisation
    assert _refused(waiting, _client(3, organisation=HOME_OFFICE), True, 1) == 403  # the requester's
    assert _refused(waiting, _client(4, organisation="NHS Wales"), True, 0) == 409  # another candidate
    assert _refused(waiting, _client(4, organisation="NHS Wales"), True, None) == 422  # none named
    done = transition(waiting, _client(4, organisation="NHS Wales"), True, 1)
    assert (done.to, done.candidate, done.countersigns) == (ReviewState.APPROVED, 1, True)
    assert transition(waiting, _client(4, organisation="NHS Wales"), False, None).to is ReviewState.REFUSED
    assert _refused(_standing(state=ReviewState.APPROVED), _client(4, organisation="NHS Wales")) == 409


def _candidate(weight: float, meets: bool, **levels: str) -> dict:
    return {
        "match_weight": weight,
        "meets_requirements": meets,
        "comparisons": [{"comparison": k, "level": v, "weight": 0.0} for k, v in levels.items()],
    }


def test_the_summary_shows_what_differs_and_warns_of_a_candidate_short_of_the_requirements():
    """The two Susan Andrews: the subject, and a namesake born in another year at another postcode."""
    candidates = [
        _candidate(31.5, True, given_name="exact", family_name="exact", date_of_birth="exact", postcode="unit",
                   nhs_number="null"),
        _candidate(-12.5, False, given_name="exact", family_name="exact", date_of_birth="else", postcode="else",
                   nhs_number="null"),
    ]  # fmt: skip
    agreements = {"postcode": {"unit": "exact", "else": "none"}, "date_of_birth": {"exact": "exact", "else": "none"}}
    found = differences(candidates, agreements, approving=1)
    dob = next(c for c in found.comparisons if c.comparison == "date_of_birth")
    assert dob.levels == ["exact", "else"] and dob.exact_for == [0] and dob.candidates_differ
    assert dob.summary == "date_of_birth: exact for candidate 0; candidate 1 else"
    names = next(c for c in found.comparisons if c.comparison == "given_name")
    assert names.summary == "given_name: exact for all" and not names.candidates_differ
    assert found.disagreements == ["date_of_birth", "postcode"]
    assert [s.weight_gap_to_next for s in found.candidates] == [44.0, None]
    assert found.candidates[1].differs_from_request == ["date_of_birth", "postcode"]  # not the NHS number: unsent
    nhs = next(c for c in found.comparisons if c.comparison == "nhs_number")
    assert nhs.agreements == ["unknown", "unknown"] and nhs.summary == "nhs_number: not compared (no value on one side)"
    assert any("candidate 1 does not meet" in w for w in found.warnings)
    assert any("first approver named candidate 1" in w for w in found.warnings)
    both_short = differences([candidates[1], candidates[1]], agreements)
    assert any("no candidate meets" in w for w in both_short.warnings)
    assert differences(candidates[:1], agreements).warnings == []
