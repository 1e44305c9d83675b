"""Comparison levels: each a predicate over a batch of pairs and the label that names it, from one set of parameters.

In the manner of Splink's comparison level library (``JaroWinklerLevel(0.92)`` holds where the similarity reaches
0.92 and is labelled ``jaro_winkler>=0.92``), the label is what a trained model, a chart and a decision requirement
know the level by, so it is never written apart from the threshold it describes. Each level also says how strongly
it agrees (``Agreement``): decision requirements ask for "a first name that agrees exactly or closely", whichever
levels the comparison in use has for that (spelling in plaintext mode, Bloom-filter bands in encoded mode).

A level's ``holds`` may be true for pairs an earlier level of its comparison already took, or for pairs where a
side lacks the value: the comparison keeps the first level that holds, and NULL where the column is not present.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, Protocol

import numpy as np

from matcher.records.entities import Entities

COUNTS = ("no", "one", "two", "three", "four", "five")
"""Numbers as level labels spell them ("one_digit_wrong")."""


class ColumnPairs(Protocol):
    present: np.ndarray  # per pair: both sides have a value (otherwise the comparison's level is NULL)

    @property
    def equal(self) -> np.ndarray: ...


class Agreement(Enum):
    """How strongly a level says the two values are the same."""

    EXACT = "exact"  # the same value
    CLOSE = "close"  # the same value, mistyped or in another form it is known by (a nickname, a previous name)
    WEAK = "weak"  # alike, but as likely another person's value (a sibling's name, a date a few digits off)
    NONE = "none"  # different


class Level:
    """One agreement level of a comparison. Subclasses give ``label`` and ``holds``; ``agreement`` and
    ``term_frequency`` have defaults a subclass or an instance may change."""

    label: str  # what models, explanations, charts and requirements call it: a constant, or made from parameters
    agreement: Agreement = Agreement.WEAK
    # Agreement on this level is weighed by how common the agreed value is (SMITH says less than ZIELINSKI).
    term_frequency: bool = False

    def holds(self, pairs: ColumnPairs) -> np.ndarray:
        """Per pair: does this level's predicate hold?"""
        raise NotImplementedError


@dataclass(frozen=True)
class SimilarityLevel(Level):
    """A similarity of the two values reaches ``threshold``: the pairs' ``measure`` (an attribute of theirs, in 0-1)
    names the level with the threshold, as ``jaro_winkler>=0.92``."""

    threshold: float
    agreement: Agreement = Agreement.WEAK
    measure: ClassVar[str]

    @property
    def label(self) -> str:
        return f"{self.measure}>={self.threshold:.2f}"

    def holds(self, pairs: ColumnPairs) -> np.ndarray:
        return getattr(pairs, self.measure) >= self.threshold


@dataclass(frozen=True)
class ExactLevel(Level):
    term_frequency: bool = False
    agreement: Agreement = Agreement.EXACT

    label = "exact"

    def holds(self, pairs: ColumnPairs) -> np.ndarray:
        return pairs.equal


@dataclass(frozen=True)
class ElseLevel(Level):
    """Every comparison's last level: present on both sides, and no other level holds."""

    agreement: Agreement = Agreement.NONE

    label = "else"

    def holds(self, pairs: ColumnPairs) -> np.ndarray:
        return np.ones(len(pairs.present), dtype=bool)


class PairsOfSides:
    """Pairs that keep both sides and the pairs' rows on each, for measures that read more than one column.

    Pairs compute each measure once however many levels read it, up front when every level of their kind needs
    it, on first use otherwise."""

    def __init__(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> None:
        self.requests, self.records, self.req, self.rec = requests, records, req, rec


def sorted_contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[at] == values
