"""Dates of birth: compared on the eight digits as typed, so an impossible date (1985-02-30) still meets its truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.comparison.levels import COUNTS, Agreement, Level
from matcher.records.entities import Entities

_POWERS = 10 ** np.arange(7, -1, -1, dtype=np.int64)


@dataclass(frozen=True)
class DateColumn:
    """A date as typed: YYYYMMDD digits (an impossible date keeps its digits), 0 when missing."""

    name: str
    attribute: str

    def pairs(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> DatePairs:
        left = getattr(requests, self.attribute)[req].astype(np.int64)
        right = getattr(records, self.attribute)[rec].astype(np.int64)
        return DatePairs(left, right, requests.date_of_birth_valid[req])


class DatePairs:
    """Both sides' dates as YYYYMMDD integers, and whether the request's is a calendar date."""

    def __init__(self, left: np.ndarray, right: np.ndarray, left_valid: np.ndarray | None = None) -> None:
        self.left, self.right = left, right
        self.left_valid = np.ones(len(left), dtype=bool) if left_valid is None else left_valid
        # Every date level reads these: computed once, up front. (year, month, day) and the eight digits, each side.
        self.parts = _parts(left), _parts(right)
        self.digits = (left[:, None] // _POWERS) % 10, (right[:, None] // _POWERS) % 10
        self.differing = self.digits[0] != self.digits[1]  # (pairs x 8): which digits differ
        self.digits_wrong = self.differing.sum(axis=1)
        self.present = (left > 0) & (right > 0)

    @property
    def equal(self) -> np.ndarray:
        return self.left == self.right


@dataclass(frozen=True)
class DayMonthSwappedLevel(Level):
    agreement: Agreement = Agreement.CLOSE

    label = "day_month_swapped"

    def holds(self, pairs: DatePairs) -> np.ndarray:
        (ya, ma, da), (yb, mb, db) = pairs.parts
        return (ya == yb) & (ma == db) & (da == mb) & (ma != da)


@dataclass(frozen=True)
class DigitsTransposedLevel(Level):
    """Two adjacent digits swapped, nothing else different."""

    agreement: Agreement = Agreement.CLOSE

    label = "digits_transposed"

    def holds(self, pairs: DatePairs) -> np.ndarray:
        mine, theirs = pairs.digits
        adjacent = pairs.differing[:, :-1] & pairs.differing[:, 1:]
        crossed = (mine[:, :-1] == theirs[:, 1:]) & (mine[:, 1:] == theirs[:, :-1])
        return (pairs.digits_wrong == 2) & (adjacent & crossed).any(axis=1)


@dataclass(frozen=True)
class DigitsWrongLevel(Level):
    """Exactly ``digits`` of the eight digits differ."""

    digits: int
    agreement: Agreement = Agreement.CLOSE

    @property
    def label(self) -> str:
        return f"{COUNTS[self.digits]}_digit{'s' if self.digits > 1 else ''}_wrong"

    def holds(self, pairs: DatePairs) -> np.ndarray:
        return pairs.digits_wrong == self.digits


@dataclass(frozen=True)
class FirstOfJanuaryLevel(Level):
    """The request says 1 January of the record's year: what forms default to when only the year is known."""

    agreement: Agreement = Agreement.CLOSE

    label = "first_of_january"

    def holds(self, pairs: DatePairs) -> np.ndarray:
        (ya, ma, da), (yb, _, _) = pairs.parts
        return (ya == yb) & (ma == 1) & (da == 1)


@dataclass(frozen=True)
class ImpossibleDateLevel(Level):
    """The request's date is no calendar date (30 February, month 13) and its year is the record's: a slip of the
    keys, where a date that is merely different could be another person's real birthday."""

    label = "impossible_date_same_year"

    def holds(self, pairs: DatePairs) -> np.ndarray:
        (ya, _, _), (yb, _, _) = pairs.parts
        return pairs.present & ~pairs.left_valid & (ya == yb)


@dataclass(frozen=True)
class NextYearLevel(Level):
    """The same day and month a year apart (1989 for 1990): the year mistyped, never a father's or son's."""

    label = "year_off_by_one"

    def holds(self, pairs: DatePairs) -> np.ndarray:
        (ya, ma, da), (yb, mb, db) = pairs.parts
        return (np.abs(ya - yb) == 1) & (ma == mb) & (da == db)


@dataclass(frozen=True)
class SameYearAndMonthOrDayLevel(Level):
    """The year and the month, or the year and the day: a day or month mistyped. Two of the three parts with the
    year different (the same birthday) are a father's and son's as often as a typo's."""

    label = "year_and_month_or_day"

    def holds(self, pairs: DatePairs) -> np.ndarray:
        (ya, ma, da), (yb, mb, db) = pairs.parts
        return (ya == yb) & ((ma == mb) | (da == db))


@dataclass(frozen=True)
class DatePartsLevel(Level):
    """At least ``parts`` of year, month and day agree."""

    parts: int

    @property
    def label(self) -> str:
        return f"{COUNTS[self.parts]}_of_year_month_day"

    def holds(self, pairs: DatePairs) -> np.ndarray:
        (ya, ma, da), (yb, mb, db) = pairs.parts
        return (ya == yb).astype(int) + (ma == mb) + (da == db) >= self.parts


@dataclass(frozen=True)
class SameYearLevel(Level):
    label = "year_only"

    def holds(self, pairs: DatePairs) -> np.ndarray:
        (ya, _, _), (yb, _, _) = pairs.parts
        return ya == yb


def _parts(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return dates // 10_000, (dates // 100) % 100, dates % 100
