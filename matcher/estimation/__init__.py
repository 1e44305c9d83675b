"""Model estimation: the Fellegi-Sunter parameters from the index and unlabelled requests, no truth read."""

from matcher.estimation.estimator import DEFAULT_TRAINING_RULES, FellegiSunterEstimator, TrainingRule

__all__ = ["DEFAULT_TRAINING_RULES", "FellegiSunterEstimator", "TrainingRule"]
