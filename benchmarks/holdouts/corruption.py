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
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from matcher.contract.schema import REQUEST_SCHEMA

KEYBOARD = {
    row[i]: row[max(i - 1, 0)] + row[min(i + 1, len(row) - 1)]
    for row in ("QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")
    for i in range(len(row))
}
"""Each letter's left and right neighbour on a QWERTY keyboard (GeCo's keyboard error, row-wise)."""
OCR = (
    ("O", "0"),
    ("I", "1"),
    ("L", "1"),
    ("S", "5"),
    ("B", "8"),
    ("G", "6"),
    ("Z", "2"),
    ("RN", "M"),
    ("CL", "D"),
    ("VV", "W"),
    ("E", "F"),
    ("H", "N"),
)
PHONETIC = (
    ("PH", "F"),
    ("CK", "K"),
    ("Y", "I"),
    ("IE", "Y"),
    ("EE", "EA"),
    ("C", "K"),
    ("Z", "S"),
    ("AI", "AY"),
    ("OU", "OW"),
    ("EI", "IE"),
    ("TH", "T"),
    ("KN", "N"),
    ("WR", "R"),
    ("GH", "G"),
    ("SCH", "SH"),
    ("LL", "L"),
    ("NN", "N"),
    ("TT", "T"),
    ("SS", "S"),
    ("MM", "M"),
    ("RR", "R"),
    ("EY", "Y"),
)
STREET_ABBREVIATIONS = {
    "ROAD": "RD",
    "STREET": "ST",
    "AVENUE": "AVE",
    "LANE": "LN",
    "DRIVE": "DR",
    "CLOSE": "CL",
    "CRESCENT": "CRES",
    "COURT": "CT",
    "PLACE": "PL",
    "GARDENS": "GDNS",
    "TERRACE": "TCE",
    "GROVE": "GR",
    "SQUARE": "SQ",
}

Person = dict
Corruption = Callable[[dict, Person, np.random.Generator], bool]  # changes the request; False: does not apply


def _letters(value: str | None) -> bool:
    return bool(value) and len(value) >= 3


def keyboard_typo(text: str, rng: np.random.Generator) -> str:
    positions = [i for i, c in enumerate(text) if c.upper() in KEYBOARD]
    i = int(rng.choice(positions))
    neighbours = KEYBOARD[text[i].upper()].replace(text[i].upper(), "") or text[i]
    return text[:i] + str(rng.choice(list(neighbours))) + text[i + 1 :]


def ocr_error(text: str, rng: np.random.Generator) -> str | None:
    upper = text.upper()
    options = [(a, b) for a, b in OCR if a in upper] + [(b, a) for a, b in OCR if b in upper]
    if not options:
        return None
    a, b = options[int(rng.integers(len(options)))]
    i = upper.index(a)
    return upper[:i] + b + upper[i + len(a) :]


def phonetic_respelling(text: str, rng: np.random.Generator) -> str | None:
    upper = text.upper()
    options = [(a, b) for a, b in PHONETIC if a in upper[1:]]
    if not options:
        return None
    a, b = options[int(rng.integers(len(options)))]
    i = upper.index(a, 1)
    return upper[:i] + b + upper[i + len(a) :]


def edit(text: str, rng: np.random.Generator) -> str:
    """One inserted, deleted or transposed character, not the first (GeCo's edit errors)."""
    i = int(rng.integers(1, len(text)))
    kind = rng.integers(3)
    if kind == 0:
        return text[:i] + chr(ord("A") + int(rng.integers(26))) + text[i:]
    if kind == 1 or i == len(text) - 1:
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _name_error(field: str, how: Callable[[str, np.random.Generator], str | None]) -> Corruption:
    def corrupt(request: dict, person: Person, rng: np.random.Generator) -> bool:
        if not _letters(request[field]):
            return False
        changed = how(request[field], rng)
        if not changed or changed.upper() == request[field].upper():
            return False
        request[field] = changed
        return True

    return corrupt


def _given_missing(request: dict, person: Person, rng: np.random.Generator) -> bool:
    if not request["given_name"]:
        return False
    request["given_name"] = None
    return True


def _given_initial(request: dict, person: Person, rng: np.random.Generator) -> bool:
    if not _letters(request["given_name"]):
        return False
    request["given_name"] = request["given_name"][0]
    return True


def _middle_as_first(request: dict, person: Person, rng: np.random.Generator) -> bool:
    middles = (person.get("other_given_names") or "").split()
    if not middles or not request["given_name"]:
        return False
    request["given_name"], request["other_given_names"] = middles[0], None
    return True


