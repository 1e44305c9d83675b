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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from matcher.comparison import NULL, NULL_LABEL, Agreement, Comparison

LevelSelector = str | Agreement
"""A level by its label (or NULL_LABEL for missing evidence), or every level of that agreement."""


@dataclass(frozen=True)
class Requirement:
    """A candidate may be matched only when ``comparison`` is at a ``sufficient`` level, or at a ``corroborated``
    level while some corroborator (comparison, levels) holds. A level named in ``corroborated`` needs the
    corroborator even if its agreement is listed as sufficient: naming a level is more specific than its grade."""

    comparison: str
    sufficient: tuple[LevelSelector, ...]
    corroborated: tuple[LevelSelector, ...] = ()
    corroborators: tuple[tuple[str, tuple[LevelSelector, ...]], ...] = ()
    # Corroborating comparisons a tracer may lack (one whose model was trained without the address line): where
    # it does, they never corroborate. Any other name the tracer lacks is refused at construction.
    if_present: tuple[str, ...] = ()
    # What a trace that it blocked says was missing (``TraceResult.blocked_by``); by default the comparison's name.
    name: str = ""

    @property
    def reason(self) -> str:
        return self.name or self.comparison


EXACT, CLOSE, WEAK = Agreement.EXACT, Agreement.CLOSE, Agreement.WEAK
_NHS_NUMBER_AGREES = ("nhs_number", ("exact",))
# The same first line of an address, current or one the person has left: as specific as a postcode unit.
_ADDRESS_LINE_AGREES = ("address_line_1", ("exact", "previous_exact"))

DEFAULT_REQUIREMENTS = (
    # A first name must be there and agree: a twin shares everything else. Weak similarity (a long name a few
    # letters off, the same sound) is as likely a sibling's name as a typo of the person's.
    Requirement(
        "given_name",
        sufficient=(EXACT, CLOSE),
        corroborated=(WEAK, NULL_LABEL),
        corroborators=(_NHS_NUMBER_AGREES,),
        name="first_name_agrees",
    ),
    # A sibling's name is a nickname or a letter away from the person's more often than one would like (ANN/ANNE,
    # JADE/JANE): anything short of the exact name also needs no conflicting sex and no conflicting postcode.
    Requirement(
        "given_name",
        sufficient=(EXACT,),
        corroborated=(CLOSE, WEAK, NULL_LABEL),
        corroborators=(("sex", ("exact", NULL_LABEL)), _NHS_NUMBER_AGREES),
        name="close_first_name_needs_no_conflicting_sex",
    ),
    Requirement(
        "given_name",
        sufficient=(EXACT,),
        corroborated=(CLOSE, WEAK, NULL_LABEL),
        corroborators=(
            # A postcode that is not a UK one agrees as text or conflicts; one that conflicts with the record's
            # is still no conflict where the address line is the record's.
            ("postcode", ("unit", "previous_unit", "sector", "district", "area", "text", NULL_LABEL)),
            _ADDRESS_LINE_AGREES,
            _NHS_NUMBER_AGREES,
        ),
        if_present=("address_line_1",),
        name="close_first_name_needs_no_conflicting_address",
    ),
    # Known by a middle name is also what a sibling sharing surname and birthday looks like when their first name is
    # the person's middle name: that needs the address (to district) to agree, or the NHS number.
    Requirement(
        "given_name",
        sufficient=(EXACT, CLOSE, WEAK, NULL_LABEL),
        corroborated=("other_given_name",),
        corroborators=(("postcode", ("unit", "previous_unit", "sector", "district")), _NHS_NUMBER_AGREES),
        name="middle_name_as_first_needs_the_address",
    ),
    # A family name left out is no twin's or sibling's trait (they share it): with the first name and the date of
    # birth agreeing, the same address line or postcode unit (or the NHS number) says it is this person.
    Requirement(
        "family_name",
        sufficient=(EXACT, CLOSE, WEAK),
        corroborated=(NULL_LABEL,),
        corroborators=(_ADDRESS_LINE_AGREES, ("postcode", ("unit", "previous_unit")), _NHS_NUMBER_AGREES),
        if_present=("address_line_1",),
        name="family_name_agrees",
    ),
    # A namesake born the same year is one digit away one time in thirty: a date short of exact needs a postcode, the
    # address line (or the NHS number) to say it is this person.
    Requirement(
        "date_of_birth",
        sufficient=("exact",),
        corroborated=("day_month_swapped", "digits_transposed", "one_digit_wrong", "first_of_january"),
        corroborators=(("postcode", ("unit", "previous_unit", "sector")), _ADDRESS_LINE_AGREES, _NHS_NUMBER_AGREES),
        if_present=("address_line_1",),
        name="close_date_of_birth_needs_the_address",
    ),
    # Meant to let the NHS number carry a date further off, but the requirement above already refuses such a date
    # whatever corroborates it, so this one never changes a decision (kept as written; see issue 18).
    Requirement(
        "date_of_birth",
        sufficient=("exact", "day_month_swapped", "digits_transposed", "one_digit_wrong", "first_of_january"),
        corroborated=("two_of_year_month_day", "year_only"),
        corroborators=(_NHS_NUMBER_AGREES,),
        name="far_date_of_birth_needs_the_nhs_number",
    ),
)


def _positions(check: tuple) -> list[int]:
    (j, _), _, corroborators = check
    return [j, *(k for k, _ in corroborators)]


class RequirementCheck:
    """Requirements compiled against a tracer's comparisons: per pair, does the candidate meet every one?

    Selectors are resolved once, here, into lookup tables indexed by level number (+1, so NULL is row 0): a
    requirement naming a comparison or level the tracer does not have fails at construction, not on a request.
    Where the comparisons the requirements name have few enough level combinations, the answer for every
    combination is worked out here too, and a check is then a single table lookup per pair.
    """

    _MAX_COMBINATIONS = 1 << 22

    def __init__(self, comparisons: Sequence[Comparison], requirements: Sequence[Requirement]) -> None:
        self._position = {c.name: j for j, c in enumerate(comparisons)}
        self._comparisons = comparisons
        self._requirements = tuple(requirements)
        self._checks = []
        for r in requirements:
            j, corroborated = self._table(r.comparison, r.corroborated)
            _, sufficient = self._table(r.comparison, r.sufficient)
            corroborators = [
                self._table(name, levels)
                for name, levels in r.corroborators
                if name in self._position or name not in r.if_present
            ]
            self._checks.append(((j, sufficient & ~corroborated), (j, corroborated), corroborators))
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
        for corroborator in corroborators:
            backed |= at(corroborator)
        met |= at(corroborated) & backed
    return met
