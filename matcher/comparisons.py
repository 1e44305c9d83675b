"""Comparisons: for each (request, record) pair, which of a field's ordered agreement levels holds.

In the manner of Splink's comparison library, a comparison is a declared, ordered list of levels, strongest first,
ending in "else" (disagreement); a pair takes the first level it satisfies, or -1 (null: neutral evidence) when
either side lacks the value. Scoring sees only level numbers, never values, so a comparison working on encoded
values can replace one of these without any change to scoring or decision.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

import numpy as np
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.process import cpdist

from matcher.encoding import hamming_similarity
from matcher.entities import Entities, NameTable, Ragged, tokens_at
from matcher.normalise import normalise_name
from matcher.tokens import MISSING, Tokeniser, pair_token

NULL = -1


@dataclass(frozen=True)
class Level:
    name: str
    # Agreement on this level is weighed by how common the agreed value is (SMITH says less than ZIELINSKI).
    term_frequency: str | None = None


class Comparison(Protocol):
    name: str
    levels: tuple[Level, ...]

    def compare(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> np.ndarray:
        """Level number per pair (int8), NULL where the comparison has no evidence."""
        ...


def _assign(n: int, present: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """First satisfied level per pair: masks are in level order; unmatched present pairs get the last level."""
    satisfied = np.array([*masks, np.ones(n, dtype=bool)], dtype=bool).reshape(len(masks) + 1, n)
    return np.where(present, satisfied.argmax(axis=0), NULL).astype(np.int8)


def _first(lists: Ragged, rows: np.ndarray) -> np.ndarray:
    """First element of each row's list, -1 for an empty list."""
    starts, ends = lists.offsets[rows], lists.offsets[rows + 1]
    out = np.full(len(rows), -1, dtype=np.int64)
    has = ends > starts
    out[has] = lists.values[starts[has]]
    return out


def _token_in_lists(tokens: np.ndarray, lists: Ragged, rows: np.ndarray, table_tokens: np.ndarray) -> np.ndarray:
    """Per pair: is ``tokens[i]`` among the tokens of the list held by row ``rows[i]``?"""
    found = np.zeros(len(rows), dtype=bool)
    if len(lists.values) == 0:  # a request without other names, say: nothing to look in
        return found
    owner, positions = lists.explode(rows)
    if len(owner):
        hit = table_tokens[positions] == tokens[owner]
        found[owner[hit]] = True
    return found & (tokens != MISSING)


