"""Requirements are checked against the tracer's comparisons up front; thresholds are chosen by evaluation."""

import dataclasses
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.comparison import NULL, default_comparisons
from matcher.decision import (
    CERTAIN,
    DEFAULT_REQUIREMENTS,
    OUTCOMES,
    DecisionConfig,
    Outcome,
    Requirement,
    RequirementCheck,
    decide,
)
from matcher.decision.relations import Relation, RelationCounts
from matcher.decision.requirements import AllOf
from matcher.protection.tokens import Tokeniser
from matcher.reports.thresholds import SweepPoint, choose_threshold, threshold_sweep

COMPARISONS = default_comparisons(Tokeniser(os.urandom(32)))


def levels(**named: str) -> np.ndarray:
    """One pair's level vector from level names; unnamed comparisons are null."""
    row = np.full((1, len(COMPARISONS)), NULL, dtype=np.int8)
    for j, c in enumerate(COMPARISONS):
        if c.name in named:
            row[0, j] = c.labels.index(named[c.name])
    return row


def test_requirements_naming_unknown_levels_fail_at_construction():
    with pytest.raises(ValueError, match="does not have"):
        RequirementCheck(COMPARISONS, (Requirement("given_name", sufficient=("exactly",)),))
    with pytest.raises(ValueError, match="does not have"):
        RequirementCheck(COMPARISONS, (Requirement("shoe_size", sufficient=("exact",)),))


@pytest.mark.parametrize(
    ("pair", "eligible"),
    [
        (dict(given_name="exact", family_name="exact", date_of_birth="exact"), True),
        (dict(given_name="exact", family_name="else", date_of_birth="exact"), False),
        (dict(family_name="exact", date_of_birth="exact"), False),  # no first name: needs the NHS number
        # an initial alone: the exact date at the same address, and no conflicting sex
        (dict(given_name="initial", family_name="exact", date_of_birth="exact", address_line_1="exact"), False),
        (
            dict(given_name="initial", family_name="exact", date_of_birth="exact", address_line_1="exact", sex="exact"),
            True,
        ),
        (dict(given_name="initial", family_name="exact", date_of_birth="exact", postcode="unit", sex="exact"), True),
        (dict(given_name="initial", family_name="exact", date_of_birth="exact", postcode="sector"), False),
        (dict(given_name="initial", family_name="exact", date_of_birth="exact", postcode="unit", sex="else"), False),
        (dict(given_name="initial", family_name="exact", date_of_birth="one_digit_wrong", postcode="unit"), False),
        # a weakly similar name is what twins are given: only with the NHS number
        (dict(given_name="jaro_winkler>=0.80", family_name="exact", date_of_birth="exact", postcode="unit"), False),
        (dict(given_name="else", family_name="exact", date_of_birth="exact", address_line_1="exact"), False),
        # a date further off: the exact names at the same address; the year alone never
        (dict(given_name="exact", family_name="exact", date_of_birth="year_and_month_or_day", postcode="unit"), True),
        (
            dict(given_name="exact", family_name="exact", date_of_birth="impossible_date_same_year", postcode="unit"),
            True,
        ),
        (
            dict(given_name="exact", family_name="exact", date_of_birth="year_and_month_or_day", postcode="sector"),
            False,
        ),
        (
            dict(given_name="one_edit", family_name="exact", date_of_birth="year_and_month_or_day", postcode="unit"),
            False,
        ),
        (
            dict(
                given_name="other_given_name",
                family_name="exact",
                date_of_birth="year_and_month_or_day",
                postcode="unit",
            ),
            False,
        ),
        (dict(given_name="exact", family_name="exact", date_of_birth="year_only", postcode="unit"), False),
        (dict(given_name="exact", family_name="exact", date_of_birth="else", address_line_1="exact"), False),
        # a different family name: the exact first name and date at the same address
        (dict(given_name="exact", family_name="else", date_of_birth="exact", postcode="unit"), True),
        (dict(given_name="one_edit", family_name="else", date_of_birth="exact", postcode="unit"), False),
        # no date of birth: a same-named father or son lives at the same address, so only the NHS number
        (dict(given_name="exact", family_name="exact", address_line_1="exact"), False),
        (dict(given_name="exact", family_name="exact", address_line_1="exact", nhs_number="exact"), True),
        # the same birthday in another year is a father's and son's too
        (dict(given_name="exact", family_name="exact", date_of_birth="two_of_year_month_day", postcode="unit"), False),
        (dict(family_name="exact", date_of_birth="exact", nhs_number="exact"), True),
        (dict(given_name="exact", family_name="exact", date_of_birth="one_digit_wrong"), False),
        (dict(given_name="exact", family_name="exact", date_of_birth="one_digit_wrong", postcode="unit"), True),
        # known by a middle name: only with the address to district, or the NHS number
        (dict(given_name="other_given_name", family_name="exact", date_of_birth="exact"), False),
        (dict(given_name="other_given_name", family_name="exact", date_of_birth="exact", postcode="area"), False),
        (dict(given_name="other_given_name", family_name="exact", date_of_birth="exact", postcode="district"), True),
        (dict(given_name="nickname", family_name="exact", date_of_birth="exact", sex="else"), False),
        (dict(given_name="nickname", family_name="exact", date_of_birth="exact", sex="exact"), True),
        # the address line corroborates as a postcode unit does; a postcode compared as text is no conflict
        (dict(given_name="exact", family_name="exact", date_of_birth="one_digit_wrong", address_line_1="exact"), True),
        # no family name: only with the same address line or postcode unit
        (dict(given_name="exact", date_of_birth="exact"), False),
        (dict(given_name="exact", date_of_birth="exact", address_line_1="exact"), True),
        (dict(given_name="exact", date_of_birth="exact", postcode="unit"), True),
        (dict(given_name="exact", date_of_birth="exact", postcode="sector"), False),
        (dict(given_name="exact", family_name="exact", date_of_birth="one_digit_wrong", town="exact"), False),
        (dict(given_name="one_edit", family_name="exact", date_of_birth="exact", postcode="text"), True),
        (dict(given_name="one_edit", family_name="exact", date_of_birth="exact", postcode="else"), False),
        (
            dict(
                given_name="one_edit",
                family_name="exact",
                date_of_birth="exact",
                postcode="else",
                address_line_1="exact",
            ),
            True,
        ),
    ],
)
def test_default_requirements(pair, eligible):
    assert RequirementCheck(COMPARISONS, DEFAULT_REQUIREMENTS)(levels(**pair))[0] == eligible


