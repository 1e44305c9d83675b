"""Each comparison puts a crafted pair on the level its name promises."""

import os

import numpy as np
import pytest

from matcher.comparison import NULL
from matcher.comparison import library as comparisons
from matcher.protection.tokens import MISSING, Tokeniser
from matcher.records.entities import Entities

TOKENISER = Tokeniser(os.urandom(32))
RECORD = dict(
    given_name="WILLIAM",
    other_given_names="HENRY JAMES",
    family_name="SMITH-JONES",
    date_of_birth="1980-03-12",
    sex="male",
    postcode="LS13 4JT",
    nhs_number="9434765919",
)


def entities(rows: list[dict], **history) -> Entities:
    keys = ("given_name", "other_given_names", "family_name", "date_of_birth", "sex", "postcode", "nhs_number")
    columns = {k: [r.get(k) for r in rows] for k in keys}
    return Entities.from_columns(TOKENISER, **columns, **history)


def level(comparison, request: dict, record: dict = RECORD, **history) -> str:
    requests = entities([{**RECORD, **request}])
    records = entities([record], **history)
    code = comparison.compare(requests, records, np.array([0]), np.array([0]))[0]
    return "null" if code == NULL else comparison.labels[code]


GIVEN = comparisons.given_name(comparisons.nickname_pairs(TOKENISER))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("William", "exact"),
        ("BILL", "nickname"),
        ("WILLAIM", "one_edit"),
        ("WILHELMINA", "jaro_winkler>=0.80"),
        ("HENRY", "other_given_name"),
        ("JAMES", "else"),  # only the first middle name counts as a name someone goes by
        ("W", "initial"),
        ("ZACHARY", "else"),
        (None, "null"),
    ],
)
def test_given_name_levels(given, expected):
    assert level(GIVEN, {"given_name": given}) == expected


def test_given_and_family_swapped():
    request = {"given_name": "SMITH-JONES", "family_name": "WILLIAM"}
    assert level(GIVEN, request) == "swapped_with_family"
    assert level(comparisons.family_name(), request) == "swapped_with_given"


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("Smith Jones", "exact"),
        ("SMITHJONES", "compound_part"),
        ("JONES", "compound_part"),
        ("SMITH-JONSE", "one_edit"),
        ("BROWN", "previous_family_name"),
        ("ZIELINSKI", "else"),
    ],
)
def test_family_name_levels(family, expected):
    history = {"previous_family_names": [["BROWN"]]}
    assert level(comparisons.family_name(), {"family_name": family}, **history) == expected


@pytest.mark.parametrize(
    ("dob", "expected"),
    [
        ("1980-03-12", "exact"),
        ("1980-12-03", "day_month_swapped"),
        ("1980-03-21", "digits_transposed"),
        ("1980-03-13", "one_digit_wrong"),
        ("1980-03-34", "impossible_date_same_year"),  # no calendar date: a slip, never someone else's birthday
        ("1980-02-30", "impossible_date_same_year"),
        ("1981-02-30", "else"),
        ("1980-11-12", "year_and_month_or_day"),
        ("1979-03-12", "year_off_by_one"),
        ("1975-03-12", "two_of_year_month_day"),  # the same birthday years apart: a father's or son's too
        ("1980-01-01", "first_of_january"),
        ("1980-07-25", "year_only"),
        ("1955-07-25", "else"),
        ("not a date", "null"),
    ],
)
def test_date_of_birth_levels(dob, expected):
    assert level(comparisons.date_of_birth(), {"date_of_birth": dob}) == expected


@pytest.mark.parametrize(
    ("postcode", "expected"),
    [
        ("ls134jt", "unit"),
        ("M1 1AE", "previous_unit"),
        ("LS13 4XX", "sector"),
        ("LS13", "district"),
        ("LS1 1AA", "area"),
        ("SW1A 1AA", "else"),
        ("XX", "null"),
        (None, "null"),
    ],
)
def test_postcode_levels_cover_current_and_previous(postcode, expected):
    history = {"previous_postcodes": [["M1 1AE"]]}
    assert level(comparisons.postcode(), {"postcode": postcode}, **history) == expected


@pytest.mark.parametrize(
    ("postcode", "record_postcode", "expected"),
    [
        ("4223", "4223", "text"),  # FEBRL's Australian codes: not UK ones, compared as text, not dropped
        (" 4223 ", "4223", "text"),
        ("4223", "4224", "else"),
        ("4223", "LS13 4JT", "null"),  # a code that is not a UK one says nothing against a UK one
        ("LS13 4JT", "4223", "null"),
    ],
)
def test_a_postcode_that_does_not_parse_is_compared_as_text(postcode, record_postcode, expected):
    record = {**RECORD, "postcode": record_postcode}
    assert level(comparisons.postcode(), {"postcode": postcode}, record) == expected


def test_sex_and_nhs_number():
    assert level(comparisons.sex(), {"sex": "female"}) == "else"
    assert level(comparisons.sex(), {"sex": "unknown"}) == "null"
    assert level(comparisons.nhs_number(), {}) == "exact"
    assert level(comparisons.nhs_number(), {"nhs_number": "9434765918"}) == "else"
    assert level(comparisons.nhs_number(), {"nhs_number": None}) == "null"


def test_malformed_values_are_counted_not_fatal():
    e = entities([{**RECORD, "postcode": "NOT A CODE", "date_of_birth": "soon", "family_name": "!!"}])
    assert e.malformed == {"postcode": 1, "date_of_birth": 1, "family_name": 1}
    assert e.date_of_birth[0] == 0 and e.family[0] == -1
    # Not a UK postcode: counted, and kept as text to compare with another such (it is no unit, sector or area).
    assert e.postcodes.strings[e.postcode[0]] == "NOTACODE" and e.postcodes.unit[e.postcode[0]] == MISSING
    assert entities([{**RECORD, "postcode": " , "}]).postcode[0] == -1


def test_a_comparison_ends_in_else_and_names_each_level_once():
    from matcher.comparison import Comparison
    from matcher.comparison.levels import ElseLevel, ExactLevel
    from matcher.comparison.library import SEX
    from matcher.comparison.names import EditDistanceLevel, JaroWinklerLevel
    from matcher.comparison.postcodes import PostcodeLevel

    with pytest.raises(ValueError, match="last level must be ElseLevel"):
        Comparison(SEX, (ExactLevel(),))
    with pytest.raises(ValueError, match="distinct"):
        Comparison(SEX, (ExactLevel(), ExactLevel(), ElseLevel()))
    with pytest.raises(ValueError, match="one or two edits"):
        EditDistanceLevel(3)
    with pytest.raises(ValueError, match="unit, sector, district, area or text"):
        PostcodeLevel("street")
    assert [EditDistanceLevel(2).label, JaroWinklerLevel(0.8).label, PostcodeLevel("unit", current=False).label] == [
        "two_edits",
        "jaro_winkler>=0.80",
        "previous_unit",
    ]
