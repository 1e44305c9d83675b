"""The decision: matched only when one candidate is both probable enough and clearly ahead of the rest.

Per request, over its candidates that meet every requirement (``matcher.decision.requirements``): the best
candidate's posterior probability (normalised against every other candidate and against "not in the index", see
``matcher.scoring.model``) must reach ``threshold`` AND its match weight must beat the runner-up's by
``margin_bits``. A candidate that would pass alone but not against its rivals makes the request ambiguous.

The probability reported is the one the decision used for a certain match; for any other outcome it is the model's
own: the posterior of the best-scoring candidate against every candidate and "not in the index", whether or not
that candidate meets the requirements (a requirement blocks a match, it does not change what the model says). The
tracer names the requirement that blocked it beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from matcher.decision.requirements import DEFAULT_REQUIREMENTS, Requirement


class Outcome(StrEnum):
    MATCHED = "matched"
    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"
    RESTRICTED = "restricted"  # a certain match, withheld: restricted, or at a restricted person's address
    DECEASED = "deceased"  # a certain match to someone who has died: never answered with an address


OUTCOMES = (Outcome.MATCHED, Outcome.NO_MATCH, Outcome.AMBIGUOUS, Outcome.RESTRICTED, Outcome.DECEASED)
CERTAIN = (Outcome.MATCHED, Outcome.RESTRICTED, Outcome.DECEASED)
"""The outcomes of a certain match: which one depends on the record (its standing)."""


def standing(withheld: np.ndarray, deceased: np.ndarray) -> np.ndarray:
    """Per record: the outcome a certain match to it is (an index of OUTCOMES). Withheld comes first: a restricted
    person who has died is still never disclosed, nor are their household."""
    out = np.full(len(withheld), OUTCOMES.index(Outcome.MATCHED), dtype=np.int8)
    out[deceased] = OUTCOMES.index(Outcome.DECEASED)
    out[withheld] = OUTCOMES.index(Outcome.RESTRICTED)
    return out


@dataclass(frozen=True)
class DecisionConfig:
    threshold: float = 0.999
    margin_bits: float = 6.0
    requirements: tuple[Requirement, ...] = DEFAULT_REQUIREMENTS


@dataclass(frozen=True)
class Decisions:
    """Per request: outcome code (index into OUTCOMES), probability, best pair (-1: none), candidates scored;
    ``model_best_pair``: the best-scoring candidate whether or not it meets the requirements (-1: none)."""

    outcome: np.ndarray
    probability: np.ndarray
    best_pair: np.ndarray
    runner_up_pair: np.ndarray
    candidates: np.ndarray
    model_best_pair: np.ndarray


def decide(
    n_requests: int,
    pair_request: np.ndarray,
    match_weight: np.ndarray,
    eligible: np.ndarray,
    standings: np.ndarray,
    config: DecisionConfig,
) -> Decisions:
    """``pair_request`` must be sorted; ``match_weight`` is log2 posterior odds of each pair against no match;
    ``standings``, per pair, what a certain match to its record is (``standing``)."""
    if n_requests == 1:
        return _decide_one(match_weight, eligible, standings, config)
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
    outcome[clear] = standings[best_pair[clear]]
    best_pair[~np.isfinite(best_weight)] = -1
    probability = np.nan_to_num(probability, nan=0.0)
    model_best, model_probability = _model_view(n_requests, pair_request, match_weight, starts, has)
    probability = np.where(clear, probability, model_probability)
    return Decisions(outcome, probability, best_pair, runner_up, candidates, model_best)


def _model_view(
    n_requests: int, pair_request: np.ndarray, match_weight: np.ndarray, starts: np.ndarray, has: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per request: the best-scoring candidate, requirements aside, and its posterior against every candidate and
    "not in the index" (0 with no candidate). ``starts``: where each request's pairs begin in request order."""
    order = np.lexsort((-match_weight, pair_request))
    best = np.full(n_requests, -1, dtype=np.int64)
    best[has] = order[starts[has]]
    best_weight = np.zeros(n_requests)
    best_weight[has] = match_weight[best[has]]
    shift = np.maximum(best_weight, 0.0)
    total = np.zeros(n_requests)
    np.add.at(total, pair_request, np.exp2(match_weight - shift[pair_request]))
    total += np.exp2(-shift)
    return best, np.where(has, np.exp2(best_weight - shift) / total, 0.0)


def _decide_one(
    match_weight: np.ndarray, eligible: np.ndarray, standings: np.ndarray, config: DecisionConfig
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
    model_best = -1
    if clear:
        outcome = OUTCOMES[standings[best]]
    else:
        outcome = Outcome.AMBIGUOUS if alone >= config.threshold else Outcome.NO_MATCH
    if match_weight.size:  # the model's view, requirements aside (see ``_model_view``)
        raw = match_weight.tolist()
        model_best = max(range(len(raw)), key=lambda i: (raw[i], -i))
        top = max(raw[model_best], 0.0)
        model_probability = 2.0 ** (raw[model_best] - top) / (sum(2.0 ** (w - top) for w in raw) + 2.0**-top)
        if not clear:
            probability = model_probability
    elif not clear:
        probability = 0.0
    return Decisions(
        outcome=np.array([OUTCOMES.index(outcome)], dtype=np.int8),
        probability=np.array([probability]),
        best_pair=np.array([best if math.isfinite(best_weight) else -1], dtype=np.int64),
        runner_up_pair=np.array([runner_up], dtype=np.int64),
        candidates=np.array([len(weights)], dtype=np.int64),
        model_best_pair=np.array([model_best], dtype=np.int64),
    )
