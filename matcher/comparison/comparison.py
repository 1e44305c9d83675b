"""A comparison: one feature column's ordered agreement levels, strongest first, ending in ``ElseLevel``.

As in Splink's comparison library, a pair takes the first level it satisfies, and NULL (-1, neutral evidence) when
either side lacks the value. Scoring and the decision see only level numbers, never values, so a comparison over
encoded values replaces one over plaintext without any change to them.

A feature column names what a comparison reads of a request and of a record (a given name is a position in the
table of distinct names, a postcode a position in the table of postcodes plus the record's previous ones) and
makes, for a batch of (request, record) pairs, a pairs object: both sides' values, whether both have one
(``present``), and the measures levels ask for, each computed once however many levels read it. Columns, their
pairs and their levels are kept together by kind: ``names``, ``dates``, ``postcodes``, ``values``, ``text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from matcher.comparison.levels import ColumnPairs, ElseLevel, Level
from matcher.records.entities import Entities, FeatureBuilder


class FeatureColumn(Protocol):
    name: str

    def pairs(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> ColumnPairs: ...


NULL = -1
"""The level number of a pair whose column is missing on a side."""
NULL_LABEL = "null"
"""What requirements, explanations and charts call NULL."""


@dataclass(frozen=True)
class Comparison:
    column: FeatureColumn
    levels: tuple[Level, ...]
    # Evidence another comparison already carries: this one reads NULL (none) where comparison ``implied_by[0]``
    # is at one of the levels ``implied_by[1]``. A town agrees whenever the postcode does; counted again there, it
    # would be the same evidence twice (Fellegi-Sunter assumes the fields independent).
    implied_by: tuple[str, tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        if not self.levels or not isinstance(self.levels[-1], ElseLevel):
            raise ValueError(f"comparison {self.name!r}: the last level must be ElseLevel")
        labels = self.labels
        if len(set(labels)) != len(labels) or NULL_LABEL in labels:
            raise ValueError(f"comparison {self.name!r}: level labels must be distinct and not {NULL_LABEL!r}")

    @property
    def name(self) -> str:
        return self.column.name

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(level.label for level in self.levels)

    def compare(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> np.ndarray:
        """Level number per pair (int8), NULL where either side lacks the value."""
        pairs = self.column.pairs(requests, records, req, rec)
        holds = [level.holds(pairs) for level in self.levels[:-1]]  # the last, ElseLevel, holds for every pair
        satisfied = np.array([*holds, np.ones(len(req), dtype=bool)], dtype=bool).reshape(len(self.levels), len(req))
        return np.where(pairs.present, satisfied.argmax(axis=0), NULL).astype(np.int8)


def comparison_vectors(
    comparisons: Sequence[Comparison], requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray
) -> np.ndarray:
    """(pairs x comparisons) int8 matrix of levels."""
    out = np.empty((len(req), len(comparisons)), dtype=np.int8)
    for j, comparison in enumerate(comparisons):
        out[:, j] = comparison.compare(requests, records, req, rec)
    position = {c.name: j for j, c in enumerate(comparisons)}
    for j, comparison in enumerate(comparisons):
        if comparison.implied_by and comparison.implied_by[0] in position:
            other = comparisons[position[comparison.implied_by[0]]]
            levels = [other.labels.index(label) for label in comparison.implied_by[1]]
            out[np.isin(out[:, position[other.name]], levels), j] = NULL
    return out


def derived_columns(comparisons: Sequence[Comparison]) -> tuple[FeatureBuilder, ...]:
    """The derived feature columns these comparisons read: what the index and requests must be built with."""
    return tuple(dict.fromkeys(c.column for c in comparisons if isinstance(c.column, FeatureBuilder)))