def _names_swapped(request: dict, person: Person, rng: np.random.Generator) -> bool:
    if not request["given_name"] or request["given_name"] == request["family_name"]:
        return False
    request["given_name"], request["family_name"] = request["family_name"], request["given_name"]
    return True


def _family_part(request: dict, person: Person, rng: np.random.Generator) -> bool:
    parts = [p for p in (request["family_name"] or "").replace(" ", "-").split("-") if p]
    if len(parts) < 2:
        return False
    request["family_name"] = parts[int(rng.integers(len(parts)))]
    return True


def _family_former(request: dict, person: Person, rng: np.random.Generator) -> bool:
    former = person.get("previous_family_names") or []
    if not former:
        return False
    request["family_name"] = former[-1]
    return True


def _date(request: dict) -> tuple[int, int, int]:
    year, month, day = request["date_of_birth"].split("-")
    return int(year), int(month), int(day)


def _set_date(request: dict, year: int, month: int, day: int) -> None:
    request["date_of_birth"] = f"{year:04d}-{month:02d}-{day:02d}"


def _day_month_swapped(request: dict, person: Person, rng: np.random.Generator) -> bool:
    year, month, day = _date(request)
    if day > 12 or day == month:
        return False
    _set_date(request, year, day, month)
    return True


def _year_transposed(request: dict, person: Person, rng: np.random.Generator) -> bool:
    year, month, day = _date(request)
    digits = f"{year:04d}"
    if digits[2] == digits[3]:
        return False
    _set_date(request, int(digits[:2] + digits[3] + digits[2]), month, day)
    return True


def _impossible(request: dict, person: Person, rng: np.random.Generator) -> bool:
    """A day the month does not have, as a form that takes any two digits lets through (30 February, 31 April),
    or the month and day both typed as the day (month 13 or more)."""
    year, month, day = _date(request)
    if rng.random() < 0.5 and day > 12:
        _set_date(request, year, day, month)  # swapped, but the day cannot be a month
        return True
    short = {2: (30, 31), 4: (31,), 6: (31,), 9: (31,), 11: (31,)}
    month = int(rng.choice(list(short))) if month not in short else month
    _set_date(request, year, month, int(rng.choice(short[month])))
    return True


def _day_off(request: dict, person: Person, rng: np.random.Generator) -> bool:
    year, month, day = _date(request)
    moved = dt.date(year, month, day) + dt.timedelta(days=int(rng.choice([-2, -1, 1, 2])))
    if moved.year != year:
        return False
    _set_date(request, moved.year, moved.month, moved.day)
    return True


def _month_off(request: dict, person: Person, rng: np.random.Generator) -> bool:
    year, month, day = _date(request)
    month2 = month + int(rng.choice([-1, 1]))
    if not 1 <= month2 <= 12 or day > 28:
        return False
    _set_date(request, year, month2, day)
    return True


def _year_off(request: dict, person: Person, rng: np.random.Generator) -> bool:
    year, month, day = _date(request)
    if month == 2 and day == 29:
        return False
    _set_date(request, year + int(rng.choice([-1, 1])), month, day)
    return True


def _digit_typo(request: dict, person: Person, rng: np.random.Generator) -> bool:
    """One digit of the eight hit as its keypad neighbour (GeCo's keyboard error on numbers)."""
    digits = request["date_of_birth"].replace("-", "")
    i = int(rng.integers(2, 8))  # the century is seldom mistyped
    new = str((int(digits[i]) + int(rng.choice([-1, 1]))) % 10)
    digits = digits[:i] + new + digits[i + 1 :]
    request["date_of_birth"] = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return True


def _year_only(request: dict, person: Person, rng: np.random.Generator) -> bool:
    year, month, day = _date(request)
    if (month, day) == (1, 1):
        return False
    _set_date(request, year, 1, 1)
    return True


def _sex_wrong(request: dict, person: Person, rng: np.random.Generator) -> bool:
    flipped = {"male": "female", "female": "male"}.get(request["sex"] or "")
    if not flipped:
        return False
    request["sex"] = flipped
    return True


def _sex_missing(request: dict, person: Person, rng: np.random.Generator) -> bool:
    if not request["sex"]:
        return False
    request["sex"] = None
    return True


def _postcode_missing(request: dict, person: Person, rng: np.random.Generator) -> bool:
    if not request["postcode"]:
        return False
    request["postcode"] = None
    return True


def _postcode_typo(request: dict, person: Person, rng: np.random.Generator) -> bool:
    code = request["postcode"]
    if not code:
        return False
    positions = [i for i, c in enumerate(code) if c != " "]
    i = int(rng.choice(positions[1:]))
    c = code[i]
    new = str((int(c) + int(rng.choice([-1, 1]))) % 10) if c.isdigit() else str(rng.choice(list(KEYBOARD.get(c, "AB"))))
    if new == c:
        return False
    request["postcode"] = code[:i] + new + code[i + 1 :]
    return True


