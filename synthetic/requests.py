"""Trace requests as a caseworker would type them, with the ground truth beside them.

Members are living people aged 16 or over drawn from the population. Non-members are people who are not in it:
half are independent people from the same generator, the rest deliberately resemble a member (a twin-like sibling
at the same address, someone with the same surname and date of birth elsewhere, or a common-name namesake born the
same year), because disclosing the wrong person is the worst failure a tracing service can make. No non-member
shares a member's given name, family name and date of birth: such a request could not be answered by anyone.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from matcher.contract.schema import REQUEST_SCHEMA, TRUTH_SCHEMA
from synthetic import corruption as c
from synthetic.names import NameTables, load_name_tables
from synthetic.population import DEFAULT_AS_OF, PopulationConfig, days, generate_population
from synthetic.profiles import ADDRESS_ERROR_KINDS, POSTCODE_ERROR_KINDS, CorruptionProfile

NON_MEMBER_KINDS = {"independent": 0.5, "twin_like": 0.2, "same_surname_dob": 0.15, "common_name": 0.15}
MINIMUM_AGE = 16
_SOURCE_COLUMNS = [
    "nhs_number",
    "given_name",
    "other_given_names",
    "family_name",
    "previous_family_names",
    "sex",
    "date_of_birth",
    "date_of_death",
    "postcode",
    "address_line_1",
    "town",
    "previous_addresses",
]
_IDENTITY = ["given_name", "family_name", "date_of_birth"]


@dataclass(frozen=True)
class RequestSet:
    requests: pa.Table
    truth: pa.Table


def population_as_of(path: Path | str) -> dt.date:
    metadata = pq.read_schema(path).metadata or {}
    value = metadata.get(b"as_of")
    return dt.date.fromisoformat(value.decode()) if value else DEFAULT_AS_OF


def generate_requests(
    population: Path | str, count: int, profile: CorruptionProfile, non_member_rate: float, seed: int
) -> RequestSet:
    if not 0.0 <= non_member_rate <= 1.0:
        raise ValueError(f"non-member rate must be between 0 and 1, got {non_member_rate}")
    if count < 0:
        raise ValueError(f"count must be at least 0, got {count}")
    as_of = population_as_of(population)
    table = pq.read_table(population, columns=_SOURCE_COLUMNS)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7ACE]))
    rnd = random.Random(seed)
    eligible = _eligible(table, as_of)
    if len(eligible) == 0:
        raise ValueError("the population has no living person aged 16 or over to trace")

    non_members = round(count * non_member_rate)
    members = count - non_members
    member_rows = rng.choice(eligible, size=members, replace=members > len(eligible))
    member_records = table.take(pa.array(member_rows)).to_pylist()
    truth_ids = [r["nhs_number"] for r in member_records]

    outsider_records, outsider_kinds = _non_members(non_members, table, eligible, rng, seed, as_of)
    names = load_name_tables()
    extra_middle = _middle_name_picker(names)

    records = member_records + outsider_records
    kinds = [None] * members + outsider_kinds
    truth_ids += [None] * non_members
    order = rng.permutation(count)
    requests, truth = [], []
    for position, i in enumerate(order.tolist()):
        request, changes = corrupt(records[i], profile, rnd, extra_middle, member=truth_ids[i] is not None)
        request_id = f"REQ{position + 1:07d}"
        requests.append({"request_id": request_id, **request})
        truth.append(
            {
                "request_id": request_id,
                "nhs_number": truth_ids[i],
                "corruptions": changes,
                "non_member_kind": kinds[i],
            }
        )
    return RequestSet(
        pa.Table.from_pylist(requests, schema=REQUEST_SCHEMA),
        pa.Table.from_pylist(truth, schema=TRUTH_SCHEMA),
    )


def write_requests(request_set: RequestSet, requests_path: Path | str, truth_path: Path | str) -> None:
    for table, path in ((request_set.requests, requests_path), (request_set.truth, truth_path)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="zstd")


def _eligible(table: pa.Table, as_of: dt.date) -> np.ndarray:
    # Sixteen on the extract date counts (29 February birthdays: the 28th in common years).
    sixteenth = as_of.replace(year=as_of.year - MINIMUM_AGE, day=min(as_of.day, 28 if as_of.month == 2 else 31))
    latest_birth = days(sixteenth)
    dob = table.column("date_of_birth").cast(pa.int32()).to_numpy()
    alive = table.column("date_of_death").is_null().to_numpy(zero_copy_only=False)
    return np.flatnonzero(alive & (dob <= latest_birth))


def _non_members(
    count: int, table: pa.Table, eligible: np.ndarray, rng: np.random.Generator, seed: int, as_of: dt.date
) -> tuple[list[dict], list[str]]:
    if count == 0:
        return [], []
    kinds = rng.choice(list(NON_MEMBER_KINDS), size=count, p=list(NON_MEMBER_KINDS.values()))
    names = load_name_tables()
    records: list[dict] = [{} for _ in range(count)]

    independent = np.flatnonzero(kinds == "independent")
    for slot, record in zip(independent.tolist(), _outsider_pool(len(independent), seed, as_of), strict=True):
        records[slot] = record

    lookalike = np.flatnonzero(kinds != "independent")
    model = table.take(pa.array(rng.choice(eligible, size=len(lookalike)))).to_pylist()
    elsewhere = table.take(pa.array(rng.choice(eligible, size=len(lookalike)))).to_pylist()
    for slot, person, other in zip(lookalike.tolist(), model, elsewhere, strict=True):
        record = dict(person, previous_family_names=[], other_given_names="")
        if kinds[slot] != "twin_like":
            record.update(
                postcode=other["postcode"],
                address_line_1=other["address_line_1"],
                town=other["town"],
                previous_addresses=other["previous_addresses"],
            )
        if kinds[slot] == "common_name":
            record["date_of_birth"] = _same_year_other_day(person["date_of_birth"], rng)
        else:
            record["sex"] = "male" if rng.random() < 0.5 else "female"
            record["given_name"] = None  # drawn below
        records[slot] = record

    # Redraw until no non-member shares a member's given name, family name and date of birth
    # (a look-alike that drew its model's own given name is caught here too).
    identities = table.select(_IDENTITY).group_by(_IDENTITY).aggregate([])
    for _ in range(20):
        _draw_given_names([r for r in records if r["given_name"] is None], names, rng)
        clashes = _clashes_with_population(records, identities)
        if not clashes:
            break
        for i in clashes:
            if kinds[i] == "common_name":
                records[i]["date_of_birth"] = _same_year_other_day(records[i]["date_of_birth"], rng)
                continue
            if kinds[i] == "independent":  # rare: an outsider who is a member's exact namesake
                kinds[i] = "same_surname_dob"
            records[i]["given_name"] = None
    else:
        raise RuntimeError("could not make non-members distinct from every member")
    for record in records:
        record["nhs_number"] = None
    return records, [str(k) for k in kinds]


def _outsider_pool(count: int, seed: int, as_of: dt.date) -> list[dict]:
    """People from an independent population: same generator, a seed stream members never use."""
    if count == 0:
        return []
    size = 2 * count + 1000  # about three in four people are living adults
    # A seed stream no population is generated with (populations take small non-negative seeds).
    outsider_seed = 2**62 + seed
    table = pa.Table.from_batches(list(generate_population(size, outsider_seed, PopulationConfig(as_of=as_of))))
    table = table.select(_SOURCE_COLUMNS)
    eligible = _eligible(table, as_of)
    if len(eligible) < count:
        raise RuntimeError(f"outsider pool too small: {len(eligible)} < {count}")
    return table.take(pa.array(eligible[:count])).to_pylist()


def _same_year_other_day(date: dt.date, rng: np.random.Generator) -> dt.date:
    start = dt.date(date.year, 1, 1)
    length = (dt.date(date.year + 1, 1, 1) - start).days
    offset = (date - start).days
    other = (offset + 1 + int(rng.integers(0, length - 1))) % length
    return start + dt.timedelta(days=other)


def _draw_given_names(records: list[dict], names: NameTables, rng: np.random.Generator) -> None:
    if not records:
        return
    years = np.array([r["date_of_birth"].year for r in records])
    male = np.array([r["sex"] == "male" for r in records])
    drawn = names.given_names.take(pa.array(names.sample_given(years, male, rng))).to_pylist()
    for record, name in zip(records, drawn, strict=True):
        record["given_name"] = name


def _clashes_with_population(records: list[dict], identities: pa.Table) -> list[int]:
    """Slots of records whose given name, family name and date of birth are a member's (``identities``)."""
    candidates = pa.table(
        {
            "given_name": [r["given_name"] for r in records],
            "family_name": [r["family_name"] for r in records],
            "date_of_birth": pa.array([r["date_of_birth"] for r in records], pa.date32()),
            "slot": np.arange(len(records)),
        }
    )
    joined = candidates.join(identities, keys=_IDENTITY, join_type="inner")
    return sorted(set(joined.column("slot").to_pylist()))


