"""The Fellegi-Sunter model: per comparison level, m (the share of true matches at it) and u (of non-matches), and
the prior that a request's person is in the index; saved with the index (sealed, as its other files are).

The posterior is over "which record, if any, is this person": with prior probability ``in_index`` the person is one
of the N records, each equally likely a priori, so candidate i has posterior odds proportional to its Bayes factor
and the "not in the index" hypothesis has weight (1 - in_index) * N / in_index. A strong runner-up therefore takes
probability from the best candidate by construction.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from matcher.comparison import Comparison


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
    # Per relation (``matcher.decision.relations``), how many of the N records have such a relative in the index:
    # counted at build; None for a model saved before they were, whose index is protected against every relation.
    relations: dict[str, int] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> FellegiSunterModel:
        raw = json.loads(text)
        comparisons = tuple(
            ComparisonParameters(c["name"], tuple(c["levels"]), tuple(c["m"]), tuple(c["u"]))
            for c in raw["comparisons"]
        )
        return cls(comparisons, raw["in_index"], raw["records"], raw["training"], raw.get("relations"))

    def check_matches(self, comparisons: tuple[Comparison, ...]) -> None:
        """A model is only valid for the comparisons (and levels) it was trained on."""
        expected = [(c.name, c.labels) for c in comparisons]
        found = [(c.name, c.levels) for c in self.comparisons]
        if expected != found:
            raise ValueError(f"model was trained for comparisons {found}, tracer has {expected}")

    @property
    def prior_log2_odds(self) -> float:
        """log2 of the prior odds that one given record is the person, against "not in the index"."""
        return float(np.log2(self.in_index) - np.log2(1 - self.in_index) - np.log2(self.records))
