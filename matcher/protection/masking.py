"""Per-record values masked in memory: each XOR a keyed pad of its column and position, unmasked only when read.

A sealed index opens into memory, where a curious operator, a debugger or a dump of the process could read it.
Keyed tokens there still form frequency tables (which rows share a name, a date, a postcode), and a date of birth
or a restricted flag is plain. So the records' columns stay masked in memory: the value at position ``i`` of
column ``c`` is stored XOR ``PRF(key, c, i)`` (``KeyedHash``, AES), which without the key is indistinguishable
from random: no two rows' values can even be compared. A trace unmasks only the candidate rows it scores. What a
mask does not hide: how many values a row's lists hold, and the tables of distinct values (names, postcodes) the
rows point into, which without the masked pointers belong to nobody.
"""

from __future__ import annotations

import zlib

import numpy as np

from matcher.protection.tokens import KeyedHash

_POSITION_BITS = 40


def column_number(name: str) -> int:
    """A column's number in the pads' input, from its name: stable across builds, distinct per column."""
    return zlib.crc32(name.encode()) & 0xFFFFFF


class RowMask:
    """Masks and unmasks values by column and position; the same XOR does both."""

    def __init__(self, key: bytes) -> None:
        self._hash = KeyedHash(key)

    def pads(self, column: str, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.uint64)
        if len(positions) and int(positions.max()) >> _POSITION_BITS:
            raise ValueError(f"positions are below 2**{_POSITION_BITS}")
        return self._hash(np.uint64(column_number(column) << _POSITION_BITS) | positions)

    def mask(self, column: str, values: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """``values`` (at ``positions``, by default 0..n-1) masked, as unsigned integers of the same width."""
        unsigned = _unsigned(np.ascontiguousarray(values))
        return unsigned ^ self._pads_like(column, unsigned, positions)

    def unmask(
        self, column: str, masked: np.ndarray, dtype: np.dtype, positions: np.ndarray | None = None
    ) -> np.ndarray:
        """The values of ``dtype`` back from ``mask``'s output (read at ``positions``)."""
        plain = masked ^ self._pads_like(column, masked, positions)
        return plain.view(np.dtype(dtype))

    def _pads_like(self, column: str, values: np.ndarray, positions: np.ndarray | None) -> np.ndarray:
        if positions is None:
            positions = np.arange(len(values), dtype=np.uint64)
        return self.pads(column, positions).astype(values.dtype)


def _unsigned(values: np.ndarray) -> np.ndarray:
    return values.view(np.dtype(f"u{values.dtype.itemsize}"))
