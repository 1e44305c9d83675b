"""Estimating the Fellegi-Sunter parameters without ground truth.

u (how often non-matching pairs agree at each level) comes from random pairs of index records: almost all random
pairs are different people. m (how often true matches do) comes from expectation-maximisation over the candidate
pairs that blocking finds for a sample of unlabelled trace requests, with u held fixed, as Splink does. No truth
file is read anywhere here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.blocking import BlockingIndex, BlockingRule, candidate_pairs
from matcher.comparisons import NULL, Comparison, comparison_vectors, default_comparisons
from matcher.entities import Entities
from matcher.index import Index
from matcher.model import ComparisonParameters, FellegiSunterModel, score
from matcher.request import Requests, to_entities


@dataclass(frozen=True)
class TrainingRule:
    """One EM round: candidate pairs from ``blocking``; the comparisons on blocked fields are not estimated in
    this round, since blocking made them agree (Splink's training blocking rules work the same way)."""

    blocking: BlockingRule
    fixed: tuple[str, ...]


DEFAULT_TRAINING_RULES = (
    TrainingRule(
        BlockingRule("family_soundex+dob", ("family_soundex", "date_of_birth")), ("family_name", "date_of_birth")
    ),
    TrainingRule(
        BlockingRule("given_soundex+district", ("given_soundex", "postcode_district")), ("given_name", "postcode")
    ),
)


@dataclass(frozen=True)
class EmResult:
    m: list[np.ndarray]
    match_share: float  # lambda: share of candidate pairs that are matches
    iterations: int
    converged: bool


def level_shares(gamma: np.ndarray, comparisons: tuple[Comparison, ...], weights: np.ndarray | None = None):
    """Per comparison, the (weighted) share of non-null pairs at each level, smoothed so none is zero."""
    shares = []
    for j, comparison in enumerate(comparisons):
        levels = gamma[:, j]
        present = levels != NULL
        w = np.ones(int(present.sum())) if weights is None else weights[present]
        counts = np.bincount(levels[present], weights=w, minlength=len(comparison.levels)).astype(float)
        counts += 0.5  # a level never seen in the sample is rare, not impossible
        shares.append(counts / counts.sum())
    return shares


def estimate_u(
    records: Entities, comparisons: tuple[Comparison, ...], pairs: int = 2_000_000, seed: int = 0
) -> list[np.ndarray]:
    """u per level from ``pairs`` random (record, other record) pairs, one record playing the request."""
    rng = np.random.default_rng(seed)
    n = len(records)
    left = rng.integers(0, n, pairs)
    right = (left + rng.integers(1, n, pairs)) % n  # never the same record
    gamma = comparison_vectors(comparisons, records, records, left, right)
    return level_shares(gamma, comparisons)


def estimate_m(
    gamma: np.ndarray,
    comparisons: tuple[Comparison, ...],
    u: list[np.ndarray],
    active: list[bool] | None = None,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
) -> EmResult:
    """EM for m and the match share over unlabelled candidate pairs, u fixed; inactive comparisons are left out
    of the likelihood (their m stays at the starting guess)."""
    active = active if active is not None else [True] * len(comparisons)
    m = []
    for comparison in comparisons:
        # Start believing matches mostly agree exactly and rarely disagree outright.
        start = np.geomspace(1.0, 1e-3, len(comparison.levels))
        m.append(start / start.sum())
    share = 0.1
    log_u = [np.log(x) for x in u]
    converged = False
    iteration = 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007 - reported below
        log_ratio = np.zeros(len(gamma))
        for j in range(len(comparisons)):
            if not active[j]:
                continue
            levels = gamma[:, j]
            present = levels != NULL
            log_ratio[present] += np.log(m[j])[levels[present]] - log_u[j][levels[present]]
        prior = np.log(share) - np.log1p(-share)
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_ratio + prior, -700, 700)))
        new_m = [
            x if on else old for x, on, old in zip(level_shares(gamma, comparisons, posterior), active, m, strict=True)
        ]
        new_share = float(np.clip(posterior.mean(), 1e-6, 1 - 1e-6))
        change = max(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True))
        change = max(change, abs(new_share - share))
        m, share = new_m, new_share
        if change < tolerance:
            converged = True
            break
    return EmResult(m=m, match_share=share, iterations=iteration, converged=converged)


