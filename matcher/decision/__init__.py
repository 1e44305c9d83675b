"""The decision: which candidates may be matched at all (requirements), and whether one is certain enough."""

from matcher.decision.decide import OUTCOMES, DecisionConfig, Decisions, Outcome, decide
from matcher.decision.requirements import DEFAULT_REQUIREMENTS, Requirement, RequirementCheck

__all__ = [
    "DEFAULT_REQUIREMENTS",
    "OUTCOMES",
    "DecisionConfig",
    "Decisions",
    "Outcome",
    "Requirement",
    "RequirementCheck",
    "decide",
]