@pytest.mark.parametrize(
    ("pair", "waived"),
    [
        # a different first name, or none, where nobody has a twin: the model decides
        (dict(given_name="else", family_name="exact", date_of_birth="exact", address_line_1="exact"), Relation.TWIN),
        (dict(family_name="exact", date_of_birth="exact", postcode="else"), Relation.TWIN),
        (dict(given_name="one_edit", family_name="exact", date_of_birth="exact", sex="else"), Relation.TWIN),
        # a different family name where nobody shares an address
        (dict(given_name="exact", family_name="else", date_of_birth="exact", postcode="text"), Relation.HOUSEMATE),
        # the year alone, or another date, where nobody of one name shares an address
        (dict(given_name="exact", family_name="exact", date_of_birth="year_only"), Relation.SAME_NAME_HOUSEMATE),
        (dict(given_name="exact", family_name="exact", date_of_birth="else"), Relation.SAME_NAME_HOUSEMATE),
        (dict(given_name="exact", family_name="exact", address_line_1="exact"), Relation.SAME_NAME_HOUSEMATE),
    ],
)
def test_a_relative_the_population_rules_out_waives_what_guards_against_it(pair, waived):
    gamma = levels(**pair)
    assert not RequirementCheck(COMPARISONS, DEFAULT_REQUIREMENTS)(gamma)[0]
    assert not RequirementCheck(COMPARISONS, DEFAULT_REQUIREMENTS, set(Relation) - {waived})(gamma)[0]
    assert RequirementCheck(COMPARISONS, DEFAULT_REQUIREMENTS, {waived})(gamma)[0]


def test_a_missing_date_is_never_waived():
    """No date of birth leaves only names, which namesakes share wherever they live: in every population."""
    gamma = levels(given_name="exact", family_name="exact", town="exact", address_line_1="shared_words>=0.50")
    assert not RequirementCheck(COMPARISONS, DEFAULT_REQUIREMENTS, frozenset(Relation))(gamma)[0]


