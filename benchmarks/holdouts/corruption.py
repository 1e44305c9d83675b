"""A second corruption model, written apart from ``synthetic``'s request generator, after FEBRL/GeCo's rules.

Christen's FEBRL generator and its successor GeCo (Tran, Vatsalan and Christen, 2013) corrupt a record field by
field: keyboard typos (a neighbouring key), OCR confusions (0/O, 1/I/L, 5/S, RN/M, CL/D), phonetic respellings (PH/F,
CK/K, Y/I ...), inserted, deleted and transposed characters, missing values, swapped fields, and value-level errors
taken from look-up tables. To those we add the errors of a caseworker's form: dates with day and month swapped, the
year's digits transposed, impossible dates, a year only; a given name reduced to its initial or left out, a middle
name used as first, the wrong sex, the postcode missing, mistyped or cut to its outward code, the address line
abbreviated or given a flat number.

Each request carries one named kind of error (or none), so recall is measured per kind; a share of requests also
get a light second error (a typo, a missing postcode), as records seldom have only one thing wrong.

Non-members are people held out of the index: a share of the population, drawn whole, who may live with people
who are in it (a twin, a sibling with a middle name in common). Two more kinds are made from members: a namesake
(their given and family name, someone else's address and birthday) and a sibling (their family name and address,
someone else's first name and sex, born a few years apart). None may ever be matched to the member.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from benchmarks.holdouts.errors import KINDS, LIGHT, Person
from matcher.contract.schema import REQUEST_SCHEMA

__all__ = ["KINDS", "corrupt", "holdout", "namesake", "sibling"]


def clean_request(person: Person, request_id: str) -> dict:
    """What a caseworker who knew the person's current details exactly would send."""
    dob = person["date_of_birth"]
    return {
        "request_id": request_id,
        "given_name": person["given_name"],
        "other_given_names": person.get("other_given_names") or None,
        "family_name": person["family_name"],
        "sex": person.get("sex"),
        "postcode": person.get("postcode"),
        "address_line_1": person.get("address_line_1"),
        "town": person.get("town"),
        "nhs_number": None,
        "date_of_birth": dob.isoformat() if dob else None,
    }


def corrupt(person: Person, request_id: str, kind: str, rng: np.random.Generator, second: float = 0.25) -> dict | None:
    """A request about ``person`` carrying the error ``kind`` (and, ``second`` of the time, a light one more); None
    when the kind does not apply to this person (no middle name to use as first, a day above 12 to swap)."""
    request = clean_request(person, request_id)
    if request["date_of_birth"] is None or not KINDS[kind](request, person, rng):
        return None
    if rng.random() < second:
        extra = LIGHT[int(rng.integers(len(LIGHT)))]
        if not extra.startswith(kind.split(":")[0]):
            KINDS[extra](request, person, rng)
    # Typed as a caseworker types: mixed case sometimes, a UK form's day first sometimes.
    if rng.random() < 0.3:
        for field in ("given_name", "family_name"):
            if request[field]:
                request[field] = request[field].title()
    if rng.random() < 0.2 and request["date_of_birth"]:
        y, m, d = request["date_of_birth"].split("-")
        request["date_of_birth"] = f"{d}/{m}/{y}"
    return request


def namesake(person: Person, other: Person, request_id: str, rng: np.random.Generator) -> dict:
    """Someone else with the person's given and family name, living elsewhere and born on another day (``other``'s
    address, sex and date of birth): a common name's namesake, never the person."""
    request = clean_request(other, request_id)
    request["given_name"], request["family_name"] = person["given_name"], person["family_name"]
    request["other_given_names"] = None
    return request


def sibling(person: Person, other: Person, request_id: str, rng: np.random.Generator) -> dict:
    """A brother or sister of the person: their family name and address, a first name of ``other``'s, born one to
    six years apart. Never the person, however much else agrees."""
    request = clean_request(person, request_id)
    request["given_name"], request["other_given_names"] = other["given_name"], None
    request["sex"] = other.get("sex")
    born = person["date_of_birth"] + dt.timedelta(days=int(rng.integers(300, 6 * 365)) * int(rng.choice([-1, 1])))
    request["date_of_birth"] = born.isoformat()
    return request


def holdout(
    population: pa.Table, count: int, seed: int, non_member_rate: float = 0.3, held_out_share: float = 0.02
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(the index's population: ``population`` less the held-out people, requests, truth). Members' requests
    spread evenly over the kinds of error; non-members are held-out people (corrupted as members are) and, 40% of
    them, namesakes and siblings of members."""
    rng = np.random.default_rng(seed)
    n = population.num_rows
    held = np.zeros(n, dtype=bool)
    held[rng.choice(n, size=max(1, int(n * held_out_share)), replace=False)] = True
    alive = population.column("date_of_death").is_null().to_numpy(zero_copy_only=False)
    unrestricted = ~population.column("restricted").fill_null(False).to_numpy(zero_copy_only=False)
    members = np.flatnonzero(~held & alive & unrestricted)
    outsiders = np.flatnonzero(held)
    kinds = list(KINDS)
    requests, truth = [], []
    n_non = round(count * non_member_rate)
    while len(requests) < count:
        request_id = f"h{seed}-{len(requests):06d}"
        if len(requests) < count - n_non:
            row = int(rng.choice(members))
            person = population.slice(row, 1).to_pylist()[0]
            kind = kinds[int(rng.integers(len(kinds)))]
            request = corrupt(person, request_id, kind, rng)
            nhs = person["nhs_number"]
        elif rng.random() < 0.4:
            person, other = (population.slice(int(r), 1).to_pylist()[0] for r in rng.choice(members, 2))
            if person["date_of_birth"] is None or other["date_of_birth"] is None:
                continue
            if person["given_name"] == other["given_name"] or person["family_name"] == other["family_name"]:
                continue
            make = namesake if rng.random() < 0.5 else sibling
            kind, request, nhs = f"non_member:{make.__name__}", make(person, other, request_id, rng), None
        else:
            person = population.slice(int(rng.choice(outsiders)), 1).to_pylist()[0]
            kind = kinds[int(rng.integers(len(kinds)))]
            request, nhs = corrupt(person, request_id, kind, rng), None
            kind = "non_member:held_out"
        if request is None:
            continue
        requests.append(request)
        truth.append({"request_id": request_id, "nhs_number": nhs, "kind": kind})
    truth_schema = pa.schema([("request_id", pa.string()), ("nhs_number", pa.string()), ("kind", pa.string())])
    index_population = population.filter(pa.array(~held))
    return index_population, pa.Table.from_pylist(requests, REQUEST_SCHEMA), pa.Table.from_pylist(truth, truth_schema)
