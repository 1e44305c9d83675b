"""Fellegi-Sunter scoring: the weight of evidence each comparison level carries, and the posterior per candidate.

A level's weight is log2(m / u): m the share of true matches at that level, u the share of non-matches. Levels that
declare a term frequency use the value's own frequency in the index for u (agreement on SMITH is weaker evidence
than agreement on ZIELINSKI), as Splink does. Null levels weigh nothing.

The posterior is over "which record, if any, is this person": with prior probability ``in_index`` the person is one
of the N records, each equally likely a priori, so candidate i has posterior odds proportional to its Bayes factor
and the "not in the index" hypothesis has weight (1 - in_index) * N / in_index. A strong runner-up therefore takes
probability from the best candidate by construction.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from matcher.comparisons import Comparison


@dataclass(frozen=True)
class ComparisonParameters:
    name: str
    levels: tuple[str, ...]
    m: tuple[float, ...]
    u: tuple[float, ...]

    def weights(self) -> np.ndarray:
        return np.log2(np.asarray(self.m)) - np.log2(np.asarray(self.u))


@dataclass(frozen=True)
class FellegiSunterModel:
    comparisons: tuple[ComparisonParameters, ...]
    in_index: float  # prior probability that a request's person is in the index
    records: int  # N, the index size the prior is spread over
    training: dict  # how the parameters were estimated (pairs, iterations, converged)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> FellegiSunterModel:
        raw = json.loads(path.read_text())
        comparisons = tuple(
            ComparisonParameters(c["name"], tuple(c["levels"]), tuple(c["m"]), tuple(c["u"]))
            for c in raw["comparisons"]
        )
        return cls(comparisons, raw["in_index"], raw["records"], raw["training"])

    def check_matches(self, comparisons: tuple[Comparison, ...]) -> None:
        """A model is only valid for the comparisons (and levels) it was trained on."""
        expected = [(c.name, tuple(level.name for level in c.levels)) for c in comparisons]
        found = [(c.name, c.levels) for c in self.comparisons]
        if expected != found:
            raise ValueError(f"model was trained for comparisons {found}, tracer has {expected}")

    @property
    def prior_log2_odds(self) -> float:
        """log2 of the prior odds that one given record is the person, against "not in the index"."""
        return float(np.log2(self.in_index) - np.log2(1 - self.in_index) - np.log2(self.records))


@dataclass(frozen=True)
class Scores:
    """Per pair: each comparison's weight, and the total match weight (log2 Bayes factor plus prior odds)."""

    weights: np.ndarray  # (pairs x comparisons) float32
    match_weight: np.ndarray  # float64


class Scorer:
    """A model's weights compiled for a tracer's comparisons: scoring a batch is one table lookup plus the
    term-frequency adjustment of the levels that declare one."""

    def __init__(self, model: FellegiSunterModel, comparisons: tuple[Comparison, ...], tf_floor: float) -> None:
        model.check_matches(comparisons)
        width = 1 + max(len(c.levels) for c in comparisons)
        # Row j holds comparison j's weights at column level + 1; column 0 is NULL, which weighs nothing.
        self._table = np.zeros((len(comparisons), width), dtype=np.float32)
        self._term_frequency_levels = []
        for j, (comparison, parameters) in enumerate(zip(comparisons, model.comparisons, strict=True)):
            self._table[j, 1 : 1 + len(comparison.levels)] = parameters.weights()
            for number, level in enumerate(comparison.levels):
                if level.term_frequency is not None:
                    log2_m = float(np.log2(parameters.m[number]))
                    self._term_frequency_levels.append((j, number, log2_m, level.term_frequency))
        self._columns = np.arange(len(comparisons))
        self._prior = model.prior_log2_odds
        self._tf_floor = tf_floor

    def __call__(self, gamma: np.ndarray, term_frequency: dict[str, np.ndarray]) -> Scores:
        """``term_frequency[name]`` holds, per pair, the index frequency of the record's value for a comparison
        with a term-frequency level."""
        weights = self._table[self._columns, gamma.astype(np.intp) + 1]
        for j, level, log2_m, name in self._term_frequency_levels:
            at = gamma[:, j] == level
            if at.any():
                frequency = np.maximum(term_frequency[name][at], self._tf_floor)
                weights[at, j] = log2_m - np.log2(frequency)
        return Scores(weights, weights.sum(axis=1, dtype=np.float64) + self._prior)


def score(
    model: FellegiSunterModel,
    comparisons: tuple[Comparison, ...],
    gamma: np.ndarray,
    term_frequency: dict[str, np.ndarray],
    tf_floor: float,
) -> Scores:
    """Weights for a (pairs x comparisons) level matrix (see ``Scorer``)."""
    return Scorer(model, comparisons, tf_floor)(gamma, term_frequency)
