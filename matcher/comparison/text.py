"""Free text (an address line), held as keyed tokens of the normalised text and of each of its words.

A derived column: records and requests carry its arrays (``Entities.features``) only when a comparison reads it;
``TextColumn.build`` makes them from one input column, for the index and for requests alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from matcher.comparison.levels import PairsOfSides, SimilarityLevel
from matcher.contract.normalise import normalise_text
from matcher.protection.tokens import MISSING, Tokeniser
from matcher.records.entities import Entities
from matcher.records.ragged import Ragged


@dataclass(frozen=True)
class TextColumn:
    """A free-text field (an address line) held as keyed tokens only: of the whole normalised text and of each
    of its words. Derived: built from ``source`` for the index and for requests when a comparison reads it."""

    name: str
    source: str

    def build(self, values: Sequence[str | None], tokeniser: Tokeniser) -> dict[str, np.ndarray]:
        texts = [normalise_text(v) for v in values]
        whole = tokeniser.tokens([f"{self.name}:{t}" if t else None for t in texts])
        words = [sorted(set(t.split())) if t else [] for t in texts]
        word_tokens = Ragged.from_lists(
            [tokeniser.tokens([f"{self.name}.word:{w}" for w in row]).tolist() for row in words], dtype=np.uint64
        )
        return {"token": whole, "words.offsets": word_tokens.offsets, "words.values": word_tokens.values}

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
        self.present = (self.left != MISSING) & (self.right != MISSING)

    @property
    def equal(self) -> np.ndarray:
        return self.left == self.right

    @cached_property
    def shared_words(self) -> np.ndarray:
        """Per pair: the share of the shorter side's words that the other side has too."""
        mine = Ragged(self._mine["words.offsets"], self._mine["words.values"])
        theirs = Ragged(self._theirs["words.offsets"], self._theirs["words.values"])
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
