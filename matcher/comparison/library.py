"""The comparisons the tracer uses: one definition per field, in plaintext and in encoded form.

A comparison is its column and its ordered levels, nothing more; adding one (an email, say) is a definition here
plus, for a field the built-in columns do not read, its feature column (as the address line and the town have).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from matcher.comparison.comparison import Comparison
from matcher.comparison.dates import (
    DateColumn,
    DatePartsLevel,
    DayMonthSwappedLevel,
    DigitsTransposedLevel,
    DigitsWrongLevel,
    FirstOfJanuaryLevel,
    ImpossibleDateLevel,
    NextYearLevel,
    SameYearAndMonthOrDayLevel,
    SameYearLevel,
)
from matcher.comparison.levels import Agreement, ElseLevel, ExactLevel, Level
from matcher.comparison.names import (
    BloomSimilarityLevel,
    CompoundPartLevel,
    EditDistanceLevel,
    InitialLevel,
    InRecordListLevel,
    JaroWinklerLevel,
    KnownByOtherNameLevel,
    NameColumn,
    NameListColumn,
    NicknameLevel,
    PhoneticLevel,
    SwappedLevel,
)
from matcher.comparison.postcodes import PostcodeColumn, PostcodeLevel
from matcher.comparison.text import PreviousExactLevel, PreviousSharedWordsLevel, SharedWordsLevel, TextColumn
from matcher.comparison.values import ValueColumn
from matcher.contract.normalise import normalise_name
from matcher.protection.tokens import Tokeniser, pair_token

# The built-in columns: the fields every stage reads, by the Entities attribute that holds them.
GIVEN_NAME = NameColumn("given_name", "given")
OTHER_GIVEN_NAMES = NameListColumn("other_given_names", "other_given", item="other_given_name")
FAMILY_NAME = NameColumn("family_name", "family")
PREVIOUS_FAMILY_NAMES = NameListColumn("previous_family_names", "previous_family", item="previous_family_name")
DATE_OF_BIRTH = DateColumn("date_of_birth", "date_of_birth")
POSTCODE = PostcodeColumn("postcode", "postcode", history="previous_postcodes")
SEX = ValueColumn("sex", "sex")
NHS_NUMBER = ValueColumn("nhs_number", "nhs_number")


@dataclass(frozen=True)
class Spelling:
    """How close two spellings of a name are, as levels: ``close`` ranks above phonetic agreement, ``loose``
    below it. Only one close level counts as the same name mistyped (Agreement.CLOSE); the rest are weak."""

    close: tuple[Level, ...]
    loose: tuple[Level, ...]


PLAINTEXT_SPELLING = Spelling(
    close=(EditDistanceLevel(1), JaroWinklerLevel(0.92)),
    loose=(JaroWinklerLevel(0.80),),
)
# Encoded mode compares keyed Bloom filters of the names' bigrams. Bands from the plaintext levels on 1M typical
# candidate pairs: one-edit typos sit at 0.80-0.97 (5th-95th percentile, median 0.88), Jaro-Winkler >= 0.92 at
# 0.79-0.87, unrelated names at 0.57-0.73. Only the top band counts as the same name mistyped: OLIVIA/OLIVER
# reaches 0.80.
ENCODED_SPELLING = Spelling(
    close=(BloomSimilarityLevel(0.83, agreement=Agreement.CLOSE), BloomSimilarityLevel(0.80)),
    loose=(BloomSimilarityLevel(0.75),),
)


def given_name(nicknames: np.ndarray, spelling: Spelling = PLAINTEXT_SPELLING) -> Comparison:
    return Comparison(
        GIVEN_NAME,
        (
            ExactLevel(term_frequency=True),
            # Before any spelling level: "E" is one edit from "EM" and Jaro-Winkler-close to "EMA", and a letter
            # read as a mistyped name would set the person apart from a twin of the same initial.
            InitialLevel(),
            NicknameLevel(nicknames),
            *spelling.close,
            PhoneticLevel(),
            # Known by a middle name: the request's first name is the record's first middle name, or the record's
            # first name is among the request's other names.
            KnownByOtherNameLevel(OTHER_GIVEN_NAMES),
            *spelling.loose,
            SwappedLevel(FAMILY_NAME),
            ElseLevel(),
        ),
    )


def family_name(spelling: Spelling = PLAINTEXT_SPELLING) -> Comparison:
    return Comparison(
        FAMILY_NAME,
        (
            ExactLevel(term_frequency=True),
            InRecordListLevel(PREVIOUS_FAMILY_NAMES),
            CompoundPartLevel(),
            *spelling.close,
            PhoneticLevel(),
            *spelling.loose,
            SwappedLevel(GIVEN_NAME),
            ElseLevel(),
        ),
    )


def date_of_birth() -> Comparison:
    return Comparison(
        DATE_OF_BIRTH,
        (
            ExactLevel(),
            DayMonthSwappedLevel(),
            DigitsTransposedLevel(),
            DigitsWrongLevel(1),
            FirstOfJanuaryLevel(),
            ImpossibleDateLevel(),
            NextYearLevel(),
            SameYearAndMonthOrDayLevel(),
            DatePartsLevel(2),
            SameYearLevel(),
            ElseLevel(),
        ),
    )


def postcode() -> Comparison:
    """The request's postcode against the record's current and previous ones, at unit down to area."""
    return Comparison(
        POSTCODE,
        (
            PostcodeLevel("unit", previous=False, agreement=Agreement.EXACT),
            PostcodeLevel("unit", current=False, agreement=Agreement.CLOSE),
            PostcodeLevel("sector", agreement=Agreement.CLOSE),
            PostcodeLevel("district"),
            PostcodeLevel("area"),
            # Not a UK postcode on either side (FEBRL's 4-digit codes): the same text. A code that size covers a
            # suburb, so it agrees only weakly, and never counts as a unit or sector where requirements ask for one.
            PostcodeLevel("text"),
            ElseLevel(),
        ),
    )


def sex() -> Comparison:
    return Comparison(SEX, (ExactLevel(), ElseLevel()))


def nhs_number() -> Comparison:
    return Comparison(NHS_NUMBER, (ExactLevel(), ElseLevel()))


ADDRESS_LINE = TextColumn("address_line_1", source="address_line_1", history="previous_addresses")
"""The first line of the address (house number and street), as keyed tokens of the line and of its words, the
record's previous addresses' too (never in clear at rest)."""
TOWN = TextColumn("town", source="town", history="previous_addresses")
"""The town of the address, the record's previous towns too, as keyed tokens."""


