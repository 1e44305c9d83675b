"""How a caseworker's record of a person drifts from the index: one function per kind of error.

Each function takes the true value and a ``random.Random`` and returns the
corrupted value, or ``None`` when that kind of error cannot apply to this value
(a nickname for a name that has none, a day/month swap of the 20th). Kinds are
modelled on FEBRL, GeCo and pseudopeople.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re
from collections.abc import Callable
from functools import cache
from importlib import resources

Corruptor = Callable[[str, random.Random], str | None]

_KEYBOARD_ROWS = ("QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")


@cache
def _keyboard_neighbours() -> dict[str, str]:
    position = {c: (r, i) for r, row in enumerate(_KEYBOARD_ROWS) for i, c in enumerate(row)}
    neighbours: dict[str, str] = {}
    for c, (r, i) in position.items():
        near = [d for d, (r2, i2) in position.items() if d != c and abs(r2 - r) <= 1 and abs(i2 - i) <= 1]
        neighbours[c] = "".join(near)
    return neighbours


def _letter_positions(value: str) -> list[int]:
    return [i for i, c in enumerate(value) if c.isalpha()]


def keyboard_typo(value: str, rnd: random.Random) -> str | None:
    positions = [i for i in _letter_positions(value) if value[i] in _keyboard_neighbours()]
    if not positions:
        return None
    i = rnd.choice(positions)
    return value[:i] + rnd.choice(_keyboard_neighbours()[value[i]]) + value[i + 1 :]


def insert_typo(value: str, rnd: random.Random) -> str | None:
    if not value:
        return None
    i = rnd.randrange(len(value) + 1)
    near = value[min(i, len(value) - 1)]
    letter = rnd.choice(_keyboard_neighbours().get(near, "") + near) if near.isalpha() else "E"
    return value[:i] + letter + value[i:]


def delete_typo(value: str, rnd: random.Random) -> str | None:
    positions = _letter_positions(value)
    if len(positions) < 3:
        return None
    i = rnd.choice(positions)
    return value[:i] + value[i + 1 :]


def transposition_typo(value: str, rnd: random.Random) -> str | None:
    pairs = [i for i in range(len(value) - 1) if value[i] != value[i + 1] and value[i : i + 2].isalpha()]
    if not pairs:
        return None
    i = rnd.choice(pairs)
    return value[:i] + value[i + 1] + value[i] + value[i + 2 :]


# Spelling variants that sound alike; each applies in both directions.
_PHONETIC_PAIRS = (
    ("PH", "F"),
    ("CK", "K"),
    ("EI", "IE"),
    ("EE", "EA"),
    ("OU", "OW"),
    ("AI", "AY"),
    ("SON", "SEN"),
    ("TH", "T"),
    ("Z", "S"),
    ("KS", "X"),
    ("QU", "KW"),
    ("GH", ""),
    ("MAC", "MC"),
    ("Y", "IE"),
    ("C", "K"),
    ("LL", "L"),
    ("NN", "N"),
    ("TT", "T"),
    ("RR", "R"),
    ("SS", "S"),
    ("MM", "M"),
    ("ER", "A"),
    ("OR", "AW"),
    ("IE", "Y"),
    ("CH", "SH"),
    ("W", "WH"),
    ("V", "W"),
)
# Characters an OCR engine confuses in capitals.
_OCR_PAIRS = (
    ("M", "RN"),
    ("D", "CL"),
    ("I", "L"),
    ("I", "1"),
    ("O", "0"),
    ("S", "5"),
    ("B", "8"),
    ("E", "F"),
    ("H", "N"),
    ("U", "V"),
    ("W", "VV"),
    ("G", "6"),
    ("Z", "2"),
    ("Q", "O"),
    ("A", "4"),
)


@cache
def _rules(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple((source, target) for a, b in pairs for source, target in ((a, b), (b, a)) if source)


def _substitute(value: str, pairs: tuple[tuple[str, str], ...], rnd: random.Random) -> str | None:
    options = []
    for source, target in _rules(pairs):
        start = value.find(source)
        while start >= 0:
            options.append((start, source, target))
            start = value.find(source, start + 1)
    rnd.shuffle(options)
    for start, source, target in options:
        changed = value[:start] + target + value[start + len(source) :]
        if changed != value and len(changed.replace(" ", "").replace("-", "")) >= 2:
            return changed
    return None


def phonetic_variant(value: str, rnd: random.Random) -> str | None:
    return _substitute(value, _PHONETIC_PAIRS, rnd)


def ocr_variant(value: str, rnd: random.Random) -> str | None:
    return _substitute(value, _OCR_PAIRS, rnd)


@cache
def nickname_table() -> dict[str, tuple[str, ...]]:
    """Upper-case name -> names it may be written as: its nicknames, or the names a nickname stands for."""
    table: dict[str, set[str]] = {}
    with resources.files("nicknames").joinpath("names.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            full, short = row["name1"].upper(), row["name2"].upper()
            table.setdefault(full, set()).add(short)
            table.setdefault(short, set()).add(full)
    return {name: tuple(sorted(options)) for name, options in table.items()}


def nickname(value: str, rnd: random.Random) -> str | None:
    options = nickname_table().get(value)
    return rnd.choice(options) if options else None


def shorten_compound(value: str, rnd: random.Random) -> str | None:
    """SMITH-JONES written as SMITH, JONES, or SMITH JONES."""
    parts = re.split(r"[- ]", value)
    if len(parts) < 2:
        return None
    options = [*parts, " ".join(parts) if "-" in value else "-".join(parts), "".join(parts)]
    return rnd.choice([o for o in options if o != value])


def title_case(value: str, rnd: random.Random) -> str | None:
    changed = rnd.choice((value.title(), value.lower()))
    return changed if changed != value else None


# Dates of birth, as typed: "YYYY-MM-DD". Digit errors may make an impossible date.
def _parse(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def day_month_swap(value: str, rnd: random.Random) -> str | None:
    d = _parse(value)
    if d.day > 12 or d.day == d.month:
        return None
    return f"{d.year:04d}-{d.day:02d}-{d.month:02d}"


def date_digit_error(value: str, rnd: random.Random) -> str | None:
    positions = [0, 1, 2, 3, 5, 6, 8, 9]
    i = rnd.choice(positions[2:])  # the century is rarely mistyped
    digit = rnd.choice([c for c in "0123456789" if c != value[i]])
    return value[:i] + digit + value[i + 1 :]


def date_digit_transposition(value: str, rnd: random.Random) -> str | None:
    pairs = [(i, i + 1) for i in (2, 5, 8) if value[i] != value[i + 1]]
    if not pairs:
        return None
    i, j = rnd.choice(pairs)
    return value[:i] + value[j] + value[i] + value[j + 1 :]


def year_off_by_one(value: str, rnd: random.Random) -> str | None:
    d = _parse(value)
    year = d.year + rnd.choice((-1, 1))
    return f"{year:04d}{value[4:]}"


def first_of_january(value: str, rnd: random.Random) -> str | None:
    changed = value[:4] + "-01-01"
    return changed if changed != value else None


# Postcodes in normal form "SW1A 1AA".
_POSTCODE_LOOKALIKE = {
    "0": "O",
    "O": "0",
    "1": "I",
    "I": "1",
    "5": "S",
    "S": "5",
    "8": "B",
    "B": "8",
    "M": "N",
    "N": "M",
    "E": "F",
    "F": "E",
    "U": "V",
    "V": "U",
}


def postcode_typo(value: str, rnd: random.Random) -> str | None:
    i = rnd.choice([k for k, c in enumerate(value) if c != " "])
    c = value[i]
    if c in _POSTCODE_LOOKALIKE and rnd.random() < 0.3:
        replacement = _POSTCODE_LOOKALIKE[c]
    elif c.isdigit():
        replacement = rnd.choice([d for d in "0123456789" if d != c])
    else:
        replacement = rnd.choice(_keyboard_neighbours().get(c, "X"))
    return value[:i] + replacement + value[i + 1 :]


def outward_code_only(value: str, rnd: random.Random) -> str | None:
    return value.split(" ")[0] if " " in value else None


def postcode_format(value: str, rnd: random.Random) -> str | None:
    changed = rnd.choice((value.replace(" ", ""), value.lower(), value.replace(" ", "  ")))
    return changed if changed != value else None


_STREET_ABBREVIATIONS = {
    "ROAD": "RD",
    "STREET": "ST",
    "AVENUE": "AVE",
    "DRIVE": "DR",
    "LANE": "LN",
    "CLOSE": "CL",
    "CRESCENT": "CRES",
    "GARDENS": "GDNS",
    "PLACE": "PL",
    "TERRACE": "TCE",
}


def address_abbreviation(value: str, rnd: random.Random) -> str | None:
    words = value.split(" ")
    spots = [i for i, w in enumerate(words) if w in _STREET_ABBREVIATIONS]
    if not spots:
        return None
    i = rnd.choice(spots)
    words[i] = _STREET_ABBREVIATIONS[words[i]]
    return " ".join(words)


TYPOS: dict[str, Corruptor] = {
    "typo_keyboard": keyboard_typo,
    "typo_insert": insert_typo,
    "typo_delete": delete_typo,
    "typo_transpose": transposition_typo,
}