def test_a_population_rules_relatives_out_only_with_nobody_sharing_an_address_and_enough_records():
    nobody = {"housemate": 0, "twin": 0, "same_name_housemate": 0}
    assert RelationCounts(2_000, nobody).ruled_out() == set(Relation)
    assert RelationCounts(1_999, nobody).ruled_out() == set()  # too few to say
    assert RelationCounts(10_000, {}).ruled_out() == set()  # not counted: never ruled out
    # Housemates but no twins: twins held out of the index, or a sample of households (the red team's case: a
    # UK population less one of each pair of twins would otherwise have matched requests to the co-twin).
    assert RelationCounts(199_520, {"housemate": 153_602, "twin": 0, "same_name_housemate": 0}).ruled_out() == set()


def test_requirements_that_hold_for_review_are_what_the_reviewable_check_leaves_out():
    check = RequirementCheck(COMPARISONS, DEFAULT_REQUIREMENTS)
    no_given_name = levels(family_name="exact", date_of_birth="exact", postcode="unit", sex="exact")
    assert not check(no_given_name)[0] and check.reviewable(no_given_name)[0]
    assert check.first_failed(no_given_name) == ["no_given_name"]
    assert RequirementCheck(COMPARISONS, DEFAULT_REQUIREMENTS, {Relation.TWIN}).reviewable is None


def point(threshold: float, wrong: int, recall: float = 0.97) -> SweepPoint:
    return SweepPoint(threshold, recall, wrong, wrong / 20_000, 0.0)


def test_choose_threshold_takes_the_most_permissive_within_the_limit():
    points = [point(0.999, 3), point(0.9995, 2), point(0.9999, 1), point(0.99999, 0)]
    assert choose_threshold(points).threshold == 0.9995  # 2 in 20,000 is the limit of 1 in 10,000


def test_choose_threshold_falls_back_to_the_fewest_wrong_and_respects_the_floor():
    points = [point(0.99, 3), point(0.999, 4), point(0.9995, 3), point(0.9999, 3)]
    assert choose_threshold(points).threshold == 0.9995
    assert choose_threshold(points, floor=0.9).threshold == 0.99


def test_a_higher_threshold_only_ever_withdraws_matches(tracer, request_sets):
    requests = request_sets["typical"]
    batch = tracer.trace_batch(requests.requests.slice(0, 2_000))
    strict = tracer.decide(batch, dataclasses.replace(tracer.config.decision, threshold=0.99999))
    matched = OUTCOMES.index(Outcome.MATCHED)
    assert np.all(batch.decisions.outcome[strict.decisions.outcome == matched] == matched)
    points = threshold_sweep(tracer, batch, requests.truth, [0.9, 0.999, 0.99999])
    recalls = [p.recall for p in points]
    assert recalls == sorted(recalls, reverse=True) and recalls[0] > recalls[-1]
    # Each point says how far its count supports its rate: the requests and non-members it rests on.
    truth = requests.truth.slice(0, 2_000).to_pylist()
    non_members = sum(1 for t in truth if t["nhs_number"] is None)
    assert {(p.requests, p.non_members) for p in points} == {(2_000, non_members)} and 0 < non_members < 2_000
    assert points[-1].wrong_person_upper_bound >= 1 - 0.05 ** (1 / 2_000)  # the rule of three at zero, or above


@settings(deadline=None)
@given(
    weights=st.lists(st.floats(min_value=-60, max_value=60), min_size=0, max_size=8),
    data=st.data(),
)
def test_single_request_decision_is_the_batch_decision(weights, data):
    n = len(weights)
    eligible = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    codes = [OUTCOMES.index(o) for o in CERTAIN]
    restricted = np.array(data.draw(st.lists(st.sampled_from(codes), min_size=n, max_size=n)), dtype=np.int8)
    weight = np.array(weights, dtype=np.float64)
    config = DecisionConfig()
    # the same request twice: the batch path, and its first half is the single path's answer
    both = decide(2, np.repeat([0, 1], n), np.tile(weight, 2), np.tile(eligible, 2), np.tile(restricted, 2), config)
    one = decide(1, np.zeros(n, dtype=np.int64), weight, eligible, restricted, config)
    assert one.outcome[0] == both.outcome[0]
    assert one.best_pair[0] == both.best_pair[0]
    assert one.candidates[0] == both.candidates[0]
    assert one.probability[0] == pytest.approx(both.probability[0], rel=1e-12, abs=1e-300)
    assert one.model_best_pair[0] == both.model_best_pair[0]


