"""Free text (an address line, a town), held as keyed tokens of the normalised text and of each of its words.

A derived column: records and requests carry its arrays (``Entities.features``) only when a comparison reads it;
``TextColumn.build`` makes them from one input column, for the index and for requests alike, and on the record's
side also from the same field of each of its previous addresses (``history``), so that a request giving an address
the person has left still agrees with something.
"""

from __future__ import annotations

import functools
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
        # Lines, towns and words repeat across millions of records: each distinct text is tokenised once per call
        # (the cache lives as long as the call, so no request's text stays behind in the process).
        seen: dict[str, int] = {}
        normalise = functools.cache(normalise_text)

        def tokens(rows: list[list[str]]) -> Ragged:
            flat = [f"{self.name}:{t}" for row in rows for t in row]
            for text in flat:
                if text not in seen:
                    seen[text] = len(seen)
            table = tokeniser.tokens(list(seen))
            lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
            offsets = np.zeros(len(rows) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            at = np.fromiter((seen[t] for t in flat), dtype=np.int64, count=len(flat))
            return Ragged(offsets.astype(np.int32), table[at] if len(flat) else np.empty(0, dtype=np.uint64))

        texts = [normalise(v) for v in values]
        whole = tokens([[t] if t else [] for t in texts])
        present = whole.lengths() > 0
        line = np.zeros(len(texts), dtype=np.uint64)  # MISSING where there is no text
        line[present] = whole.values
        words = tokens([[f"word:{w}" for w in sorted(set(t.split()))] if t else [] for t in texts])
        out = {"token": line, "words.offsets": words.offsets, "words.values": words.values}
        if self.history is None:
            return out
        before = [
            [t for t in dict.fromkeys(normalise(a.get(self.source)) for a in (row or ())) if t]
            for row in (history or [None] * len(texts))
        ]
        previous = tokens(before)
        previous_words = tokens([[f"word:{w}" for w in sorted({w for t in row for w in t.split()})] for row in before])
        return out | {
            "previous.offsets": previous.offsets,
            "previous.values": previous.values,
            "previous_words.offsets": previous_words.offsets,
            "previous_words.values": previous_words.values,
        }

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
