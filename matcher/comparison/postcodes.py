"""Postcodes: the request's postcode against the record's current and previous ones, at unit down to area, and a
postcode that is not a UK one as the text it is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.comparison.levels import Agreement, Level, PairsOfSides
from matcher.protection.tokens import MISSING
from matcher.records.entities import Entities
from matcher.records.ragged import Ragged


@dataclass(frozen=True)
class PostcodeColumn:
    """A postcode: a position in the entities' table of postcodes; a record's previous postcodes count too."""

    name: str
    attribute: str
    history: str  # the Entities field holding each record's previous postcodes (Ragged)

    def pairs(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> PostcodePairs:
        return PostcodePairs(self, requests, records, req, rec)


class PostcodePairs(PairsOfSides):
    def __init__(self, column: PostcodeColumn, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray):
        super().__init__(requests, records, req, rec)
        self.left = getattr(requests, column.attribute)[req]
        self.right = getattr(records, column.attribute)[rec]
        self.history: Ragged = getattr(records, column.history)
        has_history = self.history.offsets[rec + 1] > self.history.offsets[rec]
        # A postcode that is not a UK one is compared only with another such: against a UK postcode it says nothing
        # either way (NFA, N/A and a foreign code typed in would otherwise conflict with everyone).
        as_text = requests.postcodes.text[self.left] != MISSING
        self.present = (self.left >= 0) & ((self.right >= 0) | has_history)
        self.present &= as_text == (records.postcodes.text[self.right] != MISSING)
        self._parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._previous = self.history.explode(rec)  # (pair, postcode position) of every previous postcode

    @property
    def equal(self) -> np.ndarray:
        return self.agreement("unit")[0]

    def agreement(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        """(agrees with the record's current postcode, agrees with one of its previous ones) at ``part``: unit,
        sector, district, area, or text (both are the same postcode that is not a UK one)."""
        found = self._parts.get(part)
        if found is None:
            owner, previous = self._previous
            mine, table = getattr(self.requests.postcodes, part)[self.left], getattr(self.records.postcodes, part)
            before = np.zeros(len(self.left), dtype=bool)
            before[owner[table[previous] == mine[owner]]] = True
            known = mine != MISSING
            found = self._parts[part] = ((mine == table[self.right]) & known, before & known)
        return found


@dataclass(frozen=True)
class PostcodeLevel(Level):
    """The request's postcode agrees with the record's to ``part`` (unit, sector, district or area; ``text``: the
    same postcode that is not a UK one, compared whole): with its current postcode, with a previous one, or with
    either."""

    part: str
    current: bool = True
    previous: bool = True
    agreement: Agreement = Agreement.WEAK

    def __post_init__(self) -> None:
        if self.part not in ("unit", "sector", "district", "area", "text") or not (self.current or self.previous):
            raise ValueError("a postcode level is at unit, sector, district, area or text, of some postcode")

    @property
    def label(self) -> str:
        return self.part if self.current else f"previous_{self.part}"

    def holds(self, pairs: PostcodePairs) -> np.ndarray:
        now, before = pairs.agreement(self.part)
        if self.current and self.previous:
            return now | before
        return now if self.current else before