def fit_model(
    index: Index,
    training_requests: Requests,
    comparisons: tuple[Comparison, ...] | None = None,
    rules: tuple[TrainingRule, ...] = DEFAULT_TRAINING_RULES,
    u_pairs: int = 2_000_000,
    max_block_size: int = 1_000,
    tf_floor: float = 1e-5,
    seed: int = 0,
) -> FellegiSunterModel:
    """Estimate every parameter from the index and unlabelled requests.

    u from random index pairs; m per comparison as the mean over the EM rounds that estimate it; then the prior
    share of requests whose person is in the index, as the fixed point of "prior -> posterior mean" over the
    requests' candidates under the full blocking.
    """
    comparisons = comparisons or default_comparisons(index.tokeniser, encoded=index.encoded)
    names = [c.name for c in comparisons]
    requests, _ = to_entities(training_requests, index.tokeniser, index.encoder)
    u_pairs = min(u_pairs, max(len(index) * 4, 10_000))
    u = estimate_u(index.records, comparisons, pairs=u_pairs, seed=seed)

    estimates: list[list[np.ndarray]] = [[] for _ in comparisons]
    rounds = []
    for rule in rules:
        blocking = BlockingIndex.build(index.records, (rule.blocking,))
        req, rec = candidate_pairs(blocking, (rule.blocking,), requests, max_block_size, max_candidates=1_000)
        gamma = comparison_vectors(comparisons, requests, index.records, req, rec)
        active = [name not in rule.fixed for name in names]
        em = estimate_m(gamma, comparisons, u, active)
        for j, on in enumerate(active):
            if on:
                estimates[j].append(em.m[j])
        rounds.append(
            {
                "rule": rule.blocking.name,
                "pairs": len(gamma),
                "iterations": em.iterations,
                "converged": em.converged,
                "match_share": round(em.match_share, 4),
            }
        )
    missing = [n for n, e in zip(names, estimates, strict=True) if not e]
    if missing:
        raise ValueError(f"no training rule estimates m for {missing}")
    m = [np.mean(e, axis=0) for e in estimates]
    parameters = tuple(
        ComparisonParameters(c.name, tuple(lv.name for lv in c.levels), tuple(map(float, m_c)), tuple(map(float, u_c)))
        for c, m_c, u_c in zip(comparisons, m, u, strict=True)
    )
    model = FellegiSunterModel(parameters, in_index=0.5, records=len(index), training={})
    in_index = _in_index_share(model, comparisons, index, requests, max_block_size, tf_floor)
    training = {"requests": len(requests), "u_pairs": u_pairs, "rounds": rounds}
    return FellegiSunterModel(parameters, in_index=in_index, records=len(index), training=training)


def _in_index_share(
    model: FellegiSunterModel,
    comparisons: tuple[Comparison, ...],
    index: Index,
    requests: Entities,
    max_block_size: int,
    tf_floor: float,
    iterations: int = 50,
) -> float:
    req, rec = candidate_pairs(index.blocking, index.rules, requests, max_block_size, max_candidates=200)
    gamma = comparison_vectors(comparisons, requests, index.records, req, rec)
    bayes_log2 = score(model, comparisons, gamma, index.term_frequencies_for(rec), tf_floor).match_weight
    bayes_log2 = bayes_log2 - model.prior_log2_odds
    share = 0.5
    for _ in range(iterations):
        prior = np.log2(share) - np.log2(1 - share) - np.log2(len(index))
        total = np.zeros(len(requests))
        np.add.at(total, req, np.exp2(np.minimum(bayes_log2 + prior, 60)))
        new = float(np.clip(np.mean(total / (1 + total)), 0.01, 0.99))
        if abs(new - share) < 1e-6:
            break
        share = new
    return share
