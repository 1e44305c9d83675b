"""Trace requests: contract, calibration, ground truth that tells the exact truth."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from matcher.contract.schema import REQUEST_SCHEMA, TRUTH_SCHEMA
from synthetic import corruption as c
from synthetic.profiles import PROFILES
from synthetic.requests import corrupt, generate_requests, summarise_truth

FIELDS = ["given_name", "other_given_names", "family_name", "sex", "postcode", "address_line_1", "date_of_birth"]


def _joined(request_set, population):
    truth = request_set.truth.to_pylist()
    requests = request_set.requests.to_pylist()
    by_number = {}
    wanted = {t["nhs_number"] for t in truth if t["nhs_number"]}
    for row in population.to_pylist():
        if row["nhs_number"] in wanted:
            by_number[row["nhs_number"]] = row
    return [(r, t, by_number.get(t["nhs_number"])) for r, t in zip(requests, truth, strict=True)]


def test_schemas_are_the_contract(request_sets):
    for request_set in request_sets.values():
        assert request_set.requests.schema.equals(REQUEST_SCHEMA)
        assert request_set.truth.schema.equals(TRUTH_SCHEMA)
        assert request_set.requests.column("request_id").equals(request_set.truth.column("request_id"))


def test_non_member_rate_and_lookalikes(request_sets, population):
    truth = request_sets["typical"].truth
    non_members = truth.column("nhs_number").null_count
    assert non_members == 6_000
    kinds = [k for k in truth.column("non_member_kind").to_pylist() if k]
    assert kinds.count("twin_like") > 600 and kinds.count("same_surname_dob") > 400
    # No non-member is a member's exact namesake born the same day.
    identity = set(
        zip(*(population.column(f).to_pylist() for f in ("given_name", "family_name", "date_of_birth")), strict=True)
    )
    for request, truth_row in zip(
        request_sets["clean"].requests.to_pylist(), request_sets["clean"].truth.to_pylist(), strict=True
    ):
        if truth_row["nhs_number"] is None:
            key = (request["given_name"], request["family_name"], dt.date.fromisoformat(request["date_of_birth"]))
            assert key not in identity


def test_twin_like_non_members_share_surname_dob_and_address(request_sets, population):
    homes = set(
        zip(
            *(population.column(f).to_pylist() for f in ("family_name", "date_of_birth", "address_line_1", "postcode")),
            strict=True,
        )
    )
    twins = [
        (r["family_name"], dt.date.fromisoformat(r["date_of_birth"]), r["address_line_1"], r["postcode"])
        for r, t in zip(
            request_sets["clean"].requests.to_pylist(), request_sets["clean"].truth.to_pylist(), strict=True
        )
        if t["non_member_kind"] == "twin_like"
    ]
    assert twins
    assert all(twin in homes for twin in twins)


def test_clean_profile_reproduces_the_index(request_sets, population):
    for request, truth, person in _joined(request_sets["clean"], population):
        assert truth["corruptions"] == []
        if person is None:
            continue
        assert request["given_name"] == person["given_name"]
        assert request["family_name"] == person["family_name"]
        assert request["date_of_birth"] == person["date_of_birth"].isoformat()
        assert request["postcode"] == person["postcode"]
        assert request["nhs_number"] in (None, person["nhs_number"])


def test_typical_rates_match_calibration(request_sets):
    members = request_sets["typical"].truth.filter(request_sets["typical"].truth.column("nhs_number").is_valid())
    rates = summarise_truth(members)
    assert 0.10 <= rates["given_name"] <= 0.15
    assert 0.15 <= rates["family_name"] <= 0.22
    assert 0.012 <= rates["date_of_birth"] <= 0.03
    stale_or_missing = np.mean(
        [
            any(x in ("postcode:stale", "postcode:missing") for x in row)
            for row in members.column("corruptions").to_pylist()
        ]
    )
    assert 0.4 <= stale_or_missing <= 0.6


def test_hard_roughly_doubles_typical(request_sets):
    typical = summarise_truth(request_sets["typical"].truth)
    hard = summarise_truth(request_sets["hard"].truth)
    for field in ("given_name", "family_name", "date_of_birth"):
        assert 1.6 <= hard[field] / typical[field] <= 2.4, field


def test_listed_corruptions_are_exactly_the_changed_fields(request_sets, population):
    for request, truth, person in _joined(request_sets["hard"], population):
        if person is None:
            continue
        listed = {x.split(":")[0] for x in truth["corruptions"]}
        expected = {
            "given_name": person["given_name"],
            "other_given_names": person["other_given_names"] or None,
            "family_name": person["family_name"],
            "postcode": person["postcode"],
            "address_line_1": person["address_line_1"],
            "town": person["town"],
            "date_of_birth": person["date_of_birth"].isoformat(),
            "sex": person["sex"] if person["sex"] in ("male", "female") else None,
        }
        changed = {f for f, v in expected.items() if request[f] != v}
        assert changed == listed - {"nhs_number"}, (truth["corruptions"], request, expected)


def test_every_corruption_kind_occurs_in_hard(request_sets):
    kinds = {x for row in request_sets["hard"].truth.column("corruptions").to_pylist() for x in row}
    for expected in [
        "given_name:nickname",
        "given_name:middle_as_first",
        "given_name:swapped_names",
        "given_name:phonetic",
        "given_name:ocr",
        "given_name:typo_keyboard",
        "given_name:typo_insert",
        "given_name:typo_delete",
        "given_name:typo_transpose",
        "family_name:previous_name",
        "family_name:compound_shortened",
        "date_of_birth:day_month_swap",
        "date_of_birth:digit_error",
        "date_of_birth:year_off_by_one",
        "date_of_birth:first_of_january",
        "postcode:stale",
        "postcode:outward_only",
        "postcode:typo",
        "postcode:missing",
        "other_given_names:missing",
        "other_given_names:extra",
        "sex:missing",
    ]:
        assert expected in kinds, expected


def test_impossible_dates_can_be_typed():
    rnd = random.Random(3)
    outcomes = {c.date_digit_error("1985-02-28", rnd) for _ in range(400)}
    invalid = [d for d in outcomes if not _is_date(d)]
    assert invalid, "digit errors should sometimes produce an impossible date"


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    ("corruptor", "value", "allowed"),
    [
        (c.day_month_swap, "1980-03-07", {"1980-07-03"}),
        (c.first_of_january, "1980-03-07", {"1980-01-01"}),
        (c.outward_code_only, "SW1A 1AA", {"SW1A"}),
        (c.shorten_compound, "SMITH-JONES", {"SMITH", "JONES", "SMITH JONES", "SMITHJONES"}),
    ],
)
def test_corruptors_do_what_they_say(corruptor, value, allowed):
    rnd = random.Random(0)
    for _ in range(20):
        assert corruptor(value, rnd) in allowed


def test_nicknames_come_from_the_dictionary():
    table = c.nickname_table()
    assert {"BILL", "WILL"} <= set(table["WILLIAM"])
    assert "PEGGY" in table["MARGARET"] and "MARGARET" in table["PEGGY"]
    rnd = random.Random(0)
    assert all(c.nickname("WILLIAM", rnd) in table["WILLIAM"] for _ in range(20))


def test_corruptors_refuse_what_cannot_apply():
    rnd = random.Random(0)
    assert c.day_month_swap("1980-03-25", rnd) is None
    assert c.nickname("XQZWY", rnd) is None
    assert c.shorten_compound("SMITH", rnd) is None
    assert c.first_of_january("1980-01-01", rnd) is None


def test_typos_change_the_value():
    rnd = random.Random(1)
    for corruptor in c.TYPOS.values():
        for name in ("MARGARET", "O'NEILL", "SMITH-JONES"):
            changed = corruptor(name, rnd)
            assert changed is not None and changed != name


def test_requests_are_deterministic(population_path):
    first = generate_requests(population_path, 500, PROFILES["typical"], 0.3, seed=9)
    again = generate_requests(population_path, 500, PROFILES["typical"], 0.3, seed=9)
    assert first.requests.equals(again.requests) and first.truth.equals(again.truth)


def test_bad_arguments_are_clear_errors(population_path):
    with pytest.raises(ValueError, match="non-member rate"):
        generate_requests(population_path, 10, PROFILES["typical"], 1.5, seed=1)


def test_files_round_trip(tmp_path, request_sets):
    from synthetic.requests import write_requests

    write_requests(request_sets["typical"], tmp_path / "r.parquet", tmp_path / "t.parquet")
    assert pq.read_table(tmp_path / "r.parquet").schema.equals(REQUEST_SCHEMA)


def test_errors_travel_with_the_value_when_names_are_swapped():
    from synthetic.profiles import CorruptionProfile

    profile = CorruptionProfile(
        name="swap",
        given_name=1.0,
        family_name=1.0,
        given_name_kinds={"swapped_names": 1.0},
        family_name_kinds={"phonetic": 1.0},
    )
    record = {
        "given_name": "SANDRA",
        "other_given_names": "",
        "family_name": "PHILLIPS",
        "sex": "female",
        "postcode": "SW1A 1AA",
        "address_line_1": "1 HIGH STREET",
        "nhs_number": "9434765919",
        "date_of_birth": dt.date(1980, 5, 17),
        "previous_family_names": [],
        "previous_addresses": [],
    }
    request, changes = corrupt(record, profile, random.Random(2), lambda *a: "ANN", member=True)
    assert request["family_name"] == "SANDRA"
    assert "given_name:phonetic" in changes and "family_name:phonetic" not in changes


def test_a_kind_with_zero_weight_never_occurs(population_path):
    from dataclasses import replace

    profile = replace(PROFILES["hard"], family_name=1.0, family_name_kinds={"typo_keyboard": 0.0, "typo_delete": 1.0})
    truth = generate_requests(population_path, 300, profile, 0.0, seed=4).truth
    kinds = {x for row in truth.column("corruptions").to_pylist() for x in row if x.startswith("family_name:")}
    assert "family_name:typo_delete" in kinds and "family_name:typo_keyboard" not in kinds
