"""Estimating the Fellegi-Sunter parameters without ground truth, as a scikit-learn style estimator.

u (how often non-matching pairs agree at each level) comes from random pairs of index records: almost all random
pairs are different people. m (how often true matches do) comes from expectation-maximisation over the candidate
pairs that blocking finds for a sample of unlabelled trace requests, with u held fixed, as Splink does. No truth
file is read anywhere here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from matcher.blocking import BlockingIndex, BlockingRule, candidate_pairs
from matcher.comparison import Comparison, comparison_vectors, default_comparisons, derived_columns
from matcher.contract.request import Requests
from matcher.estimation.em import estimate_m, estimate_u
from matcher.index import Index
from matcher.protection.masking import RowMask
from matcher.records.entities import Entities
from matcher.scoring import ComparisonParameters, FellegiSunterModel, check_term_frequencies, score


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


class FellegiSunterEstimator:
    """Fits a ``FellegiSunterModel`` for an index from unlabelled trace requests.

    The constructor only stores parameters; ``fit`` sets what it learns as attributes ending in ``_`` and returns
    the estimator: ``u_`` and ``m_`` (per comparison, per level), ``em_rounds_`` (one summary per training rule),
    ``in_index_`` (the prior share of requests whose person is in the index) and ``model_``, all of it together.
    ``comparisons=None`` means the default comparisons for the index's mode.
    """

    def __init__(
        self,
        comparisons: Sequence[Comparison] | None = None,
        training_rules: Sequence[TrainingRule] = DEFAULT_TRAINING_RULES,
        u_pairs: int = 2_000_000,
        max_block_size: int = 1_000,
        tf_floor: float = 1e-5,
        seed: int = 0,
    ) -> None:
        self.comparisons = comparisons
        self.training_rules = training_rules
        self.u_pairs = u_pairs
        self.max_block_size = max_block_size
        self.tf_floor = tf_floor
        self.seed = seed

    def fit(self, index: Index, requests: Requests) -> FellegiSunterEstimator:
        """u from random index pairs; m per comparison as the mean over the EM rounds that estimate it; then the
        prior share of requests whose person is in the index, as the fixed point of "prior -> posterior mean" over
        the requests' candidates under the full blocking."""
        comparisons = tuple(self.comparisons or default_comparisons(index.tokeniser, encoded=index.encoded))
        check_term_frequencies(comparisons, index.term_frequency)
        names = [c.name for c in comparisons]
        entities, _ = Entities.from_requests(requests, index.tokeniser, index.encoder, derived_columns(comparisons))
        u_pairs = min(self.u_pairs, max(len(index) * 4, 10_000))
        records = index.records.unmasked()
        # Training's own blocking indexes get masks of their own: the index's would be a second use of its pads.
        training_mask = RowMask(os.urandom(32))
        u = estimate_u(records, comparisons, pairs=u_pairs, seed=self.seed)

        estimates: list[list[np.ndarray]] = [[] for _ in comparisons]
        rounds = []
        for rule in self.training_rules:
            blocking = BlockingIndex.build(records, (rule.blocking,), index.blocking.keyed, training_mask)
            req, rec = candidate_pairs(blocking, (rule.blocking,), entities, self.max_block_size, max_candidates=1_000)
            gamma = comparison_vectors(comparisons, entities, records, req, rec)
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
            ComparisonParameters(c.name, c.labels, tuple(map(float, m_c)), tuple(map(float, u_c)))
            for c, m_c, u_c in zip(comparisons, m, u, strict=True)
        )
        unfitted = FellegiSunterModel(parameters, in_index=0.5, records=len(index), training={})
        in_index = self._in_index_share(unfitted, comparisons, index, records, entities)
        training = {"requests": len(entities), "u_pairs": u_pairs, "rounds": rounds}
        self.u_, self.m_, self.em_rounds_, self.in_index_ = u, m, rounds, in_index
        self.model_ = FellegiSunterModel(parameters, in_index=in_index, records=len(index), training=training)
        return self

    def _in_index_share(
        self,
        model: FellegiSunterModel,
        comparisons: tuple[Comparison, ...],
        index: Index,
        records: Entities,
        requests: Entities,
        iterations: int = 50,
    ) -> float:
        req, rec = candidate_pairs(index.blocking, index.rules, requests, self.max_block_size, max_candidates=200)
        gamma = comparison_vectors(comparisons, requests, records, req, rec)
        frequencies = index.term_frequencies_for(records, rec)
        bayes_log2 = score(model, comparisons, gamma, frequencies, self.tf_floor).match_weight
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
