"""Comparisons: for each candidate pair, which of a field's ordered agreement levels holds.

``comparison`` (a feature column and its ordered levels), ``levels`` (what every level is: a predicate and its
label from one set of parameters), the kinds of field with their columns and levels (``names``, ``dates``,
``postcodes``, ``values``, ``text``), and ``library`` (the comparisons the tracer uses, plaintext and encoded).
"""

from matcher.comparison.comparison import NULL, NULL_LABEL, Comparison, comparison_vectors, derived_columns
from matcher.comparison.levels import Agreement, Level
from matcher.comparison.library import default_comparisons

__all__ = [
    "NULL",
    "NULL_LABEL",
    "Agreement",
    "Comparison",
    "Level",
    "comparison_vectors",
    "default_comparisons",
    "derived_columns",
]
