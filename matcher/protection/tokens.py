"""64-bit tokens for values and for combinations of values (blocking keys, name pairs).

A value's token is HMAC-SHA256 of its text under the index's token subkey (``MasterKey.for_index(...).tokens``),
truncated to 64 bits: the same value gets the same token in the index and in a request, and without the key a token
says nothing about its value, not even by trying every NHS number or date of birth. 64 bits is safe here because
tokens are compared for equality within one index, never used as a MAC: two of the ~10^7 distinct values of an
index collide with probability ~10^-5, and a collision only adds a candidate. Tokens of several values are combined
with a SplitMix64-style mixer, vectorised in numpy, so that building keys for millions of records is array
arithmetic rather than a Python loop. The mixer is public: a combination that is stored (a blocking key) passes
through ``KeyedHash`` as well, so that nobody without the key can recompute it from guessed values, such as every
possible date of birth beside a stored name token.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MISSING = np.uint64(0)
"""The token of a missing value: combinations containing it are dropped."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


class Tokeniser:
    """Maps text to non-zero 64-bit tokens with a keyed hash; same key, same tokens."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a token key has at least 16 bytes: derive it with MasterKey.for_index(...).tokens")
        # HMAC (RFC 2104) with the padded key's inner and outer SHA-256 states computed once: the same digest as
        # hmac.digest at a third of the cost, which a request pays for each of its ~20 values.
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def token(self, value: str) -> int:
        inner = self._inner.copy()
        inner.update(value.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return int.from_bytes(outer.digest()[:8], "little") or 1

    def tokens(self, values: Sequence[str | None]) -> np.ndarray:
        """Tokens of many values (MISSING for None). Nothing is cached: a cache would keep the names and postcodes
        of past requests in the process, in clear."""
        return np.fromiter((0 if v is None else self.token(v) for v in values), dtype=np.uint64, count=len(values))


def splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def combine(salt: int | np.ndarray, parts: Iterable[np.ndarray]) -> np.ndarray:
    """One token per row for a tuple of token columns; rows with any MISSING part come out MISSING.

    Order matters (combine(1, [a, b]) != combine(1, [b, a])) and the salt (one, or one per row) separates one
    blocking rule's keys from another's.
    """
    parts = list(parts)
    with np.errstate(over="ignore"):
        h = salt.astype(np.uint64) if isinstance(salt, np.ndarray) else np.full(len(parts[0]), salt, dtype=np.uint64)
        missing = np.zeros(len(parts[0]), dtype=bool)
        for part in parts:
            part = np.asarray(part, dtype=np.uint64)
            missing |= part == MISSING
            h = splitmix64(h ^ part)
    h[h == MISSING] = np.uint64(1)
    h[missing] = MISSING
    return h


def pair_token(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """An order-free token for a pair of tokens, for looking up symmetric relations (nickname pairs). XOR is
    order-free; two pairs of random 64-bit tokens share it with probability 2**-64, and mixing hides it."""
    with np.errstate(over="ignore"):
        return splitmix64(np.asarray(a, dtype=np.uint64) ^ np.asarray(b, dtype=np.uint64))


class KeyedHash:
    """A keyed pseudorandom function of 64-bit values: AES of the value (one block each), truncated to 64 bits.

    AES in ECB mode is the block cipher applied to each block on its own, which is what a PRF of independent
    values is; OpenSSL does it at memory speed, so keying the ~15 blocking keys of each of ten million records
    costs about a second, and a request's few dozen keys microseconds. An ECB context keeps no state between
    blocks, so each thread makes one and reuses it: making it costs more than hashing a request's keys.
    """

    _CHUNK = 1 << 22

    def __init__(self, key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ValueError("an AES key has 16, 24 or 32 bytes: derive it with MasterKey.for_index(...).blocking")
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())
        self._per_thread = threading.local()

    def __call__(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.uint64)
        out = np.empty(len(values), dtype=np.uint64)
        encryptor = getattr(self._per_thread, "encryptor", None)
        if encryptor is None:
            encryptor = self._per_thread.encryptor = self._cipher.encryptor()
        for start in range(0, len(values), self._CHUNK):
            part = values[start : start + self._CHUNK]
            blocks = np.zeros((len(part), 2), dtype=np.uint64)
            blocks[:, 0] = part
            encrypted = np.frombuffer(encryptor.update(blocks.tobytes()), dtype=np.uint64)
            out[start : start + len(part)] = encrypted[::2]
        out[out == MISSING] = np.uint64(1)
        return out