def _postcode_transposed(request: dict, person: Person, rng: np.random.Generator) -> bool:
    code = request["postcode"]
    if not code or " " not in code:
        return False
    inward = code.split(" ")[1]
    if inward[1] == inward[2]:
        return False
    request["postcode"] = f"{code.split(' ')[0]} {inward[0]}{inward[2]}{inward[1]}"
    return True


def _postcode_outward(request: dict, person: Person, rng: np.random.Generator) -> bool:
    code = request["postcode"]
    if not code or " " not in code:
        return False
    request["postcode"] = code.split(" ")[0]
    return True


def _previous_address(request: dict, person: Person, rng: np.random.Generator) -> bool:
    """The address the requester knew: one the person has since moved from."""
    previous = person.get("previous_addresses") or []
    if not previous:
        return False
    address = previous[int(rng.integers(len(previous)))]
    request["postcode"], request["address_line_1"] = address["postcode"], address["address_line_1"]
    request["town"] = address["town"]
    return True


def _address_missing(request: dict, person: Person, rng: np.random.Generator) -> bool:
    if not request["address_line_1"]:
        return False
    request["address_line_1"] = None
    return True


def _address_abbreviated(request: dict, person: Person, rng: np.random.Generator) -> bool:
    words = (request["address_line_1"] or "").split()
    hits = [i for i, w in enumerate(words) if w.upper() in STREET_ABBREVIATIONS]
    if not hits:
        return False
    i = hits[-1]
    words[i] = STREET_ABBREVIATIONS[words[i].upper()]
    request["address_line_1"] = " ".join(words)
    return True


def _address_flat(request: dict, person: Person, rng: np.random.Generator) -> bool:
    if not request["address_line_1"]:
        return False
    request["address_line_1"] = f"FLAT {int(rng.integers(1, 12))}, {request['address_line_1']}"
    return True


def _address_number_typo(request: dict, person: Person, rng: np.random.Generator) -> bool:
    words = (request["address_line_1"] or "").split()
    if not words or not words[0].isdigit():
        return False
    number = int(words[0]) + int(rng.choice([-2, -1, 1, 2]))
    if number <= 0:
        return False
    request["address_line_1"] = " ".join([str(number), *words[1:]])
    return True


def _street_typo(request: dict, person: Person, rng: np.random.Generator) -> bool:
    words = (request["address_line_1"] or "").split()
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long:
        return False
    i = long[0]
    words[i] = keyboard_typo(words[i], rng)
    request["address_line_1"] = " ".join(words)
    return True


KINDS: dict[str, Corruption] = {
    "none": lambda request, person, rng: True,
    "given:keyboard": _name_error("given_name", keyboard_typo),
    "given:ocr": _name_error("given_name", ocr_error),
    "given:phonetic": _name_error("given_name", phonetic_respelling),
    "given:edit": _name_error("given_name", edit),
    "given:missing": _given_missing,
    "given:initial": _given_initial,
    "given:middle_as_first": _middle_as_first,
    "names:swapped": _names_swapped,
    "family:keyboard": _name_error("family_name", keyboard_typo),
    "family:ocr": _name_error("family_name", ocr_error),
    "family:phonetic": _name_error("family_name", phonetic_respelling),
    "family:edit": _name_error("family_name", edit),
    "family:compound_part": _family_part,
    "family:former": _family_former,
    "dob:day_month_swapped": _day_month_swapped,
    "dob:year_transposed": _year_transposed,
    "dob:impossible": _impossible,
    "dob:day_off": _day_off,
    "dob:month_off": _month_off,
    "dob:year_off": _year_off,
    "dob:digit_typo": _digit_typo,
    "dob:year_only": _year_only,
    "sex:wrong": _sex_wrong,
    "sex:missing": _sex_missing,
    "postcode:missing": _postcode_missing,
    "postcode:typo": _postcode_typo,
    "postcode:transposed": _postcode_transposed,
    "postcode:outward_only": _postcode_outward,
    "address:previous": _previous_address,
    "address:missing": _address_missing,
    "address:abbreviated": _address_abbreviated,
    "address:flat": _address_flat,
    "address:number_typo": _address_number_typo,
    "address:street_typo": _street_typo,
}
"""Every kind of error a request may carry, by name."""
LIGHT = ("family:keyboard", "given:edit", "postcode:missing", "address:missing", "address:abbreviated", "sex:missing")
"""Second errors, added to a share of requests on top of their kind."""


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
