"""Single values compared for equality only: codes (sex) and keyed tokens (the NHS number)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.protection.tokens import MISSING
from matcher.records.entities import Entities


@dataclass(frozen=True)
class CodeColumn:
    """A small code per person (sex: 1 male, 2 female), 0 when unknown."""

    name: str
    attribute: str

    def pairs(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> ValuePairs:
        left, right = getattr(requests, self.attribute)[req], getattr(records, self.attribute)[rec]
        return ValuePairs(left, right, (left > 0) & (right > 0))


@dataclass(frozen=True)
class TokenColumn:
    """A keyed token per person (the NHS number), MISSING when absent."""

    name: str
    attribute: str

    def pairs(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> ValuePairs:
        left, right = getattr(requests, self.attribute)[req], getattr(records, self.attribute)[rec]
        return ValuePairs(left, right, (left != MISSING) & (right != MISSING))


@dataclass
class ValuePairs:
    left: np.ndarray
    right: np.ndarray
    present: np.ndarray

    @property
    def equal(self) -> np.ndarray:
        return self.left == self.right
