"""Scoring: Fellegi-Sunter weights per comparison level, and a pair's match weight against "not in the index"."""

from matcher.scoring.model import ComparisonParameters, FellegiSunterModel
from matcher.scoring.scorer import Scorer, Scores, check_term_frequencies, score

__all__ = ["ComparisonParameters", "FellegiSunterModel", "Scorer", "Scores", "check_term_frequencies", "score"]