def _middle_name_picker(names: NameTables) -> Callable[[random.Random, int, bool], str]:
    tops = {
        key: names.given_names.take(pa.array(dist.indices[:30])).to_pylist()
        for key, dist in names.given_by_decade.items()
    }

    def pick(rnd: random.Random, year: int, male: bool) -> str:
        anchor = int(names.anchor_for_birth_years(np.array([year]))[0])
        return rnd.choice(tops[(anchor, "male" if male else "female")])

    return pick


def _weighted_order(weights: dict[str, float], rnd: random.Random) -> list[str]:
    """Kinds in random order, heavier kinds tending to come first (weighted sampling without replacement)."""
    return sorted((k for k in weights if weights[k] > 0), key=lambda k: -(rnd.random() ** (1.0 / weights[k])))


_NAME_CORRUPTORS: dict[str, c.Corruptor] = {
    **c.TYPOS,
    "phonetic": c.phonetic_variant,
    "ocr": c.ocr_variant,
    "nickname": c.nickname,
    "compound_shortened": c.shorten_compound,
    "format": c.title_case,
}
_DATE_CORRUPTORS: dict[str, c.Corruptor] = {
    "day_month_swap": c.day_month_swap,
    "digit_error": c.date_digit_error,
    "year_off_by_one": c.year_off_by_one,
    "first_of_january": c.first_of_january,
    "digit_transposition": c.date_digit_transposition,
}
_POSTCODE_CORRUPTORS: dict[str, c.Corruptor] = {
    "typo": c.postcode_typo,
    "outward_only": c.outward_code_only,
    "format": c.postcode_format,
}
_ADDRESS_CORRUPTORS: dict[str, c.Corruptor] = {
    "typo_keyboard": c.keyboard_typo,
    "typo_delete": c.delete_typo,
    "abbreviation": c.address_abbreviation,
}


