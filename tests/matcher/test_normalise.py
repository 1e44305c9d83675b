import pytest

from matcher.contract.normalise import (
    name_parts,
    normalise_name,
    normalise_nhs_number,
    normalise_sex,
    parse_date_of_birth,
    parse_postcode,
    split_given_names,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("o'neill", "ONEILL"),
        ("Zoë", "ZOE"),
        ("Smith Jones", "SMITH-JONES"),
        ("Smith--Jones ", "SMITH-JONES"),
        ("MacDonald", "MCDONALD"),
        ("McDonald", "MCDONALD"),
        ("Mace", "MACE"),
        ("St. John", "ST-JOHN"),
        ("J0hn", "JHN"),
        ("  ", None),
        ("123", None),
        (None, None),
    ],
)
def test_names(raw, expected):
    assert normalise_name(raw) == expected


def test_name_parts_and_given_names():
    assert name_parts("SMITH-JONES") == ["SMITH", "JONES"]
    assert name_parts("SMITH") == []
    assert split_given_names("mary  Ann-Louise") == ["MARY", "ANN-LOUISE"]
    assert split_given_names(None) == []


def test_postcodes():
    full = parse_postcode("sw1a1aa")
    assert (full.unit, full.sector, full.district, full.area) == ("SW1A 1AA", "SW1A 1", "SW1A", "SW")
    assert parse_postcode(" M1   1AE ").unit == "M1 1AE"
    assert parse_postcode("M1 1AE").area == "M"
    outward = parse_postcode("ls13")
    assert (outward.unit, outward.sector, outward.district) == (None, None, "LS13")
    for bad in ("12345", "SW1A 1A", "not a postcode", "", None):
        assert parse_postcode(bad) is None


def test_dates_of_birth():
    assert parse_date_of_birth("1985-02-14") == (19850214, True)
    assert parse_date_of_birth("1985-02-30") == (19850230, False)  # impossible, digits kept
    assert parse_date_of_birth("14/02/1985") == (19850214, True)
    assert parse_date_of_birth("19850214") == (19850214, True)
    assert parse_date_of_birth("2000-13-01") == (20001301, False)
    for bad in ("1985-02", "yesterday", "", None, "85-02-14"):
        assert parse_date_of_birth(bad) is None


def test_sex_and_nhs_number():
    assert [normalise_sex(x) for x in ("Male", "f", "other", "unknown", None)] == [1, 2, 0, 0, 0]
    assert normalise_nhs_number("943 476 5919") == "9434765919"
    assert normalise_nhs_number("943-476-591") is None
    assert normalise_nhs_number("abcdefghij") is None
