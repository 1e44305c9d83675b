"""Free text (an address line, a town), held as keyed tokens of the normalised text and of each of its words.

A derived column: records and requests carry its arrays (``Entities.features``) only when a comparison reads it;
``TextColumn.build`` makes them from one input column, for the index and for requests alike, and on the record's
side also from the same field of each of its previous addresses (``history``), so that a request giving an address
the person has left still agrees with something.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from matcher.comparison.levels import Agreement, Level, PairsOfSides, SimilarityLevel
from matcher.contract.normalise import normalise_text
from matcher.protection.tokens import MISSING, Tokeniser
from matcher.records.entities import Entities
from matcher.records.ragged import Ragged


@dataclass(frozen=True)
class TextColumn:
    """A free-text field (an address line) held as keyed tokens only: of the whole normalised text and of each
    of its words. Derived: built from ``source`` for the index and for requests when a comparison reads it, and
    with ``history`` (the population's list of previous addresses) from each previous address's ``source`` field
    too: their whole texts, and the words of all of them together."""

    name: str
    source: str
    history: str | None = None

    def build(
        self, values: Sequence[str | None], tokeniser: Tokeniser, history: Sequence[Sequence[dict] | None] | None = None
    ) -> dict[str, np.ndarray]:
        texts = [normalise_text(v) for v in values]
        whole = tokeniser.tokens([f"{self.name}:{t}" if t else None for t in texts])
        word_tokens = self._words([sorted(set(t.split())) if t else [] for t in texts], tokeniser)
        out = {"token": whole, "words.offsets": word_tokens.offsets, "words.values": word_tokens.values}
        if self.history is None:
            return out
        before = [
            [t for t in dict.fromkeys(normalise_text(a.get(self.source)) for a in (row or ())) if t]
            for row in (history or [None] * len(texts))
        ]
        previous = Ragged.from_lists(
            [tokeniser.tokens([f"{self.name}:{t}" for t in row]).tolist() for row in before], dtype=np.uint64
        )
        previous_words = self._words([sorted({w for t in row for w in t.split()}) for row in before], tokeniser)
        return out | {
            "previous.offsets": previous.offsets,
            "previous.values": previous.values,
            "previous_words.offsets": previous_words.offsets,
            "previous_words.values": previous_words.values,
        }

    def _words(self, rows: list[list[str]], tokeniser: Tokeniser) -> Ragged:
        return Ragged.from_lists(
            [tokeniser.tokens([f"{self.name}.word:{w}" for w in row]).tolist() for row in rows], dtype=np.uint64
        )

    def pairs(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> TextPairs:
        return TextPairs(self, requests, records, req, rec)


class TextPairs(PairsOfSides):
    def __init__(self, column: TextColumn, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray):
        super().__init__(requests, records, req, rec)
        try:
            self._mine, self._theirs = requests.features[column.name], records.features[column.name]
        except KeyError:
            raise ValueError(f"the feature column {column.name!r} was not built on both sides") from None
        self.left, self.right = self._mine["token"][req], self._theirs["token"][rec]
        self._history = "previous.offsets" in self._theirs
        known = self.right != MISSING
        if self._history:
            offsets = self._theirs["previous.offsets"]
            known |= offsets[rec + 1] > offsets[rec]
        self.present = (self.left != MISSING) & known

    @property
    def equal(self) -> np.ndarray:
        return self.left == self.right

    @cached_property
    def previous_equal(self) -> np.ndarray:
        """Per pair: the request's text is that of one of the record's previous addresses."""
        out = np.zeros(len(self.req), dtype=bool)
        if self._history:
            owner, previous = Ragged(self._theirs["previous.offsets"], self._theirs["previous.values"]).explode(
                self.rec
            )
            out[owner[previous == self.left[owner]]] = True
        return out & (self.left != MISSING)

    @cached_property
    def shared_words(self) -> np.ndarray:
        """Per pair: the share of the shorter side's words that the other side has too."""
        return self._shared("words")

    @cached_property
    def previous_shared_words(self) -> np.ndarray:
        """As ``shared_words``, against the words of the record's previous addresses together."""
        if not self._history:
            return np.zeros(len(self.req))
        return self._shared("previous_words")

    def _shared(self, part: str) -> np.ndarray:
        mine = Ragged(self._mine["words.offsets"], self._mine["words.values"])
        theirs = Ragged(self._theirs[f"{part}.offsets"], self._theirs[f"{part}.values"])
        left_owner, left_words = mine.explode(self.req)
        right_owner, right_words = theirs.explode(self.rec)
        owner = np.concatenate([left_owner, right_owner])
        words = np.concatenate([left_words, right_words])
        order = np.lexsort((words, owner))
        owner, words = owner[order], words[order]
        # Words are distinct within a side, so a (pair, word) seen twice is a word both sides have.
        both = (owner[1:] == owner[:-1]) & (words[1:] == words[:-1])
        shared = np.bincount(owner[1:][both], minlength=len(self.req))
        shorter = np.minimum(mine.lengths()[self.req], theirs.lengths()[self.rec])
        return np.divide(shared, shorter, out=np.zeros(len(self.req)), where=shorter > 0)


class SharedWordsLevel(SimilarityLevel):
    """At least ``threshold`` of the shorter side's words are the other's too (FLAT 2 14 MOOR LANE / 14 MOOR LANE)."""

    measure = "shared_words"


class PreviousSharedWordsLevel(SimilarityLevel):
    """As ``SharedWordsLevel``, against the words of the record's previous addresses."""

    measure = "previous_shared_words"


@dataclass(frozen=True)
class PreviousExactLevel(Level):
    """The request's text is exactly that of one of the record's previous addresses (normalised)."""

    agreement: Agreement = Agreement.CLOSE

    label = "previous_exact"

    def holds(self, pairs: TextPairs) -> np.ndarray:
        return pairs.previous_equal