def test_a_blocked_candidate_keeps_the_models_probability():
    """A requirement blocks a match; it does not make the model's probability 0."""
    config = DecisionConfig()
    weights, pair_request = np.array([30.0, 2.0]), np.zeros(2, dtype=np.int64)
    codes = np.zeros(2, dtype=np.int8)
    blocked = decide(2, np.array([0, 1]), weights, np.array([False, True]), codes, config)
    assert OUTCOMES[blocked.outcome[0]] is Outcome.NO_MATCH and blocked.probability[0] > 0.999
    assert blocked.model_best_pair[0] == 0 and blocked.best_pair[0] == -1
    one = decide(1, pair_request, weights, np.array([False, True]), codes, config)
    assert OUTCOMES[one.outcome[0]] is Outcome.NO_MATCH and one.model_best_pair[0] == 0
    assert one.probability[0] == pytest.approx(1 / (1 + 2.0**-28 + 2.0**-30))


def test_a_blocked_trace_names_the_requirement_beside_the_probability(tracer, population):
    person = next(
        row for row in population.slice(0, 500).to_pylist() if not row["restricted"] and row["date_of_death"] is None
    )
    request = {
        "given_name": None,
        "family_name": person["family_name"],
        "date_of_birth": person["date_of_birth"].isoformat(),
        "postcode": person["postcode"],
        "address_line_1": person["address_line_1"],
    }
    result = tracer.trace({**request, "given_name": "Q" if person["given_name"][0] != "Q" else "Z"})
    assert result.outcome is Outcome.NO_MATCH and result.blocked_by == "first_name_agrees"
    assert result.probability > 0.5  # the model's, for the candidate the requirement blocked
    # No first name at all: a same-sex twin would look the same, so a reviewer decides (held, not given up).
    held = tracer.trace({**request, "sex": person["sex"]})
    assert held.outcome is Outcome.AMBIGUOUS and held.blocked_by == "no_given_name" and held.disclosure is None
    found = tracer.trace({**request, "given_name": person["given_name"]})
    assert found.outcome is Outcome.MATCHED and found.blocked_by is None


def test_the_precomputed_table_answers_as_the_requirements_do():
    check = RequirementCheck(COMPARISONS, DEFAULT_REQUIREMENTS)
    rng = np.random.default_rng(3)
    gamma = np.column_stack([rng.integers(-1, len(c.levels), size=5_000) for c in COMPARISONS]).astype(np.int8)
    np.testing.assert_array_equal(check(gamma), check._evaluate(gamma))
    assert check(gamma).any() and not check(gamma).all()


