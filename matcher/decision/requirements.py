"""Requirements a candidate must meet before its score counts at all.

Fellegi-Sunter multiplies evidence as if the fields were independent, and they are not where it matters most. A
twin shares surname, date of birth and address with the person, so those three would outweigh a different (or
missing) first name; a namesake born the same year shares a rare name, which would outweigh a date of birth that is
only close. So a match needs a first name that really agrees and, unless the date of birth agrees exactly, a
postcode that corroborates it (or the NHS number).

A requirement names levels by label ("one_digit_wrong") or by how strongly they agree (``Agreement.CLOSE``), so
that it holds for whichever levels the comparisons in use have: spelling levels in plaintext mode, Bloom-filter
bands in encoded mode.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from matcher.comparison import NULL, NULL_LABEL, Agreement, Comparison
from matcher.decision.relations import Relation

LevelSelector = str | Agreement
"""A level by its label (or NULL_LABEL for missing evidence), or every level of that agreement."""
Condition = tuple[str, tuple[LevelSelector, ...]]
"""A comparison at one of these levels."""


@dataclass(frozen=True)
class AllOf:
    """A corroborator that holds only when every one of its conditions does (the date exact AND the same sex AND
    the same address), where no single comparison says enough."""

    conditions: tuple[Condition, ...]


Corroborator = Condition | AllOf


@dataclass(frozen=True)
class Requirement:
    """A candidate may be matched only when ``comparison`` is at a ``sufficient`` level, or at a ``corroborated``
    level while some corroborator holds. A level named in ``corroborated`` needs the corroborator even if its
    agreement is listed as sufficient: naming a level is more specific than its grade."""

    comparison: str
    sufficient: tuple[LevelSelector, ...]
    corroborated: tuple[LevelSelector, ...] = ()
    corroborators: tuple[Corroborator, ...] = ()
    # Corroborating comparisons a tracer may lack (one whose model was trained without the address line): where
    # it does, they never corroborate. Any other name the tracer lacks is refused at construction.
    if_present: tuple[str, ...] = ()
    # What a trace that it blocked says was missing (``TraceResult.blocked_by``); by default the comparison's name.
    name: str = ""
    # The relative this requirement protects against: waived for an index whose population rules it out.
    guards: Relation | None = None
    # A candidate that this requirement alone blocks, and that would otherwise be a certain match, is held for a
    # person to review (ambiguous) rather than given up as no match: nothing in the request can tell the person
    # from the relative, but a reviewer may know more.
    holds_for_review: bool = False

    @property
    def reason(self) -> str:
        return self.name or self.comparison


EXACT, CLOSE, WEAK, NONE = Agreement.EXACT, Agreement.CLOSE, Agreement.WEAK, Agreement.NONE
_NHS_NUMBER_AGREES = ("nhs_number", ("exact",))
# The same first line of an address, current or one the person has left: as specific as a postcode unit.
_ADDRESS_LINE_AGREES = ("address_line_1", ("exact", "previous_exact"))
_POSTCODE_UNIT_AGREES = ("postcode", ("unit", "previous_unit"))
# A postcode that is not a UK one (FEBRL's 4-digit suburb codes) the same as typed, and most words of the address
# line shared: as near to "the same address" as such data comes.
_SAME_ADDRESS_AS_TYPED = AllOf(
    (("postcode", ("text",)), ("address_line_1", ("exact", "previous_exact", "shared_words>=0.50")))
)
_DATE_OF_BIRTH_EXACT = ("date_of_birth", ("exact",))
_CLOSE_DATES = ("day_month_swapped", "digits_transposed", "one_digit_wrong", "first_of_january")
_FAR_DATES = ("impossible_date_same_year", "year_off_by_one", "year_and_month_or_day")
# Another year with the same birthday, the year alone, another date: a same-named father's or son's as often.
_OTHER_DATES = ("two_of_year_month_day", "year_only", NONE)
_ANY_DATE = ("exact", *_CLOSE_DATES, *_FAR_DATES, *_OTHER_DATES)


def _at_the_address(*conditions: Condition) -> tuple[AllOf, AllOf]:
    """``conditions`` and the same address: the same first line, or the same postcode unit."""
    return AllOf((*conditions, _ADDRESS_LINE_AGREES)), AllOf((*conditions, _POSTCODE_UNIT_AGREES))


DEFAULT_REQUIREMENTS = (
    # No first name at all: a twin of the same sex shares everything else the request can say. Nothing but the
    # NHS number tells them apart, so the trace is held for a reviewer (who may know more) rather than matched.
    Requirement(
        "given_name",
        sufficient=(EXACT, CLOSE, WEAK, NONE),
        corroborated=(NULL_LABEL,),
        corroborators=(_NHS_NUMBER_AGREES,),
        name="no_given_name",
        guards=Relation.TWIN,
        holds_for_review=True,
    ),
    # A first name must agree: a twin shares everything else, and twins are given names alike (ALEXANDER and
    # ALEXANDRA, TRACY and TRACEY): weak similarity is as likely a twin's name as the person's, and needs the NHS
    # number. An initial alone is what a caseworker often has; with the exact birthday at the same address and the
    # same sex, it leaves only a twin of the same initial and sex (one pair of twins in thirty-five) whom the index
    # does not hold (one it holds is a rival candidate at the same level: ambiguous).
    Requirement(
        "given_name",
        sufficient=(EXACT, CLOSE, NULL_LABEL),
        corroborated=("initial",),
        corroborators=(
            _NHS_NUMBER_AGREES,
            *_at_the_address(_DATE_OF_BIRTH_EXACT, ("sex", ("exact",))),
        ),
        if_present=("address_line_1",),
        name="first_name_agrees",
        guards=Relation.TWIN,
    ),
    # A twin's name is a nickname or a letter away from the person's more often than one would like (ANN/ANNE,
    # JADE/JANE): anything short of the exact name also needs no conflicting sex, and no conflicting postcode (a
    # twin who has moved out).
    Requirement(
        "given_name",
        sufficient=(EXACT,),
        corroborated=(CLOSE, WEAK, NULL_LABEL),
        corroborators=(("sex", ("exact", NULL_LABEL)), _NHS_NUMBER_AGREES),
        name="close_first_name_needs_no_conflicting_sex",
        guards=Relation.TWIN,
    ),
    Requirement(
        "given_name",
        sufficient=(EXACT,),
        corroborated=(CLOSE, WEAK, NONE, NULL_LABEL),
        corroborators=(
            # A postcode that is not a UK one agrees as text or conflicts; one that conflicts with the record's
            # is still no conflict where the address line is the record's.
            ("postcode", ("unit", "previous_unit", "sector", "district", "area", "text", NULL_LABEL)),
            _ADDRESS_LINE_AGREES,
            _NHS_NUMBER_AGREES,
        ),
        if_present=("address_line_1",),
        name="close_first_name_needs_no_conflicting_address",
        guards=Relation.TWIN,
    ),
    # Known by a middle name is also what a sibling sharing surname and birthday looks like when their first name is
    # the person's middle name: that needs the address (to district) to agree, or the NHS number.
    Requirement(
        "given_name",
        sufficient=(EXACT, CLOSE, WEAK, NONE, NULL_LABEL),
        corroborated=("other_given_name",),
        corroborators=(("postcode", ("unit", "previous_unit", "sector", "district")), _NHS_NUMBER_AGREES),
        name="middle_name_as_first_needs_the_address",
        guards=Relation.TWIN,
    ),
    # A family name left out is no twin's or sibling's trait (they share it): with the first name and the date of
    # birth agreeing, the same address line or postcode unit (or the NHS number) says it is this person.
    Requirement(
        "family_name",
        sufficient=(EXACT, CLOSE, WEAK, NONE),
        corroborated=(NULL_LABEL,),
        corroborators=(_ADDRESS_LINE_AGREES, _POSTCODE_UNIT_AGREES, _SAME_ADDRESS_AS_TYPED, _NHS_NUMBER_AGREES),
        if_present=("address_line_1",),
        name="family_name_agrees",
    ),
    # A different family name (married, or mistyped past recognition) is someone else at that address unless the
    # exact first name and birthday say otherwise: nobody else there shares both. Waived where nobody in the
    # population shares an address, so that there is no one else there to be.
    Requirement(
        "family_name",
        sufficient=(EXACT, CLOSE, WEAK, NULL_LABEL),
        corroborated=(NONE,),
        corroborators=(
            _NHS_NUMBER_AGREES,
            *_at_the_address(("given_name", ("exact",)), _DATE_OF_BIRTH_EXACT),
        ),
        if_present=("address_line_1",),
        name="different_family_name_needs_name_date_and_address",
        guards=Relation.HOUSEMATE,
    ),
    # A namesake born the same year is one digit away one time in thirty: a date short of exact needs a postcode, the
    # address line (or the NHS number) to say it is this person.
    Requirement(
        "date_of_birth",
        sufficient=("exact", *_FAR_DATES, *_OTHER_DATES, NULL_LABEL),
        corroborated=_CLOSE_DATES,
        corroborators=(
            ("postcode", ("unit", "previous_unit", "sector")),
            _ADDRESS_LINE_AGREES,
            _SAME_ADDRESS_AS_TYPED,
            _NHS_NUMBER_AGREES,
        ),
        if_present=("address_line_1",),
        name="close_date_of_birth_needs_the_address",
    ),
    # Further off: an impossible date in the right year, the birthday a year off, or the year with the month or the
    # day (a day or month off across a boundary): the exact first name and the family name at the same address. A
    # relative with the person's names born within a year of them is no relative anyone has.
    Requirement(
        "date_of_birth",
        sufficient=("exact", *_CLOSE_DATES, *_OTHER_DATES, NULL_LABEL),
        corroborated=_FAR_DATES,
        corroborators=(
            _NHS_NUMBER_AGREES,
            *_at_the_address(("given_name", (EXACT,)), ("family_name", (EXACT, CLOSE))),
        ),
        if_present=("address_line_1",),
        name="far_date_of_birth_needs_names_and_address",
    ),
    # The same birthday in another year, the year alone, no birthday in common: a father and son of one name at
    # one address differ in nothing else. Waived where the population has no same-named housemates; the model's
    # own weight then decides.
    Requirement(
        "date_of_birth",
        sufficient=("exact", *_CLOSE_DATES, *_FAR_DATES, NULL_LABEL),
        corroborated=_OTHER_DATES,
        corroborators=(_NHS_NUMBER_AGREES,),
        name="date_of_birth_agrees",
        guards=Relation.SAME_NAME_HOUSEMATE,
    ),
    # No date of birth at all: the same, for the same father and son; and where nobody shares a name and an
    # address, still the names at the same address, which namesakes elsewhere do not share.
    Requirement(
        "date_of_birth",
        sufficient=_ANY_DATE,
        corroborated=(NULL_LABEL,),
        corroborators=(_NHS_NUMBER_AGREES,),
        name="date_of_birth_given",
        guards=Relation.SAME_NAME_HOUSEMATE,
    ),
    Requirement(
        "date_of_birth",
        sufficient=_ANY_DATE,
        corroborated=(NULL_LABEL,),
        corroborators=(
            _NHS_NUMBER_AGREES,
            *_at_the_address(("given_name", (EXACT, CLOSE)), ("family_name", (EXACT, CLOSE))),
            AllOf(
                (("given_name", (EXACT, CLOSE)), ("family_name", (EXACT, CLOSE)), *_SAME_ADDRESS_AS_TYPED.conditions)
            ),
        ),
        if_present=("address_line_1",),
        name="date_of_birth_given_with_names_at_the_address",
    ),
)


def _positions(check: tuple) -> list[int]:
    (j, _), _, corroborators = check
    return [j, *(k for group in corroborators for k, _ in group)]


def _conditions(corroborator: Corroborator) -> tuple[Condition, ...]:
    return corroborator.conditions if isinstance(corroborator, AllOf) else (corroborator,)


class RequirementCheck:
    """Requirements compiled against a tracer's comparisons: per pair, does the candidate meet every one?

    Selectors are resolved once, here, into lookup tables indexed by level number (+1, so NULL is row 0): a
    requirement naming a comparison or level the tracer does not have fails at construction, not on a request.
    Where the comparisons the requirements name have few enough level combinations, the answer for every
    combination is worked out here too, and a check is then a single table lookup per pair.
    """

    _MAX_COMBINATIONS = 1 << 22

    def __init__(
        self,
        comparisons: Sequence[Comparison],
        requirements: Sequence[Requirement],
        waived: Collection[Relation] = frozenset(),
    ) -> None:
        """``waived``: the relatives the index's population rules out; requirements guarding against them go."""
        self._position = {c.name: j for j, c in enumerate(comparisons)}
        self._comparisons = comparisons
        self._requirements = tuple(r for r in requirements if r.guards is None or r.guards not in waived)
        self._checks = []
        for r in self._requirements:
            j, corroborated = self._table(r.comparison, r.corroborated)
            _, sufficient = self._table(r.comparison, r.sufficient)
            corroborators = [
                [self._table(name, levels) for name, levels in _conditions(corroborator)]
                for corroborator in r.corroborators
                if all(name in self._position or name not in r.if_present for name, _ in _conditions(corroborator))
            ]
            self._checks.append(((j, sufficient & ~corroborated), (j, corroborated), corroborators))
        # What a candidate blocked only by requirements that hold for review must meet to be held (None: no such
        # requirement here, nothing is held).
        kept = [r for r in self._requirements if not r.holds_for_review]
        self.reviewable = RequirementCheck(comparisons, kept) if len(kept) < len(self._requirements) else None
        # Only the comparisons some requirement names decide anything: the table is over their levels alone (an
        # address line or a town that no requirement names would multiply its size for nothing).
        self._named = sorted({j for check in self._checks for j in _positions(check)})
        sizes = [len(comparisons[j].levels) + 1 for j in self._named]
        self._all_combinations = None
        if math.prod(sizes) <= self._MAX_COMBINATIONS:
            named = np.indices(sizes).reshape(len(sizes), -1).T - 1  # every level vector, NULL included
            every = np.full((len(named), len(comparisons)), NULL, dtype=np.int64)
            every[:, self._named] = named
            self._strides = np.array([math.prod(sizes[k + 1 :]) for k in range(len(sizes))], dtype=np.intp)
            self._all_combinations = self._evaluate(every)

    def _table(self, name: str, selectors: tuple[LevelSelector, ...]) -> tuple[int, np.ndarray]:
        if name not in self._position:
            raise ValueError(f"a requirement names comparison {name!r}, which the tracer does not have")
        j = self._position[name]
        levels = self._comparisons[j].levels
        unknown = {s for s in selectors if not isinstance(s, Agreement)} - {NULL_LABEL, *(lv.label for lv in levels)}
        if unknown:
            raise ValueError(f"a requirement names levels {sorted(unknown)} that {name!r} does not have")
        chosen = [NULL_LABEL in selectors, *(lv.label in selectors or lv.agreement in selectors for lv in levels)]
        return j, np.array(chosen, dtype=bool)

    def __call__(self, gamma: np.ndarray) -> np.ndarray:
        if self._all_combinations is None:
            return self._evaluate(gamma)
        return self._all_combinations[(gamma[:, self._named].astype(np.intp) + 1) @ self._strides]

    def _evaluate(self, gamma: np.ndarray) -> np.ndarray:
        ok = np.ones(len(gamma), dtype=bool)
        for check in self._checks:
            ok &= _met(check, gamma)
        return ok

    def first_failed(self, gamma: np.ndarray) -> list[str | None]:
        """Per pair: the reason of the first requirement it does not meet, None where it meets them all."""
        out: list[str | None] = [None] * len(gamma)
        for check, requirement in zip(reversed(self._checks), reversed(self._requirements), strict=True):
            for i in np.flatnonzero(~_met(check, gamma)).tolist():
                out[i] = requirement.reason
        return out


def _met(check: tuple, gamma: np.ndarray) -> np.ndarray:
    def at(table: tuple[int, np.ndarray]) -> np.ndarray:
        j, allowed = table
        return allowed[gamma[:, j].astype(np.intp) + 1]

    sufficient, corroborated, corroborators = check
    met = at(sufficient)
    if corroborators:
        backed = np.zeros(len(gamma), dtype=bool)
        for group in corroborators:
            together = at(group[0])
            for condition in group[1:]:
                together &= at(condition)
            backed |= together
        met |= at(corroborated) & backed
    return met
