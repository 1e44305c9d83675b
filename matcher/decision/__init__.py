"""The decision: which candidates may be matched at all (requirements), and whether one is certain enough."""

from matcher.decision.decide import CERTAIN, OUTCOMES, DecisionConfig, Decisions, Outcome, decide, standing
from matcher.decision.requirements import DEFAULT_REQUIREMENTS, Requirement, RequirementCheck

__all__ = [
    "CERTAIN",
    "DEFAULT_REQUIREMENTS",
    "OUTCOMES",
    "DecisionConfig",
    "Decisions",
    "Outcome",
    "Requirement",
    "RequirementCheck",
    "decide",
    "standing",
]
