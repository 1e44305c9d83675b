"""Names: the columns of given and family names, what pairs of names are measured by, and the name levels.

A name is a position in the entities' table of distinct names (``matcher.records.entities.NameTable``), whose
per-name arrays (token, Metaphone code, initial, length, compound parts, Bloom filter) a level reads at both sides'
names. Spelling measures are computed once per batch and only for names that differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.process import cpdist

from matcher.comparison.levels import COUNTS, Agreement, Level, PairsOfSides, SimilarityLevel, sorted_contains
from matcher.protection.bloom import hamming_similarity
from matcher.protection.tokens import MISSING, pair_token
from matcher.records.entities import Entities, NameTable
from matcher.records.ragged import Ragged


@dataclass(frozen=True)
class NameColumn:
    """A name field: per person, a position in the entities' table of distinct names (-1: missing)."""

    name: str
    attribute: str  # the Entities field holding the positions

    def positions(self, entities: Entities) -> np.ndarray:
        return getattr(entities, self.attribute)

    def pairs(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> NamePairs:
        return NamePairs(self, requests, records, req, rec)


@dataclass(frozen=True)
class NameListColumn:
    """A list of names per person (other given names, previous family names), each a position in the names table."""

    name: str
    attribute: str  # the Entities field holding the lists (Ragged)
    item: str  # what one of them is called: the label of a level that finds a name among them

    def lists(self, entities: Entities) -> Ragged:
        return getattr(entities, self.attribute)


class NamePairs(PairsOfSides):
    def __init__(self, column: NameColumn, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray):
        super().__init__(requests, records, req, rec)
        self.left = column.positions(requests)[req]
        self.right = column.positions(records)[rec]
        self.present = (self.left >= 0) & (self.right >= 0)
        tokens = (requests.names.token[self.left], records.names.token[self.right])
        self._features: dict[str, tuple[np.ndarray, np.ndarray]] = {"token": tokens}
        self.equal = tokens[0] == tokens[1]
        self._spelling: tuple[np.ndarray, np.ndarray] | None = None
        self._bloom: np.ndarray | None = None

    def feature(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A per-name array of the names tables ("token", "compact", "metaphone", "initial", "length") at each
        side's name; position -1 reads the tables' MISSING entry."""
        found = self._features.get(name)
        if found is None:
            mine, theirs = getattr(self.requests.names, name), getattr(self.records.names, name)
            found = self._features[name] = (mine[self.left], theirs[self.right])
        return found

    def other(self, column: NameColumn) -> tuple[np.ndarray, np.ndarray]:
        """Another name column's tokens of the same pairs (request side, record side)."""
        requests, records = self.requests, self.records
        return (
            requests.names.token[column.positions(requests)[self.req]],
            records.names.token[column.positions(records)[self.rec]],
        )

    @property
    def spelling(self) -> tuple[np.ndarray, np.ndarray]:
        """(Jaro-Winkler similarity, edit distance counting an adjacent transposition as one) of names that
        differ; names that are equal read (1, 0)."""
        if self._spelling is None:
            need = self.present & ~self.equal
            similarity, edits = np.ones(len(self.left)), np.zeros(len(self.left), dtype=np.int64)
            similarity[need], edits[need] = string_similarity(
                self.requests.names, self.left[need], self.records.names, self.right[need]
            )
            self._spelling = similarity, edits
        return self._spelling

    @property
    def jaro_winkler(self) -> np.ndarray:
        return self.spelling[0]

    @property
    def edits(self) -> np.ndarray:
        return self.spelling[1]

    @property
    def bloom(self) -> np.ndarray:
        """Hamming similarity of the two names' keyed Bloom filters (encoded mode); 1 for equal names."""
        if self._bloom is None:
            mine, theirs = self.requests.names.clk, self.records.names.clk
            if mine is None or theirs is None:
                raise ValueError("encoded comparisons need names encoded on both sides (build the index --encoded)")
            need = self.present & ~self.equal
            self._bloom = np.ones(len(self.left))
            self._bloom[need] = hamming_similarity(mine[self.left[need]], theirs[self.right[need]])
        return self._bloom


def string_similarity(
    left: NameTable, left_pos: np.ndarray, right: NameTable, right_pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(Jaro-Winkler similarity, edit distance) per pair of name positions, computed once per distinct pair."""
    if len(left_pos) < 64:  # a single trace's candidates: nearly all distinct, not worth finding which
        a = [left.strings[i] for i in left_pos.tolist()]
        b = [right.strings[i] for i in right_pos.tolist()]
        return _similarity(a, b)
    pair = left_pos.astype(np.int64) << 32 | right_pos.astype(np.int64)
    distinct, inverse = np.unique(pair, return_inverse=True)
    a = [left.strings[i] for i in (distinct >> 32).tolist()]
    b = [right.strings[i] for i in (distinct & 0xFFFFFFFF).tolist()]
    similarity, edits = _similarity(a, b)
    return similarity[inverse], edits[inverse]


def _similarity(a: list[str], b: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if not a:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    similarity = cpdist(a, b, scorer=JaroWinkler.similarity, workers=1)
    edits = cpdist(a, b, scorer=OSA.distance, score_cutoff=2, workers=1)
    return similarity, edits


def first_of_lists(lists: Ragged, rows: np.ndarray) -> np.ndarray:
    """First element of each row's list, -1 for an empty list."""
    starts, ends = lists.offsets[rows], lists.offsets[rows + 1]
    out = np.full(len(rows), -1, dtype=np.int64)
    has = ends > starts
    out[has] = lists.values[starts[has]]
    return out


def token_in_lists(tokens: np.ndarray, lists: Ragged, rows: np.ndarray, table_tokens: np.ndarray) -> np.ndarray:
    """Per pair: is ``tokens[i]`` among the tokens (``table_tokens`` at the list's values) of row ``rows[i]``'s list?"""
    found = np.zeros(len(rows), dtype=bool)
    if len(lists.values) == 0:  # a request without other names, say: nothing to look in
        return found
    owner, positions = lists.explode(rows)
    if len(owner):
        hit = table_tokens[positions] == tokens[owner]
        found[owner[hit]] = True
    return found & (tokens != MISSING)


@dataclass(frozen=True)
class NicknameLevel(Level):
    """One name is a nickname of the other (BILL/WILLIAM): ``pairs_of_names`` holds the sorted order-free pair
    tokens of every such pair (``matcher.comparison.library.nickname_pairs``)."""

    pairs_of_names: np.ndarray = field(repr=False, compare=False)
    agreement: Agreement = Agreement.CLOSE

    label = "nickname"

    def holds(self, pairs: NamePairs) -> np.ndarray:
        return sorted_contains(self.pairs_of_names, pair_token(*pairs.feature("token")))


@dataclass(frozen=True)
class EditDistanceLevel(Level):
    """At most ``edits`` insertions, deletions, substitutions or adjacent transpositions apart."""

    edits: int
    agreement: Agreement = Agreement.CLOSE

    def __post_init__(self) -> None:
        if not 1 <= self.edits <= 2:  # the spelling measure stops counting past two
            raise ValueError("an edit distance level allows one or two edits")

    @property
    def label(self) -> str:
        return f"{COUNTS[self.edits]}_edit{'s' if self.edits > 1 else ''}"

    def holds(self, pairs: NamePairs) -> np.ndarray:
        return pairs.edits <= self.edits


class JaroWinklerLevel(SimilarityLevel):
    measure = "jaro_winkler"


class BloomSimilarityLevel(SimilarityLevel):
    """Encoded mode: the Hamming similarity of the two names' keyed Bloom filters."""

    measure = "bloom"


@dataclass(frozen=True)
class PhoneticLevel(Level):
    """The same Metaphone code."""

    label = "phonetic"

    def holds(self, pairs: NamePairs) -> np.ndarray:
        mine, theirs = pairs.feature("metaphone")
        return mine == theirs


@dataclass(frozen=True)
class InitialLevel(Level):
    """One side gives only an initial, and it is the other's."""

    label = "initial"

    def holds(self, pairs: NamePairs) -> np.ndarray:
        mine, theirs = pairs.feature("length")
        first, other_first = pairs.feature("initial")
        return ((mine == 1) | (theirs == 1)) & (first == other_first)


@dataclass(frozen=True)
class _NameListLevel(Level):
    """A level that looks for a name among a list of names (``names``), labelled by what one of them is called."""

    names: NameListColumn
    agreement: Agreement = Agreement.CLOSE

    @property
    def label(self) -> str:
        return self.names.item


class KnownByOtherNameLevel(_NameListLevel):
    """Known by another of their names: the request's name is the record's first of ``names`` (a middle name),
    or the record's name is among the request's."""

    def holds(self, pairs: NamePairs) -> np.ndarray:
        mine, theirs = pairs.feature("token")
        first = first_of_lists(self.names.lists(pairs.records), pairs.rec)
        known = (mine == pairs.records.names.token[first]) & (first >= 0)
        return known | token_in_lists(theirs, self.names.lists(pairs.requests), pairs.req, pairs.requests.names.token)


class InRecordListLevel(_NameListLevel):
    """The request's name is among the record's ``names`` (a previous family name)."""

    def holds(self, pairs: NamePairs) -> np.ndarray:
        mine, _ = pairs.feature("token")
        return token_in_lists(mine, self.names.lists(pairs.records), pairs.rec, pairs.records.names.token)


@dataclass(frozen=True)
class CompoundPartLevel(Level):
    """The same compound name written without its hyphen, or one side is a part of the other's compound name."""

    agreement: Agreement = Agreement.CLOSE

    label = "compound_part"

    def holds(self, pairs: NamePairs) -> np.ndarray:
        mine, theirs = pairs.feature("token")
        compact, other_compact = pairs.feature("compact")
        left, right = np.maximum(pairs.left, 0), np.maximum(pairs.right, 0)
        return (
            (compact == other_compact)
            | token_in_lists(mine, pairs.records.names.parts, right, pairs.records.names.token)
            | token_in_lists(theirs, pairs.requests.names.parts, left, pairs.requests.names.token)
        )


@dataclass(frozen=True)
class SwappedLevel(Level):
    """This name and the ``other`` name written the other way round: both must cross over, or it is a
    coincidence."""

    other: NameColumn
    agreement: Agreement = Agreement.CLOSE

    @property
    def label(self) -> str:
        return f"swapped_with_{self.other.name.removesuffix('_name')}"

    def holds(self, pairs: NamePairs) -> np.ndarray:
        mine, theirs = pairs.feature("token")
        other_mine, other_theirs = pairs.other(self.other)
        return (mine == other_theirs) & (other_mine == theirs)
