"""The kinds of error of the second corruption model (``corruption.py``), one function per kind, by name in KINDS.

Each changes a request about a person in place and says whether it applied (a day above 12 cannot be swapped with
the month; a person without a middle name cannot be called by it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

from benchmarks.holdouts.typos import KEYBOARD, edit, keyboard_typo, ocr_error, phonetic_respelling

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