def corrupt(
    record: dict,
    profile: CorruptionProfile,
    rnd: random.Random,
    extra_middle: Callable[[random.Random, int, bool], str],
    member: bool,
) -> tuple[dict, list[str]]:
    """The request a caseworker would send for this person, and the errors that changed a value."""
    dob: dt.date = record["date_of_birth"]
    out = {
        "given_name": record["given_name"],
        "other_given_names": record["other_given_names"] or None,
        "family_name": record["family_name"],
        "sex": record["sex"] if record["sex"] in ("male", "female") else None,
        "postcode": record["postcode"],
        "address_line_1": record["address_line_1"],
        "town": record.get("town"),
        "nhs_number": record["nhs_number"] if member and rnd.random() < profile.nhs_number_known else None,
        "date_of_birth": dob.isoformat(),
    }
    original = dict(out)
    changes: list[str] = []

    def set_field(field: str, kind: str, value: str | None) -> bool:
        if value == out[field]:
            return False
        if value is None:  # a missing value leaves no trace of earlier errors in that field
            changes[:] = [x for x in changes if not x.startswith(f"{field}:")]
        out[field] = value
        changes.append(f"{field}:{kind}")
        return True

    def special_name_error(field: str, kind: str) -> bool:
        if kind == "swapped_names":
            given, family = out["given_name"], out["family_name"]
            if not given or given == family:
                return False
            # Errors already made travel with the value into the other field.
            other = {"given_name": "family_name", "family_name": "given_name"}
            changes[:] = [
                f"{other[x.split(':')[0]]}:{x.split(':')[1]}" if x.split(":")[0] in other else x for x in changes
            ]
            set_field("given_name", kind, family)
            return set_field("family_name", kind, given)
        if kind == "missing":
            return set_field(field, kind, None)
        if kind == "previous_name":
            previous = [n for n in record["previous_family_names"] or [] if n != out[field]]
            return bool(previous) and set_field(field, kind, rnd.choice(previous))
        if kind == "middle_as_first":
            middles = (out["other_given_names"] or "").split()
            if not middles or middles[0] == out[field]:
                return False
            rest = " ".join(middles[1:] + ([out[field]] if rnd.random() < 0.5 else [])) or None
            set_field(field, kind, middles[0])
            set_field("other_given_names", kind, rest)
            return True
        return False

    def name_error(field: str, kinds: dict[str, float]) -> None:
        value = out[field]
        if not value:
            return
        for kind in _weighted_order(kinds, rnd):
            corruptor = _NAME_CORRUPTORS.get(kind)
            if corruptor is None:
                if special_name_error(field, kind):
                    return
                continue
            changed = corruptor(value, rnd)
            if changed is not None and set_field(field, kind, changed):
                return

    def first_applicable(field: str, kinds: dict[str, float], corruptors: dict[str, c.Corruptor]) -> None:
        for kind in _weighted_order(kinds, rnd):
            changed = corruptors[kind](out[field], rnd)
            if changed is not None and set_field(field, kind, changed):
                return

    if rnd.random() < profile.family_name:
        name_error("family_name", profile.family_name_kinds)
    if rnd.random() < profile.given_name:
        name_error("given_name", profile.given_name_kinds)
    middles = out["other_given_names"]
    if middles and rnd.random() < profile.other_given_missing:
        set_field("other_given_names", "missing", None)
    elif rnd.random() < profile.other_given_extra:
        extra = extra_middle(rnd, dob.year, record["sex"] == "male")
        if extra != out["given_name"] and extra not in (middles or "").split():
            set_field("other_given_names", "extra", f"{middles} {extra}" if middles else extra)

    if rnd.random() < profile.date_of_birth:
        first_applicable("date_of_birth", profile.date_of_birth_kinds, _DATE_CORRUPTORS)

    history = record["previous_addresses"] or []
    if history and rnd.random() < profile.postcode_stale:
        earlier = history[0] if rnd.random() < 0.7 else rnd.choice(history)
        set_field("postcode", "stale", earlier["postcode"])
        set_field("address_line_1", "stale", earlier["address_line_1"])
        set_field("town", "stale", earlier.get("town"))
    elif rnd.random() < profile.postcode_missing:
        set_field("postcode", "missing", None)
    if out["postcode"] and rnd.random() < profile.postcode_error:
        first_applicable("postcode", POSTCODE_ERROR_KINDS, _POSTCODE_CORRUPTORS)
    if out["address_line_1"] and rnd.random() < profile.address_missing:
        set_field("address_line_1", "missing", None)
    elif out["address_line_1"] and rnd.random() < profile.address_error:
        first_applicable("address_line_1", ADDRESS_ERROR_KINDS, _ADDRESS_CORRUPTORS)

    if out["postcode"] is None and out["address_line_1"] is None:
        set_field("town", "missing", None)  # a caseworker with no address has no town for it either
    if out["sex"] and rnd.random() < profile.sex_missing:
        set_field("sex", "missing", None)
    elif out["sex"] and rnd.random() < profile.sex_wrong:
        set_field("sex", "wrong", "female" if out["sex"] == "male" else "male")
    if out["nhs_number"] and rnd.random() < profile.nhs_number_typo:
        i = rnd.randrange(10)
        digit = rnd.choice([d for d in "0123456789" if d != out["nhs_number"][i]])
        set_field("nhs_number", "typo", out["nhs_number"][:i] + digit + out["nhs_number"][i + 1 :])
    # Only errors whose effect survives (a swap undone by a second swap is no error).
    effective = [x for x in changes if out[x.split(":")[0]] != original[x.split(":")[0]]]
    return out, list(dict.fromkeys(effective))


def summarise_truth(truth: pa.Table) -> dict[str, float]:
    """Share of requests changed per field, for the summary and for calibration tests."""
    n = max(truth.num_rows, 1)
    flat = pc.list_flatten(truth.column("corruptions")).to_pylist()
    per_request_fields = [{x.split(":")[0] for x in row} for row in truth.column("corruptions").to_pylist()]
    fields = sorted({x.split(":")[0] for x in flat})
    return {f: sum(f in s for s in per_request_fields) / n for f in fields}
