"""Keyed Bloom-filter encodings of names (CLKs) with a diffusion layer, for matching without plaintext names.

A name's bigrams (of the name padded with "_", so first and last letters count) are each hashed to ``hashes``
positions of a ``bits``-bit filter by HMAC-SHA256 under the encoding subkey: without the key, positions cannot be
recomputed from a dictionary of names. Plain keyed CLKs still fall to attacks that need no key: frequent bit
patterns reveal frequent bigrams (pattern mining, Kroll and Steinmetzer 2015; Christen et al. 2018), and the graph
of similarities between filters can be aligned with the graph of known names (Vidanage et al. 2020). So, following
Armknecht et al. ("An efficient diffusion layer for Bloom filter encodings", 2023), every output bit is the XOR of
``taps`` input bits chosen by the key, so that no output bit belongs to one bigram, while two filters that differ
in few input bits still differ in few output bits (similarity survives as a monotone function of the Hamming
distance). That is not enough against the graph attack: filter distances still track bigram overlap, and an attack
without the key re-identified most people of an encoded index (issue 15; docs/privacy.md).

Why diffusion rather than salting by year of birth: salting by a field makes a wrong year of birth (2% of typical
requests) a total name mismatch, exactly where the name similarity matters most.

Filters are packed into uint64 words (a ``(names, bits // 64)`` matrix kept resident) and compared with numpy's
popcount.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_CHUNK = 4_096


@dataclass(frozen=True)
class BloomEncoder:
    key: bytes
    bits: int = 1024
    hashes: int = 15
    taps: int = 3

    def __post_init__(self) -> None:
        if self.bits % 64 or self.bits > 1 << 16:
            raise ValueError("bits must be a multiple of 64, at most 65,536")
        # The diffusion layer: output bit i is the XOR of input bits taps[i, :], drawn with a key-seeded generator.
        seed = int.from_bytes(hmac.digest(self.key, b"diffusion", hashlib.sha256), "little")
        object.__setattr__(self, "_taps", np.random.default_rng(seed).integers(0, self.bits, (self.bits, self.taps)))

    def _positions(self, name: str) -> list[int]:
        padded = f"_{name}_"
        positions = []
        for i in range(len(padded) - 1):
            positions += self._bigram(padded[i : i + 2])
        return positions

    def _bigram(self, bigram: str) -> list[int]:
        # A few thousand bigrams make every name: each is hashed once per encoder.
        cache = self.__dict__.setdefault("_bigrams", {})
        positions = cache.get(bigram)
        if positions is None:
            digest = hmac.digest(self.key, bigram.encode("utf-8"), hashlib.sha256)
            positions = [int.from_bytes(digest[2 * j : 2 * j + 2], "little") % self.bits for j in range(self.hashes)]
            cache[bigram] = positions
        return positions

    def encode(self, names: Sequence[str | None]) -> np.ndarray:
        """(len(names), bits // 64) uint64: each name's diffused filter; all zeros for None."""
        if len(names) > _CHUNK:  # bounded memory: the diffusion gathers bits x taps bytes per name
            return np.concatenate([self.encode(names[i : i + _CHUNK]) for i in range(0, len(names), _CHUNK)])
        plain = np.zeros((len(names), self.bits), dtype=bool)
        for row, name in enumerate(names):
            if name:
                plain[row, self._positions(name)] = True
        diffused = np.logical_xor.reduce(plain[:, self._taps], axis=2) if len(names) else plain
        diffused[[not name for name in names]] = False
        packed = np.ascontiguousarray(np.packbits(diffused, axis=1, bitorder="little"))
        return packed.view(np.uint64).reshape(len(names), self.bits // 64)


def hamming_similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per row pair: 1 - (differing bits / bits), from packed filters of the same shape."""
    differing = np.bitwise_count(left ^ right).sum(axis=1, dtype=np.int64)
    return 1.0 - differing / (left.shape[1] * 64)
