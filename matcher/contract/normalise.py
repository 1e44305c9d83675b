"""Normal forms for names, postcodes, dates of birth, sex and NHS numbers.

Both the index builder and the tracer pass every value through these functions, so a value written two ways
(``O'Neill``/``ONEILL``, ``sw1a1aa``/``SW1A 1AA``, ``Zoë``/``ZOE``) meets itself. Malformed values never raise:
they come back as ``None`` (missing) or as the raw text that still carries evidence, and the caller counts them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_NOT_NAME = re.compile(r"[^A-Z\- ]")
_SEPARATORS = re.compile(r"[\s\-]+")
# "MAC" and "MC" are one prefix written two ways (MACDONALD/MCDONALD); only before a name of some length, so that
# MACE or MACK stay themselves.
_MAC = re.compile(r"^MAC(?=[A-Z]{3,})")
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")
_OUTWARD = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")
_DIGITS = re.compile(r"\d+")
_NOT_TEXT = re.compile(r"[^A-Z0-9]+")


def normalise_name(value: str | None) -> str | None:
    """Upper case ASCII letters, one hyphen between the parts of a compound name; None when nothing is left.

    Apostrophes and full stops vanish (O'NEILL -> ONEILL, ST. JOHN -> ST-JOHN), diacritics are dropped
    (ZOË -> ZOE), spaces and hyphens between parts become one hyphen (SMITH JONES -> SMITH-JONES), MAC becomes MC.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii").upper()
    text = text.replace("'", "").replace(".", " ")
    text = _NOT_NAME.sub("", text)
    text = _SEPARATORS.sub("-", text).strip("-")
    if not text:
        return None
    return "-".join(_MAC.sub("MC", part) for part in text.split("-"))


def name_parts(value: str | None) -> list[str]:
    """The parts of a normalised compound name (SMITH-JONES -> [SMITH, JONES]); [] for a simple name."""
    if not value or "-" not in value:
        return []
    return value.split("-")


def normalise_text(value: str | None) -> str | None:
    """Free text (an address line) in one form: upper-case ASCII letters and digits, words separated by one space
    (14, Moor-Lane -> 14 MOOR LANE); None when nothing is left."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii").upper()
    return _NOT_TEXT.sub(" ", text.replace("'", "")).strip() or None


def split_given_names(value: str | None) -> list[str]:
    """Other given names as typed ("Mary Ann  Louise") -> normalised names, in order."""
    if not value:
        return []
    names = (normalise_name(part) for part in str(value).split())
    return [n for n in names if n]


@dataclass(frozen=True)
class Postcode:
    """A postcode in normal form, or the part of one that could be read (an outward code alone)."""

    text: str
    area: str
    district: str
    sector: str | None
    unit: str | None


def parse_postcode(value: str | None) -> Postcode | None:
    """UK postcode normal form ("SW1A 1AA"); an outward code alone keeps its district; anything else is None."""
    if value is None:
        return None
    text = re.sub(r"\s+", "", str(value).upper())
    match = _POSTCODE.match(text)
    if match:
        outward, inward = match.groups()
        unit = f"{outward} {inward}"
        return Postcode(unit, _area(outward), outward, f"{outward} {inward[0]}", unit)
    if _OUTWARD.match(text):
        return Postcode(text, _area(text), text, None, None)
    return None


def postcode_text(value: str | None) -> str | None:
    """A postcode that is not a UK one (FEBRL's 4-digit Australian codes, a typed-in foreign code) as text to
    compare whole: upper-case letters and digits only; None when nothing is left."""
    if value is None:
        return None
    text = re.sub(r"[^A-Z0-9]", "", unicodedata.normalize("NFKD", str(value)).upper())
    return text or None


def _area(outward: str) -> str:
    return outward[:2] if outward[1].isalpha() else outward[:1]


def parse_date_of_birth(value: object) -> tuple[int, bool] | None:
    """A date of birth as typed -> (YYYYMMDD as an integer, whether it is a real calendar date).

    Impossible dates (1985-02-30, month 13) keep their digits: a one-digit slip still says a lot. Anything that
    does not give a four-digit year, a month and a day is None.
    """
    if value is None:
        return None
    if hasattr(value, "year"):
        return value.year * 10_000 + value.month * 100 + value.day, True
    parts = _DIGITS.findall(str(value))
    if len(parts) == 1 and len(parts[0]) == 8:
        parts = [parts[0][:4], parts[0][4:6], parts[0][6:]]
    if len(parts) != 3:
        return None
    if len(parts[0]) != 4 and len(parts[2]) == 4:  # DD/MM/YYYY, as UK forms are often filled in
        parts = parts[::-1]
    year, month, day = (int(p) for p in parts)
    if not (1000 <= year <= 9999 and 0 <= month <= 99 and 0 <= day <= 99):
        return None
    return year * 10_000 + month * 100 + day, is_calendar_date(year, month, day)


def is_calendar_date(year: int, month: int, day: int) -> bool:
    if not 1 <= month <= 12 or day < 1:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    return day <= days


SEX_CODES = {"male": 1, "m": 1, "female": 2, "f": 2}


def normalise_sex(value: str | None) -> int:
    """1 male, 2 female, 0 unknown (missing, "unknown", "other": no evidence either way)."""
    if not value:
        return 0
    return SEX_CODES.get(str(value).strip().lower(), 0)


def normalise_nhs_number(value: str | None) -> str | None:
    """Ten digits with spaces or dashes removed, or None. The check digit is not enforced: a typo still blocks."""
    if value is None:
        return None
    digits = re.sub(r"[\s\-]", "", str(value))
    return digits if len(digits) == 10 and digits.isdigit() else None