def address_line() -> Comparison:
    """The request's first address line against the record's current one and its previous ones: the same line, a
    line the person has left, most words shared (a flat number added, ROAD written RD, a typo in one word, the
    house next door)."""
    return Comparison(
        ADDRESS_LINE,
        (
            ExactLevel(),
            PreviousExactLevel(),
            SharedWordsLevel(0.5),
            PreviousSharedWordsLevel(0.5),
            ElseLevel(),
        ),
    )


def town() -> Comparison:
    """The request's town against the record's current and previous towns: weak evidence alone (a town holds
    thousands), but what a postcode that is not a UK one, or none, leaves to say where the person lives. Where the
    postcode agrees to its district the town says nothing more, and reads as no evidence."""
    return Comparison(
        TOWN,
        (ExactLevel(), PreviousExactLevel(agreement=Agreement.WEAK), ElseLevel()),
        implied_by=("postcode", ("unit", "previous_unit", "sector", "district")),
    )


DEFAULT_COMPARISONS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "postcode",
    "sex",
    "nhs_number",
    "address_line_1",
    "town",
)
"""What an index is built and trained for unless told otherwise, by name (a comparison's name is its column's):
every field a request may carry."""
_DERIVED_COLUMNS = {ADDRESS_LINE.name: ADDRESS_LINE, TOWN.name: TOWN}


def comparisons_named(names: Sequence[str], tokeniser: Tokeniser, encoded: bool = False) -> tuple[Comparison, ...]:
    """The library's comparisons by name, for plaintext mode or encoded mode (names compared through their Bloom
    filters): what a trained model names is what a tracer of its index compares."""
    spelling = ENCODED_SPELLING if encoded else PLAINTEXT_SPELLING
    makers = {
        "given_name": lambda: given_name(nickname_pairs(tokeniser), spelling),
        "family_name": lambda: family_name(spelling),
        "date_of_birth": date_of_birth,
        "postcode": postcode,
        "sex": sex,
        "nhs_number": nhs_number,
        ADDRESS_LINE.name: address_line,
        TOWN.name: town,
    }
    unknown = [name for name in names if name not in makers]
    if unknown:
        raise ValueError(f"no comparison in the library is named {unknown}; it has {list(makers)}")
    return tuple(makers[name]() for name in names)


def derived_columns_named(names: Sequence[str]) -> tuple[TextColumn, ...]:
    """The derived feature columns that the comparisons of these names read: what an index must be built with."""
    return tuple(_DERIVED_COLUMNS[name] for name in names if name in _DERIVED_COLUMNS)


def default_comparisons(tokeniser: Tokeniser, encoded: bool = False) -> tuple[Comparison, ...]:
    return comparisons_named(DEFAULT_COMPARISONS, tokeniser, encoded)


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
