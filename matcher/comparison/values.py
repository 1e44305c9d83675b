"""Single values compared for equality only: codes (sex) and keyed tokens (the NHS number)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.records.entities import Entities


@dataclass(frozen=True)
class ValueColumn:
    """One value per person, 0 when missing: a small code (sex: 1 male, 2 female) or a keyed token (MISSING is 0)."""

    name: str
    attribute: str

    def pairs(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> ValuePairs:
        left, right = getattr(requests, self.attribute)[req], getattr(records, self.attribute)[rec]
        return ValuePairs(left, right, (left != 0) & (right != 0))


@dataclass
class ValuePairs:
    left: np.ndarray
    right: np.ndarray
    present: np.ndarray

    @property
    def equal(self) -> np.ndarray:
        return self.left == self.right
