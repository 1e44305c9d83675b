"""Dates of birth as keyed tokens, for encoded indexes."""

from __future__ import annotations

import numpy as np

from matcher.protection.tokens import Tokeniser


class DateTokens:
    """Dates of birth at rest in encoded mode: the year, month and day as typed, each a keyed token.

    The service holds the key, so it decodes them when it loads the index (a token is looked up among the tokens
    of every possible year, month and day: 10,200 values), and every date comparison level (day/month swap, one
    digit wrong, ...) works as in plaintext mode. Without the key, the tokens say nothing.
    """

    def __init__(self, tokeniser: Tokeniser) -> None:
        self._tokeniser = tokeniser
        self._tables = [self._table(prefix, limit) for prefix, limit in _DATE_PARTS]

    def _table(self, prefix: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
        tokens = self._tokeniser.tokens([f"{prefix}:{v}" for v in range(limit)], cache=False)
        order = np.argsort(tokens)
        return tokens[order], order.astype(np.int64)

    def encode(self, dates: np.ndarray) -> np.ndarray:
        """(n, 3) uint64 tokens of YYYYMMDD ints (0: missing, all MISSING)."""
        dates = np.asarray(dates, dtype=np.int64)
        parts = (dates // 10_000, (dates // 100) % 100, dates % 100)
        out = np.zeros((len(dates), 3), dtype=np.uint64)
        for j, ((tokens, values), part) in enumerate(zip(self._tables, parts, strict=True)):
            by_value = np.empty(len(tokens), dtype=np.uint64)
            by_value[values] = tokens
            out[:, j] = np.where(dates > 0, by_value[part], 0)
        return out

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """YYYYMMDD ints back from ``encode``'s tokens; ValueError for a token no date of this key makes."""
        parts = []
        for j, (sorted_tokens, values) in enumerate(self._tables):
            column = tokens[:, j]
            at = np.minimum(np.searchsorted(sorted_tokens, column), len(sorted_tokens) - 1)
            known = (sorted_tokens[at] == column) | (column == 0)
            if not known.all():
                raise ValueError("date tokens of another key: is this the index's key?")
            parts.append(np.where(column == 0, 0, values[at]))
        return (parts[0] * 10_000 + parts[1] * 100 + parts[2]).astype(np.int32)


_DATE_PARTS = (("year", 10_000), ("month", 100), ("day", 100))