def _by_label(variants: tuple[str, ...], weak: tuple[str, ...], family: tuple[str, ...]) -> tuple[Requirement, ...]:
    """The default requirements written level by level: every level by its label. ``variants``: the given name's
    close levels; ``weak``: its weak ones; ``family``: the family name's spelling levels, the close one first."""
    nhs = ("nhs_number", ("exact",))
    line = ("address_line_1", ("exact", "previous_exact"))
    unit = ("postcode", ("unit", "previous_unit"))
    typed = (("postcode", ("text",)), ("address_line_1", ("exact", "previous_exact", "shared_words>=0.50")))
    dob = ("date_of_birth", ("exact",))
    close_dates = ("day_month_swapped", "digits_transposed", "one_digit_wrong", "first_of_january")
    far_dates = ("impossible_date_same_year", "year_off_by_one", "year_and_month_or_day")
    other_dates = ("two_of_year_month_day", "year_only", "else")
    family_close = ("exact", "previous_family_name", "compound_part", family[0], "swapped_with_given")
    family_given = (*family_close, *family[1:], "phonetic")

    def at_the_address(*conditions):
        return AllOf((*conditions, line)), AllOf((*conditions, unit))

    return (
        Requirement(
            "given_name",
            sufficient=("exact", *variants, *weak, "else"),
            corroborated=("null",),
            corroborators=(nhs,),
            guards=Relation.TWIN,
            holds_for_review=True,
        ),
        Requirement(
            "given_name",
            sufficient=("exact", *variants, "null"),
            corroborated=("initial",),
            corroborators=(nhs, *at_the_address(dob, ("sex", ("exact",)))),
            guards=Relation.TWIN,
        ),
        Requirement(
            "given_name",
            sufficient=("exact",),
            corroborated=(*variants, *weak, "null"),
            corroborators=(("sex", ("exact", "null")), nhs),
            guards=Relation.TWIN,
        ),
        Requirement(
            "given_name",
            sufficient=("exact",),
            corroborated=(*variants, *weak, "else", "null"),
            corroborators=(
                ("postcode", ("unit", "previous_unit", "sector", "district", "area", "text", "null")),
                line,
                nhs,
            ),
            guards=Relation.TWIN,
        ),
        Requirement(
            "given_name",
            sufficient=("exact", *(v for v in variants if v != "other_given_name"), *weak, "else", "null"),
            corroborated=("other_given_name",),
            corroborators=(("postcode", ("unit", "previous_unit", "sector", "district")), nhs),
            guards=Relation.TWIN,
        ),
        Requirement(
            "family_name",
            sufficient=(*family_given, "else"),
            corroborated=("null",),
            corroborators=(line, unit, AllOf(typed), nhs),
        ),
        Requirement(
            "family_name",
            sufficient=(*family_given, "null"),
            corroborated=("else",),
            corroborators=(nhs, *at_the_address(("given_name", ("exact",)), dob)),
            guards=Relation.HOUSEMATE,
        ),
        Requirement(
            "date_of_birth",
            sufficient=("exact", *far_dates, *other_dates, "null"),
            corroborated=close_dates,
            corroborators=(("postcode", ("unit", "previous_unit", "sector")), line, AllOf(typed), nhs),
        ),
        Requirement(
            "date_of_birth",
            sufficient=("exact", *close_dates, *other_dates, "null"),
            corroborated=far_dates,
            corroborators=(nhs, *at_the_address(("given_name", ("exact",)), ("family_name", family_close))),
        ),
        Requirement(
            "date_of_birth",
            sufficient=("exact", *close_dates, *far_dates, "null"),
            corroborated=other_dates,
            corroborators=(nhs,),
            guards=Relation.SAME_NAME_HOUSEMATE,
        ),
        Requirement(
            "date_of_birth",
            sufficient=("exact", *close_dates, *far_dates, *other_dates),
            corroborated=("null",),
            corroborators=(nhs,),
            guards=Relation.SAME_NAME_HOUSEMATE,
        ),
        Requirement(
            "date_of_birth",
            sufficient=("exact", *close_dates, *far_dates, *other_dates),
            corroborated=("null",),
            corroborators=(
                nhs,
                *at_the_address(("given_name", ("exact", *variants)), ("family_name", family_close)),
                AllOf((("given_name", ("exact", *variants)), ("family_name", family_close), *typed)),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("encoded", "similar", "weakly_similar"),
    [
        (False, "one_edit", ("jaro_winkler>=0.92", "jaro_winkler>=0.80")),
        (True, "bloom>=0.83", ("bloom>=0.80", "bloom>=0.75")),
    ],
    ids=["plaintext", "encoded"],
)
def test_requirements_by_agreement_decide_as_the_labels_they_stand_for(encoded, similar, weakly_similar):
    """Over every combination of levels, in both modes: the requirements that name agreements (exact, close,
    weak) pass exactly the candidates that the same requirements written level by level pass."""
    comparisons = default_comparisons(Tokeniser(os.urandom(32)), encoded=encoded)
    variants = ("nickname", similar, "other_given_name", "swapped_with_family")
    weak = (*weakly_similar, "phonetic", "initial")
    for waived in (frozenset(), frozenset(Relation)):
        by_label = RequirementCheck(comparisons, _by_label(variants, weak, (similar, *weakly_similar)), waived)
        by_agreement = RequirementCheck(comparisons, DEFAULT_REQUIREMENTS, waived)
        assert by_agreement._all_combinations is not None and by_agreement._all_combinations.any()
        np.testing.assert_array_equal(by_agreement._all_combinations, by_label._all_combinations)


def test_a_tracer_without_the_address_line_keeps_the_requirements_that_it_could_corroborate():
    """A model trained without the address line (an index of an older choice of comparisons): its corroboration
    is simply not there; the date still needs the postcode."""
    without = tuple(c for c in COMPARISONS if c.name not in ("address_line_1", "town"))
    check = RequirementCheck(without, DEFAULT_REQUIREMENTS)
    row = np.full((1, len(without)), NULL, dtype=np.int8)
    names = [c.name for c in without]
    for name, label in (("given_name", "exact"), ("family_name", "exact"), ("date_of_birth", "one_digit_wrong")):
        row[0, names.index(name)] = without[names.index(name)].labels.index(label)
    assert not check(row)[0]
    row[0, names.index("postcode")] = without[names.index("postcode")].labels.index("unit")
    assert check(row)[0]
