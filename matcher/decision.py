"""The decision: matched only when one candidate is both probable enough and clearly ahead of the rest.

Per request, over its candidates: the best candidate's posterior probability (normalised against every other
candidate and against "not in the index", see ``matcher.model``) must reach ``threshold`` AND its match weight
must beat the runner-up's by ``margin_bits``. A candidate that would pass alone but not against its rivals makes
the request ambiguous.

Before any of that, a candidate must meet every ``Requirement``: Fellegi-Sunter multiplies evidence as if the
fields were independent, and they are not where it matters most. A twin shares surname, date of birth and address
with the person, so those three would outweigh a different (or missing) first name; a namesake born the same year
shares a rare name, which would outweigh a date of birth that is only close. So a match needs a first name that
really agrees and, unless the date of birth agrees exactly, a postcode that corroborates it (or the NHS number).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from matcher.comparisons import Comparison, NameSimilarity, SpellingSimilarity


class Outcome(StrEnum):
    MATCHED = "matched"
    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"
    RESTRICTED = "restricted"


OUTCOMES = (Outcome.MATCHED, Outcome.NO_MATCH, Outcome.AMBIGUOUS, Outcome.RESTRICTED)


@dataclass(frozen=True)
class Requirement:
    """A candidate may be matched only when ``comparison`` is at a ``sufficient`` level, or at a ``corroborated``
    level while some corroborator (comparison, levels) holds. Level names; "null" stands for missing evidence."""

    comparison: str
    sufficient: tuple[str, ...]
    corroborated: tuple[str, ...] = ()
    corroborators: tuple[tuple[str, tuple[str, ...]], ...] = ()


_NHS_NUMBER_AGREES = ("nhs_number", ("exact",))


def default_requirements(similarity: NameSimilarity | None = None) -> tuple[Requirement, ...]:
    """The decision's requirements, for the name-similarity levels in use (spelling in plaintext mode, Bloom-filter
    bands in encoded mode): a close similarity counts as a variant of the name (like one edit), the rest as weak."""
    similarity = similarity or SpellingSimilarity()
    variants = ("nickname", similarity.variant, "other_given_name", "swapped_with_family")
    weak = (*similarity.weak, "phonetic", "initial", "null")
    return _requirements(variants, weak, family=(*similarity.close, *similarity.loose))


def _requirements(variants: tuple[str, ...], weak: tuple[str, ...], family: tuple[str, ...]) -> tuple[Requirement, ...]:
    return (
        # A first name must be there and agree: a twin shares everything else. Weak similarity (a long name a few
        # letters off, the same sound) is as likely a sibling's name as a typo of the person's.
        Requirement(
            "given_name",
            sufficient=("exact", *variants),
            corroborated=weak,
            corroborators=(_NHS_NUMBER_AGREES,),
        ),
        # A sibling's name is a nickname or a letter away from the person's more often than one would like
        # (ANN/ANNE, JADE/JANE): anything short of the exact name also needs no conflicting sex and no conflicting
        # postcode.
        Requirement(
            "given_name",
            sufficient=("exact",),
            corroborated=(*variants, *weak),
            corroborators=(("sex", ("exact", "null")), _NHS_NUMBER_AGREES),
        ),
        Requirement(
            "given_name",
            sufficient=("exact",),
            corroborated=(*variants, *weak),
            corroborators=(
                ("postcode", ("unit", "previous_unit", "sector", "district", "area", "null")),
                _NHS_NUMBER_AGREES,
            ),
        ),
        # Known by a middle name is also what a sibling sharing surname and birthday looks like when their first name
        # is the person's middle name: that needs the address (to district) to agree, or the NHS number.
        Requirement(
            "given_name",
            sufficient=("exact", *(v for v in variants if v != "other_given_name"), *weak),
            corroborated=("other_given_name",),
            corroborators=(("postcode", ("unit", "previous_unit", "sector", "district")), _NHS_NUMBER_AGREES),
        ),
        Requirement(
            "family_name",
            sufficient=("exact", "previous_family_name", "compound_part", *family, "phonetic", "swapped_with_given"),
        ),
        # A namesake born the same year is one digit away one time in thirty: a date short of exact needs a postcode
        # (or the NHS number) to say it is this person; a date further off needs the NHS number.
        Requirement(
            "date_of_birth",
            sufficient=("exact",),
            corroborated=("day_month_swapped", "digits_transposed", "one_digit_wrong", "first_of_january"),
            corroborators=(("postcode", ("unit", "previous_unit", "sector")), _NHS_NUMBER_AGREES),
        ),
        Requirement(
            "date_of_birth",
            sufficient=("exact", "day_month_swapped", "digits_transposed", "one_digit_wrong", "first_of_january"),
            corroborated=("two_of_year_month_day", "year_only"),
            corroborators=(_NHS_NUMBER_AGREES,),
        ),
    )


DEFAULT_REQUIREMENTS = default_requirements()


@dataclass(frozen=True)
class DecisionConfig:
    threshold: float = 0.999
    margin_bits: float = 6.0
    # None: the defaults for the tracer's comparisons (plaintext or encoded names; see default_requirements).
    requirements: tuple[Requirement, ...] | None = None


class RequirementCheck:
    """Requirements compiled against a tracer's comparisons: per pair, does the candidate meet every one?

    Level names are resolved once, here, into lookup tables indexed by level number (+1, so NULL is row 0): a
    requirement naming a comparison or level the tracer does not have fails at construction, not on a request.
    Where the comparisons have few enough level combinations (62,370 for the default six), the answer for every
    combination is worked out here too, and a check is then a single table lookup per pair.
    """

    _MAX_COMBINATIONS = 1 << 22

    def __init__(self, comparisons: Sequence[Comparison], requirements: Sequence[Requirement]) -> None:
        self._position = {c.name: j for j, c in enumerate(comparisons)}
        self._comparisons = comparisons
        self._checks = [
            (
                self._table(r.comparison, r.sufficient),
                self._table(r.comparison, r.corroborated),
                [self._table(name, levels) for name, levels in r.corroborators],
            )
            for r in requirements
        ]
        sizes = [len(c.levels) + 1 for c in comparisons]
        self._all_combinations = None
        if math.prod(sizes) <= self._MAX_COMBINATIONS:
            every = np.indices(sizes).reshape(len(sizes), -1).T - 1  # every level vector, NULL included
            self._strides = np.array([math.prod(sizes[j + 1 :]) for j in range(len(sizes))], dtype=np.intp)
            self._all_combinations = self._evaluate(every)

    def _table(self, name: str, levels: tuple[str, ...]) -> tuple[int, np.ndarray]:
        if name not in self._position:
            raise ValueError(f"a requirement names comparison {name!r}, which the tracer does not have")
        j = self._position[name]
        names = ["null", *(level.name for level in self._comparisons[j].levels)]
        unknown = set(levels) - set(names)
        if unknown:
            raise ValueError(f"a requirement names levels {sorted(unknown)} that {name!r} does not have")
        return j, np.isin(names, levels)

    def __call__(self, gamma: np.ndarray) -> np.ndarray:
        if self._all_combinations is None:
            return self._evaluate(gamma)
        return self._all_combinations[(gamma.astype(np.intp) + 1) @ self._strides]

    def _evaluate(self, gamma: np.ndarray) -> np.ndarray:
        def at(table: tuple[int, np.ndarray]) -> np.ndarray:
            j, allowed = table
            return allowed[gamma[:, j].astype(np.intp) + 1]

        ok = np.ones(len(gamma), dtype=bool)
        for sufficient, corroborated, corroborators in self._checks:
            met = at(sufficient)
            if corroborators:
                backed = np.zeros(len(gamma), dtype=bool)
                for corroborator in corroborators:
                    backed |= at(corroborator)
                met |= at(corroborated) & backed
            ok &= met
        return ok


@dataclass(frozen=True)
class Decisions:
    """Per request: outcome code (index into OUTCOMES), probability, best pair (-1: none), candidates scored."""

    outcome: np.ndarray
    probability: np.ndarray
    best_pair: np.ndarray
    runner_up_pair: np.ndarray
    candidates: np.ndarray


def decide(
    n_requests: int,
    pair_request: np.ndarray,
    match_weight: np.ndarray,
    eligible: np.ndarray,
    restricted: np.ndarray,
    config: DecisionConfig,
) -> Decisions:
    """``pair_request`` must be sorted; ``match_weight`` is log2 posterior odds of each pair against no match."""
    if n_requests == 1:
        return _decide_one(match_weight, eligible, restricted, config)
    candidates = np.bincount(pair_request, minlength=n_requests)
    weight = np.where(eligible, match_weight, -np.inf)
    order = np.lexsort((-weight, pair_request))
    req_sorted = pair_request[order]
    starts = np.searchsorted(req_sorted, np.arange(n_requests), side="left")
    has = candidates > 0
    best_pair = np.full(n_requests, -1, dtype=np.int64)
    best_pair[has] = order[starts[has]]
    has_second = candidates > 1
    runner_up = np.full(n_requests, -1, dtype=np.int64)
    runner_up[has_second] = order[starts[has_second] + 1]

    best_weight = np.full(n_requests, -np.inf)
    best_weight[has] = weight[best_pair[has]]
    second_weight = np.full(n_requests, -np.inf)
    second_weight[has_second] = weight[runner_up[has_second]]
    with np.errstate(invalid="ignore"):  # -inf - -inf where nothing is eligible
        gap = np.where(np.isfinite(second_weight), best_weight - second_weight, np.inf)
    # log2(1 + sum 2^w) per request, stably: shift by the best weight.
    shift = np.where(np.isfinite(best_weight), np.maximum(best_weight, 0.0), 0.0)
    total = np.zeros(n_requests)
    np.add.at(total, pair_request, np.exp2(weight - shift[pair_request]))
    total += np.exp2(-shift)
    probability = np.exp2(best_weight - shift) / total
    alone = 1.0 / (1.0 + np.exp2(-best_weight))

    clear = (probability >= config.threshold) & (gap >= config.margin_bits)
    outcome = np.full(n_requests, OUTCOMES.index(Outcome.NO_MATCH), dtype=np.int8)
    outcome[(alone >= config.threshold) & ~clear] = OUTCOMES.index(Outcome.AMBIGUOUS)
    outcome[clear] = OUTCOMES.index(Outcome.MATCHED)
    is_restricted = clear.copy()
    is_restricted[clear] = restricted[best_pair[clear]]
    outcome[is_restricted] = OUTCOMES.index(Outcome.RESTRICTED)
    best_pair[~np.isfinite(best_weight)] = -1
    probability = np.nan_to_num(probability, nan=0.0)
    return Decisions(outcome, probability, best_pair, runner_up, candidates)


def _decide_one(
    match_weight: np.ndarray, eligible: np.ndarray, restricted: np.ndarray, config: DecisionConfig
) -> Decisions:
    """``decide`` for a single request (one trace), in plain floats: a few candidates cost less this way than
    through forty array operations. Same decisions."""
    weights = [w if ok else -math.inf for w, ok in zip(match_weight.tolist(), eligible.tolist(), strict=True)]
    order = sorted(range(len(weights)), key=lambda i: -weights[i])  # stable, as the batch path's lexsort
    best = order[0] if order else -1
    runner_up = order[1] if len(order) > 1 else -1
    best_weight = weights[best] if order else -math.inf
    second_weight = weights[runner_up] if runner_up >= 0 else -math.inf
    gap = best_weight - second_weight if math.isfinite(second_weight) else math.inf
    shift = max(best_weight, 0.0) if math.isfinite(best_weight) else 0.0
    total = 0.0
    for w in weights:
        total += 2.0 ** (w - shift)
    total += 2.0**-shift
    probability = 2.0 ** (best_weight - shift) / total
    alone = 1.0 / (1.0 + 2.0**-best_weight) if math.isfinite(best_weight) else 0.0
    clear = probability >= config.threshold and gap >= config.margin_bits
    if clear:
        outcome = Outcome.RESTRICTED if restricted[best] else Outcome.MATCHED
    else:
        outcome = Outcome.AMBIGUOUS if alone >= config.threshold else Outcome.NO_MATCH
    return Decisions(
        outcome=np.array([OUTCOMES.index(outcome)], dtype=np.int8),
        probability=np.array([probability]),
        best_pair=np.array([best if math.isfinite(best_weight) else -1], dtype=np.int64),
        runner_up_pair=np.array([runner_up], dtype=np.int64),
        candidates=np.array([len(weights)], dtype=np.int64),
    )
