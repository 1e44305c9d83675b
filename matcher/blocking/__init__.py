"""Blocking: which records are worth scoring for a request, found through keyed blocking keys and an inverted
index, never a scan."""

from matcher.blocking.keys import all_keys, rule_keys
from matcher.blocking.lookup import BlockingIndex, candidate_pairs
from matcher.blocking.rules import DEFAULT_RULES, BlockingRule

__all__ = ["DEFAULT_RULES", "BlockingIndex", "BlockingRule", "all_keys", "candidate_pairs", "rule_keys"]
