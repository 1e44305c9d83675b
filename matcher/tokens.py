"""64-bit tokens for values and for combinations of values (blocking keys, name pairs).

A value's token is a keyed BLAKE2b digest of its text, so the same value gets the same token in the index and in a
request; tokens of several values are combined with a SplitMix64-style mixer, vectorised in numpy, so that building
keys for millions of records is array arithmetic rather than a Python loop. The key is a constructor parameter:
the privacy issue swaps in a deployment secret without touching callers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

MISSING = np.uint64(0)
"""The token of a missing value: combinations containing it are dropped."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


class Tokeniser:
    """Maps text to non-zero 64-bit tokens with a keyed hash; same key, same tokens."""

    def __init__(self, key: bytes = b"tracing-service-public-test-key") -> None:
        self._key = key[:64]

    def token(self, value: str) -> int:
        digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8, key=self._key).digest()
        return int.from_bytes(digest, "little") or 1

    def tokens(self, values: Sequence[str | None]) -> np.ndarray:
        """Tokens of many values (MISSING for None), hashing each distinct value once."""
        cache: dict[str, int] = {}
        out = np.zeros(len(values), dtype=np.uint64)
        for i, value in enumerate(values):
            if value is None:
                continue
            t = cache.get(value)
            if t is None:
                t = cache[value] = self.token(value)
            out[i] = t
        return out


def splitmix64(x: np.ndarray) -> np.ndarray:
    x = (x + _GOLDEN).astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def combine(salt: int, parts: Iterable[np.ndarray]) -> np.ndarray:
    """One token per row for a tuple of token columns; rows with any MISSING part come out MISSING.

    Order matters (combine(1, [a, b]) != combine(1, [b, a])) and the salt separates one blocking rule's keys
    from another's.
    """
    parts = list(parts)
    with np.errstate(over="ignore"):
        h = np.full(len(parts[0]), np.uint64(salt), dtype=np.uint64)
        missing = np.zeros(len(parts[0]), dtype=bool)
        for part in parts:
            part = np.asarray(part, dtype=np.uint64)
            missing |= part == MISSING
            h = splitmix64(h ^ part)
    h[h == MISSING] = np.uint64(1)
    h[missing] = MISSING
    return h


_MASK = (1 << 64) - 1


def _splitmix64_int(x: int) -> int:
    x = (x + int(_GOLDEN)) & _MASK
    x = ((x ^ (x >> 30)) * int(_MIX1)) & _MASK
    x = ((x ^ (x >> 27)) * int(_MIX2)) & _MASK
    return x ^ (x >> 31)


def combine_one(salt: int, parts: Sequence[int]) -> int:
    """``combine`` for one row, in plain integers: for a single request, a dozen keys cost less this way than
    through numpy's per-call overhead. Same result as ``combine(salt, [[p] for p in parts])[0]``."""
    h = salt
    for part in parts:
        if part == 0:
            return 0
        h = _splitmix64_int(h ^ part)
    return h or 1


def pair_token(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """An order-free token for a pair of tokens, for looking up symmetric relations (nickname pairs)."""
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    return combine(0x5EED, [np.minimum(a, b), np.maximum(a, b)])
