"""Policy: the version in force on the day, and a stable refusal code for every rule a request fails."""

import dataclasses
import datetime as dt
import json

import pytest

from api.policy.grounds import Basis, Category, Investigation, Officer, SeriousCrime, TraceGrounds
from api.policy.versions import NoPolicyInForce, PolicyBook, PolicyVersion

BOOK = PolicyBook.load()
TODAY = dt.date(2018, 9, 1)
GOOD = TraceGrounds(
    basis=Basis(
        Category.IMMIGRATION_OFFENCE, offence="s24(1)(b)(i)", serious_crime=SeriousCrime.NON_CONDUCIVE_TO_PUBLIC_GOOD
    ),
    investigation=Investigation("HO-2018-000123", dt.date(2018, 1, 15), ("last known address", "sponsor"), True),
    requesting=Officer("officer-17", "EO"),
    authorising=Officer("officer-42", "SEO"),
)


def codes(grounds: TraceGrounds, day: dt.date = TODAY) -> set[str]:
    return {r.code for r in BOOK.in_force(day).check(grounds, day).refusals}


def test_the_version_in_force_follows_the_effective_dates():
    assert BOOK.in_force(dt.date(2017, 6, 1)).version == "mou-2017-01"
    assert BOOK.in_force(dt.date(2018, 5, 8)).version == "mou-2017-01"
    assert BOOK.in_force(dt.date(2018, 5, 9)).version == "mou-2018-05"
    with pytest.raises(NoPolicyInForce):
        BOOK.in_force(dt.date(2016, 12, 31))


def test_well_founded_grounds_pass():
    assert codes(GOOD) == set()


def change(**changes) -> TraceGrounds:
    parts = {"basis": GOOD.basis, "investigation": GOOD.investigation}
    for key, value in changes.items():
        part, field = key.split("__")
        parts[part] = dataclasses.replace(parts[part], **{field: value})
    return dataclasses.replace(GOOD, **parts)


@pytest.mark.parametrize(
    ("grounds", "expected"),
    [
        (dataclasses.replace(GOOD, authorising=Officer("OFFICER-17 ", "SEO")), {"SAME_OFFICER"}),
        (dataclasses.replace(GOOD, authorising=Officer("officer-42", "EO")), {"AUTHORISER_TOO_JUNIOR"}),
        (dataclasses.replace(GOOD, requesting=Officer("officer-17", "AO")), {"REQUESTER_TOO_JUNIOR"}),
        (dataclasses.replace(GOOD, requesting=Officer("officer-17", "Grade 9")), {"UNKNOWN_GRADE"}),
        (change(basis__offence="s99"), {"OFFENCE_NOT_ELIGIBLE"}),
        (change(basis__offence=None), {"OFFENCE_MISSING"}),
        (change(basis__serious_crime=None), {"SERIOUS_CRIME_NOT_SHOWN"}),
        (change(investigation__last_contact=dt.date(2018, 8, 1)), {"INVESTIGATION_TOO_RECENT"}),
        (change(investigation__last_contact=dt.date(2018, 10, 1)), {"LAST_CONTACT_IN_FUTURE"}),
        (change(investigation__channels_tried=(" ",)), {"NO_CHANNELS_TRIED"}),
        (change(investigation__no_known_explanation=False), {"NO_ATTESTATION"}),
        (change(investigation__reference=""), {"REFERENCE_MISSING"}),
    ],
)
def test_each_rule_has_its_refusal_code(grounds, expected):
    assert codes(grounds) == expected


def test_the_serious_crime_threshold_applies_only_from_may_2018():
    no_serious_crime = change(basis__serious_crime=None)
    assert codes(no_serious_crime, dt.date(2018, 5, 8)) == set()
    assert codes(no_serious_crime, dt.date(2018, 5, 9)) == {"SERIOUS_CRIME_NOT_SHOWN"}


def test_welfare_needs_a_description_and_goes_to_review():
    welfare = dataclasses.replace(GOOD, basis=Basis(Category.WELFARE, welfare_description="risk to an infant"))
    decision = BOOK.in_force(TODAY).check(welfare, TODAY)
    assert decision.allowed and decision.requires_review
    assert codes(dataclasses.replace(welfare, basis=Basis(Category.WELFARE))) == {"WELFARE_DESCRIPTION_MISSING"}


def policy_json(**changes) -> str:
    current = BOOK.in_force(TODAY)
    raw = {f.name: getattr(current, f.name) for f in dataclasses.fields(current)}
    raw |= {"effective_from": "2019-01-01", "eligible_offences": list(current.eligible_offences)}
    return json.dumps(raw | changes)


def test_thresholds_are_data():
    strict = PolicyVersion.from_json(policy_json(version="strict", minimum_authoriser_grade="G7"))
    assert {r.code for r in strict.check(GOOD, TODAY).refusals} == {"AUTHORISER_TOO_JUNIOR"}
    with pytest.raises(ValueError, match="unknown grade"):
        PolicyVersion.from_json(policy_json(minimum_requester_grade="Grade 9"))
    with pytest.raises(ValueError, match="unknown offences"):
        PolicyVersion.from_json(policy_json(eligible_offences=["s99"]))