def string_similarity(
    left: NameTable, left_pos: np.ndarray, right: NameTable, right_pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(Jaro-Winkler similarity, edit distance counting an adjacent transposition as one edit) per pair of name
    positions, computed once per distinct pair of names."""
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


def nickname_pairs(tokeniser: Tokeniser) -> np.ndarray:
    """Sorted pair tokens of every name/nickname pair in the ``nicknames`` dictionary (BILL/WILLIAM...)."""
    left, right = [], []
    with resources.files("nicknames").joinpath("names.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            a, b = normalise_name(row["name1"]), normalise_name(row["name2"])
            if a and b:
                left.append(a)
                right.append(b)
    return np.unique(pair_token(tokeniser.tokens(left), tokeniser.tokens(right)))


@dataclass(frozen=True)
class SpellingSimilarity:
    """Plaintext mode: how close two names are spelled (edit distance, Jaro-Winkler)."""

    close: tuple[str, ...] = ("one_edit", "jaro_winkler>=0.92")  # levels above phonetic agreement
    loose: tuple[str, ...] = ("jaro_winkler>=0.80",)  # levels below it
    variant: str = "one_edit"  # what the decision takes as the same name mistyped; the others are weak
    weak: tuple[str, ...] = ("jaro_winkler>=0.92", "jaro_winkler>=0.80")

    def masks(self, qa: NameTable, a: np.ndarray, rb: NameTable, b: np.ndarray, need: np.ndarray):
        jw, edits = np.zeros(len(a)), np.full(len(a), 9)
        jw[need], edits[need] = string_similarity(qa, a[need], rb, b[need])
        return [edits <= 1, jw >= 0.92], [jw >= 0.80]


@dataclass(frozen=True)
class EncodedSimilarity:
    """Encoded mode: the Hamming similarity of two names' keyed Bloom filters (matcher.encoding). Bands from the
    plaintext levels on 1M typical candidate pairs: one-edit typos sit at 0.80-0.97 (5th-95th percentile, median
    0.88), Jaro-Winkler >= 0.92 at 0.79-0.87, unrelated names at 0.57-0.73. Only the top band counts as the same
    name mistyped: OLIVIA/OLIVER reaches 0.80."""

    close: tuple[str, ...] = ("bloom>=0.83", "bloom>=0.80")
    loose: tuple[str, ...] = ("bloom>=0.75",)
    variant: str = "bloom>=0.83"
    weak: tuple[str, ...] = ("bloom>=0.80", "bloom>=0.75")

    def masks(self, qa: NameTable, a: np.ndarray, rb: NameTable, b: np.ndarray, need: np.ndarray):
        if qa.clk is None or rb.clk is None:
            raise ValueError("encoded comparisons need names encoded on both sides (build the index --encoded)")
        similarity = np.zeros(len(a))
        similarity[need] = hamming_similarity(qa.clk[a[need]], rb.clk[b[need]])
        return [similarity >= 0.83, similarity >= 0.80], [similarity >= 0.75]


NameSimilarity = SpellingSimilarity | EncodedSimilarity


@dataclass(frozen=True)
class GivenNameComparison:
    nicknames: np.ndarray  # sorted pair tokens, see nickname_pairs()
    similarity: NameSimilarity = SpellingSimilarity()
    name: str = "given_name"

    @property
    def levels(self) -> tuple[Level, ...]:
        return (
            Level("exact", term_frequency="given_name"),
            Level("nickname"),
            *(Level(n) for n in self.similarity.close),
            Level("phonetic"),
            Level("other_given_name"),
            *(Level(n) for n in self.similarity.loose),
            Level("initial"),
            Level("swapped_with_family"),
            Level("else"),
        )

    def compare(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> np.ndarray:
        a, b = requests.given[req], records.given[rec]
        qa, rb = requests.names, records.names
        present, ta, tb, exact, close, loose, phonetic = _name_agreement(qa, a, rb, b, self.similarity)
        nickname = _sorted_contains(self.nicknames, pair_token(ta, tb))
        # Known by a middle name: the request's first name is the record's first middle name, or the record's first
        # name is among the request's other names.
        first_middle = _first(records.other_given, rec)
        other = (ta == tokens_at(rb.token, first_middle)) & (first_middle >= 0)
        other |= _token_in_lists(tb, requests.other_given, req, qa.token)
        short = (tokens_at(qa.length, a) == 1) | (tokens_at(rb.length, b) == 1)
        initial = short & (tokens_at(qa.initial, a) == tokens_at(rb.initial, b))
        swapped = _swapped(requests, records, req, rec)
        masks = [exact, nickname, *close, phonetic, other, *loose, initial, swapped]
        return _assign(len(a), present, masks)


@dataclass(frozen=True)
class FamilyNameComparison:
    similarity: NameSimilarity = SpellingSimilarity()
    name: str = "family_name"

    @property
    def levels(self) -> tuple[Level, ...]:
        return (
            Level("exact", term_frequency="family_name"),
            Level("previous_family_name"),
            Level("compound_part"),
            *(Level(n) for n in self.similarity.close),
            Level("phonetic"),
            *(Level(n) for n in self.similarity.loose),
            Level("swapped_with_given"),
            Level("else"),
        )

    def compare(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> np.ndarray:
        a, b = requests.family[req], records.family[rec]
        qa, rb = requests.names, records.names
        present, ta, tb, exact, close, loose, phonetic = _name_agreement(qa, a, rb, b, self.similarity)
        previous = _token_in_lists(ta, records.previous_family, rec, rb.token)
        compound = (
            (tokens_at(qa.compact, a) == tokens_at(rb.compact, b))
            | _token_in_lists(ta, rb.parts, np.maximum(b, 0), rb.token)
            | _token_in_lists(tb, qa.parts, np.maximum(a, 0), qa.token)
        )
        swapped = _swapped(requests, records, req, rec)
        masks = [exact, previous, compound, *close, phonetic, *loose, swapped]
        return _assign(len(a), present, masks)


def _name_agreement(qa: NameTable, a: np.ndarray, rb: NameTable, b: np.ndarray, similarity: NameSimilarity):
    """What both name comparisons start from: presence, tokens, exact, the similarity bands, same Metaphone."""
    present = (a >= 0) & (b >= 0)
    ta, tb = tokens_at(qa.token, a), tokens_at(rb.token, b)
    exact = ta == tb
    close, loose = similarity.masks(qa, a, rb, b, present & ~exact)
    phonetic = tokens_at(qa.metaphone, a) == tokens_at(rb.metaphone, b)
    return present, ta, tb, exact, close, loose, phonetic


def _swapped(requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """Given and family name written the other way round: both must cross over, or it is a coincidence."""
    qa, rb = requests.names, records.names
    given_as_family = tokens_at(qa.token, requests.given[req]) == tokens_at(rb.token, records.family[rec])
    family_as_given = tokens_at(qa.token, requests.family[req]) == tokens_at(rb.token, records.given[rec])
    return given_as_family & family_as_given & (requests.given[req] >= 0) & (records.given[rec] >= 0)


def _digits(dates: np.ndarray) -> np.ndarray:
    powers = 10 ** np.arange(7, -1, -1, dtype=np.int64)
    return (dates.astype(np.int64)[:, None] // powers) % 10


@dataclass(frozen=True)
class DateOfBirthComparison:
    """On the eight digits as typed, so an impossible date (1985-02-30) still meets its one-digit-off truth."""

    name: str = "date_of_birth"
    levels: tuple[Level, ...] = (
        Level("exact"),
        Level("day_month_swapped"),
        Level("digits_transposed"),
        Level("one_digit_wrong"),
        Level("first_of_january"),
        Level("two_of_year_month_day"),
        Level("year_only"),
        Level("else"),
    )

    def compare(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> np.ndarray:
        a = requests.date_of_birth[req].astype(np.int64)
        b = records.date_of_birth[rec].astype(np.int64)
        present = (a > 0) & (b > 0)
        ya, ma, da = a // 10_000, (a // 100) % 100, a % 100
        yb, mb, db = b // 10_000, (b // 100) % 100, b % 100
        swapped = (ya == yb) & (ma == db) & (da == mb) & (ma != da)
        digits_a, digits_b = _digits(a), _digits(b)
        differ = digits_a != digits_b
        count = differ.sum(axis=1)
        adjacent = differ[:, :-1] & differ[:, 1:]
        crossed = (digits_a[:, :-1] == digits_b[:, 1:]) & (digits_a[:, 1:] == digits_b[:, :-1])
        transposed = (count == 2) & (adjacent & crossed).any(axis=1)
        agree = (ya == yb).astype(int) + (ma == mb) + (da == db)
        # 1 January is what forms default to when only the year is known.
        placeholder = (ya == yb) & (ma == 1) & (da == 1)
        masks = [a == b, swapped, transposed, count == 1, placeholder, agree >= 2, ya == yb]
        return _assign(len(a), present, masks)


@dataclass(frozen=True)
class PostcodeComparison:
    """The request's postcode against the record's current and previous ones, at unit down to area."""

    name: str = "postcode"
    levels: tuple[Level, ...] = (
        Level("unit"),
        Level("previous_unit"),
        Level("sector"),
        Level("district"),
        Level("area"),
        Level("else"),
    )

    def compare(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> np.ndarray:
        a, b = requests.postcode[req], records.postcode[rec]
        history = records.previous_postcodes
        has_history = history.offsets[rec + 1] > history.offsets[rec]
        present = (a >= 0) & ((b >= 0) | has_history)
        qa, rb = requests.postcodes, records.postcodes
        owner, previous = history.explode(rec)  # once, for every level

        def level(name: str) -> tuple[np.ndarray, np.ndarray]:
            """(agrees with the current postcode, agrees with a previous one) at this level."""
            mine, table = tokens_at(getattr(qa, name), a), getattr(rb, name)
            found = np.zeros(len(a), dtype=bool)
            found[owner[table[previous] == mine[owner]]] = True
            known = mine != MISSING
            return (mine == tokens_at(table, b)) & known, found & known

        masks = []
        for name in ("unit", "sector", "district", "area"):
            current, before = level(name)
            masks += [current, before] if name == "unit" else [current | before]
        return _assign(len(a), present, masks)


@dataclass(frozen=True)
class SexComparison:
    name: str = "sex"
    levels: tuple[Level, ...] = (Level("exact"), Level("else"))

    def compare(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> np.ndarray:
        a, b = requests.sex[req], records.sex[rec]
        return _assign(len(a), (a > 0) & (b > 0), [a == b])


@dataclass(frozen=True)
class NhsNumberComparison:
    name: str = "nhs_number"
    levels: tuple[Level, ...] = (Level("exact"), Level("else"))

    def compare(self, requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray) -> np.ndarray:
        a, b = requests.nhs_number[req], records.nhs_number[rec]
        return _assign(len(a), (a != MISSING) & (b != MISSING), [a == b])


def _sorted_contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[at] == values


def default_comparisons(tokeniser: Tokeniser, encoded: bool = False) -> tuple[Comparison, ...]:
    """The comparisons of plaintext mode, or of encoded mode (names compared through their Bloom filters)."""
    similarity = EncodedSimilarity() if encoded else SpellingSimilarity()
    return (
        GivenNameComparison(nicknames=nickname_pairs(tokeniser), similarity=similarity),
        FamilyNameComparison(similarity=similarity),
        DateOfBirthComparison(),
        PostcodeComparison(),
        SexComparison(),
        NhsNumberComparison(),
    )


def comparison_vectors(
    comparisons: tuple[Comparison, ...], requests: Entities, records: Entities, req: np.ndarray, rec: np.ndarray
) -> np.ndarray:
    """(pairs x comparisons) int8 matrix of levels."""
    out = np.empty((len(req), len(comparisons)), dtype=np.int8)
    for j, comparison in enumerate(comparisons):
        out[:, j] = comparison.compare(requests, records, req, rec)
    return out
