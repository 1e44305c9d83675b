"""Multi-pass blocking: which records are worth scoring for a request.

Each ``BlockingRule`` is a tuple of components (a Soundex family name, a date of birth, a postcode unit...). Every
record contributes one key per combination of its current AND historic values (previous family names, parts of a
compound name, previous postcodes); a request contributes keys for the variants a caseworker's error may have
produced (given and family name swapped, day and month swapped). Keys are 64-bit tokens kept in a sorted array
with the record number beside each: an inverted index answered by binary search, never a scan.

The default rules follow the MPS algorithmic trace (Soundex family name with date of birth; date of birth with
postcode, which contains its family/given + sex + DOB + postcode keys), add a given-name key for a changed family
name, and keys that survive a wrong date of birth (names with year of birth, names with postcode district, the two
names alone, family name with day and month, either name in the postcode).

Four more rules are kept for the service, not for scoring (``probe_only``): each date-of-birth rule with the year
of birth in its place, and the family name in the postcode district (a date with a digit wrong, the year's too,
matches if the postcode agrees). With them a request is looked up among the records it would have been matched to
had its date of birth been theirs (``Tracer.could_be``): a search for someone's date of birth, one date after
another, is then counted on that person's record from the first wrong date, whatever spelling each date comes with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from matcher.protection.tokens import MISSING
from matcher.records.entities import Entities


@dataclass(frozen=True)
class BlockingRule:
    name: str
    components: tuple[str, ...]
    # Blocks larger than this are skipped (None: the tracer's max_block_size). Keys without a date of birth are
    # only worth following for rare values.
    max_block_size: int | None = None
    # Looked up only by ``Tracer.could_be``: the core never scores the records these keys find.
    probe_only: bool = False


DEFAULT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("family_soundex+dob", ("family_soundex", "date_of_birth")),
    BlockingRule("given_soundex+dob", ("given_soundex", "date_of_birth")),
    BlockingRule("dob+postcode", ("date_of_birth", "postcode")),
    BlockingRule("family_metaphone+given_soundex+year", ("family_metaphone", "given_soundex", "year_of_birth")),
    BlockingRule("family+given_initial+district", ("family", "given_initial", "postcode_district")),
    BlockingRule("family+given", ("family", "given"), max_block_size=20),
    BlockingRule("family+birthday", ("family", "birthday"), max_block_size=20),
    # A wrong date of birth with a mistyped name leaves the other name where the person lives.
    BlockingRule("given+postcode", ("given", "postcode")),
    BlockingRule("family+postcode", ("family", "postcode")),
    BlockingRule("nhs_number", ("nhs_number",)),
    BlockingRule("family_soundex+year", ("family_soundex", "year_of_birth"), probe_only=True),
    BlockingRule("given_soundex+year", ("given_soundex", "year_of_birth"), probe_only=True),
    BlockingRule("postcode+year", ("postcode", "year_of_birth"), probe_only=True),
    # A date short of exact (a digit wrong, in the year too) still matches when the postcode agrees, so a request
    # with a postcode is also looked up where it points, with no date at all.
    BlockingRule("family_soundex+district", ("family_soundex", "postcode_district"), probe_only=True),
)

Values = tuple[np.ndarray, np.ndarray]  # (row, token) pairs: a multi-valued column


def _single(tokens: np.ndarray) -> Values:
    rows = np.flatnonzero(tokens != MISSING)
    return rows, tokens[rows]


def _family_names(entities: Entities, as_request: bool) -> Values:
    """(row, name position) for the family name and, on the index side, previous family names; on the request
    side, the given name too (the two swapped). A compound name also blocks under each of its parts (SMITH-JONES
    under SMITH and under JONES)."""
    rows = [np.arange(len(entities))]
    names = [entities.family]
    if as_request:
        rows.append(np.arange(len(entities)))
        names.append(entities.given)
    else:
        owner, previous = entities.previous_family.explode()
        rows.append(owner)
        names.append(previous)
    row = np.concatenate(rows)
    name = np.concatenate(names)
    keep = name >= 0
    row, name = row[keep], name[keep]
    owner, parts = entities.names.parts.explode(name)
    return np.concatenate([row, row[owner]]), np.concatenate([name, parts])


def _given_names(entities: Entities, as_request: bool) -> Values:
    """(row, name position) for the given name; on the request side, the family name too (the two swapped)."""
    rows = [np.arange(len(entities))]
    positions = [entities.given]
    if as_request:
        rows.append(np.arange(len(entities)))
        positions.append(entities.family)
    row, position = np.concatenate(rows), np.concatenate(positions)
    keep = position >= 0
    return row[keep], position[keep]


def _dates(entities: Entities, as_request: bool) -> Values:
    """(row, YYYYMMDD); on the request side also day and month swapped, where that still reads as a date."""
    dob = entities.date_of_birth.astype(np.uint64)
    row, tokens = _single(dob)
    if as_request:
        month = (entities.date_of_birth // 100) % 100
        day = entities.date_of_birth % 100
        swap = (day >= 1) & (day <= 12) & (day != month) & (entities.date_of_birth > 0)
        swapped = (entities.date_of_birth - month * 100 - day + day * 100 + month).astype(np.uint64)
        row = np.concatenate([row, np.flatnonzero(swap)])
        tokens = np.concatenate([tokens, swapped[swap]])
    return row, tokens


def _postcodes(entities: Entities, as_request: bool) -> Values:
    """(row, postcode position): the current postcode and, on the index side, previous ones."""
    rows = [np.arange(len(entities))]
    positions = [entities.postcode]
    if not as_request:
        owner, previous = entities.previous_postcodes.explode()
        rows.append(owner)
        positions.append(previous)
    row, position = np.concatenate(rows), np.concatenate(positions)
    keep = position >= 0
    return row[keep], position[keep]


SOURCES: dict[str, Callable[[Entities, bool], Values]] = {
    "family_name": _family_names,
    "given_name": _given_names,
    "date_of_birth": _dates,
    "postcode": _postcodes,
    "nhs_number": lambda e, as_request: _single(e.nhs_number),
}


@dataclass(frozen=True)
class Component:
    """A blocking key component: a feature of the values a source yields. Components of one source share its
    values (family name, its Soundex and its Metaphone all start from the same family names)."""

    source: str
    feature: Callable[[Entities, np.ndarray], np.ndarray]


COMPONENTS: dict[str, Component] = {
    "family": Component("family_name", lambda e, name: e.names.token[name]),
    "family_soundex": Component("family_name", lambda e, name: e.names.soundex[name]),
    "family_metaphone": Component("family_name", lambda e, name: e.names.metaphone[name]),
    "given": Component("given_name", lambda e, name: e.names.token[name]),
    "given_soundex": Component("given_name", lambda e, name: e.names.soundex[name]),
    "given_initial": Component("given_name", lambda e, name: e.names.initial[name]),
    "date_of_birth": Component("date_of_birth", lambda e, date: date),
    "year_of_birth": Component("date_of_birth", lambda e, date: date // np.uint64(10_000)),
    # Month and day without the year (survives a wrong year); the offset keeps it apart from a full date.
    "birthday": Component("date_of_birth", lambda e, date: date % np.uint64(10_000) + np.uint64(1 << 40)),
    # A postcode that is not a UK one blocks as its text (it has no unit): FEBRL's 4-digit codes, a foreign one.
    "postcode": Component(
        "postcode",
        lambda e, code: np.where(e.postcodes.text[code] != MISSING, e.postcodes.text[code], e.postcodes.unit[code]),
    ),
    "postcode_district": Component("postcode", lambda e, code: e.postcodes.district[code]),
    "nhs_number": Component("nhs_number", lambda e, token: token),
}


def component_values(entities: Entities, names: Iterable[str], as_request: bool) -> dict[str, Values]:
    """(row, token) per named component, each source computed once."""
    sources: dict[str, Values] = {}
    out: dict[str, Values] = {}
    for name in names:
        component = COMPONENTS[name]
        if component.source not in sources:
            sources[component.source] = SOURCES[component.source](entities, as_request)
        row, values = sources[component.source]
        tokens = component.feature(entities, values)
        keep = tokens != MISSING
        out[name] = row[keep], tokens[keep]
    return out
