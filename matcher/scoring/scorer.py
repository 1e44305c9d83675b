"""Scoring: the weight of evidence each comparison level carries, for a batch of candidate pairs.

A level's weight is log2(m / u). Levels that declare a term frequency use the value's own frequency in the index for
u (agreement on SMITH is weaker evidence than agreement on ZIELINSKI), as Splink does. Null levels weigh nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from matcher.comparison import Comparison
from matcher.scoring.model import FellegiSunterModel


@dataclass(frozen=True)
class Scores:
    """Per pair: each comparison's weight, and the total match weight (log2 Bayes factor plus prior odds)."""

    weights: np.ndarray  # (pairs x comparisons) float32
    match_weight: np.ndarray  # float64


class Scorer:
    """A model's weights compiled for a tracer's comparisons: scoring a batch is one table lookup plus the
    term-frequency adjustment of the levels that declare one."""

    def __init__(
        self,
        model: FellegiSunterModel,
        comparisons: Sequence[Comparison],
        tf_floor: float,
        term_frequencies: Collection[str],
    ) -> None:
        """``term_frequencies``: the comparisons the index keeps value frequencies for."""
        model.check_matches(comparisons)
        check_term_frequencies(comparisons, term_frequencies)
        width = 1 + max(len(c.levels) for c in comparisons)
        # Row j holds comparison j's weights at column level + 1; column 0 is NULL, which weighs nothing.
        self._table = np.zeros((len(comparisons), width), dtype=np.float32)
        self._term_frequency_levels = []
        for j, (comparison, parameters) in enumerate(zip(comparisons, model.comparisons, strict=True)):
            self._table[j, 1 : 1 + len(comparison.levels)] = parameters.weights()
            for number, level in enumerate(comparison.levels):
                if level.term_frequency:
                    log2_m = float(np.log2(parameters.m[number]))
                    self._term_frequency_levels.append((j, number, log2_m, comparison.name))
        self._columns = np.arange(len(comparisons))
        self._prior = model.prior_log2_odds
        self._tf_floor = tf_floor

    def __call__(self, gamma: np.ndarray, term_frequency: dict[str, np.ndarray]) -> Scores:
        """``term_frequency[name]`` holds, per pair, the index frequency of the record's value for comparison
        ``name``, if it has a term-frequency level."""
        weights = self._table[self._columns, gamma.astype(np.intp) + 1]
        for j, level, log2_m, name in self._term_frequency_levels:
            at = gamma[:, j] == level
            if at.any():
                frequency = np.maximum(term_frequency[name][at], self._tf_floor)
                weights[at, j] = log2_m - np.log2(frequency)
        return Scores(weights, weights.sum(axis=1, dtype=np.float64) + self._prior)


def score(
    model: FellegiSunterModel,
    comparisons: Sequence[Comparison],
    gamma: np.ndarray,
    term_frequency: dict[str, np.ndarray],
    tf_floor: float,
) -> Scores:
    """Weights for a (pairs x comparisons) level matrix (see ``Scorer``)."""
    return Scorer(model, comparisons, tf_floor, term_frequency.keys())(gamma, term_frequency)


def check_term_frequencies(comparisons: Sequence[Comparison], available: Collection[str]) -> None:
    """A comparison with a term-frequency level needs the index to keep its values' frequencies: refused here,
    not on the first pair it scores."""
    wanting = [c.name for c in comparisons if any(level.term_frequency for level in c.levels)]
    missing = [name for name in wanting if name not in available]
    if missing:
        kept = sorted(available)
        raise ValueError(f"comparisons {missing} weigh agreement by term frequency; the index keeps it for {kept}")
