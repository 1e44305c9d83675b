"""Per-record values masked in memory: each XOR a keyed pad of its column and position, unmasked only when read.

A sealed index opens into memory, where a curious operator, a debugger or a dump of the process could read it.
Keyed tokens there still form frequency tables (which rows share a name, a date, a postcode), and a date of birth
or a restricted flag is plain. So the records' columns stay masked in memory: the value at position ``i`` of
column ``c`` is stored XOR ``PRF(key, c, i)`` (``KeyedHash``, AES), which without the key is indistinguishable
from random: no two rows' values can even be compared. A trace unmasks only the candidate rows it scores. What a
mask does not hide: the tables of distinct values (names, postcodes) the rows point into, which without the masked
pointers belong to nobody, and the total length of each list column.
"""

from __future__ import annotations

import functools
import zlib

import numpy as np

from matcher.protection.tokens import KeyedHash

_POSITION_BITS = 40


_ONE_PASS = 1 << 22  # positions hashed in one pass; more (a whole column) go column by column


def column_number(name: str) -> int:
    """A column's number in the pads' input, from its name: stable across builds, distinct per column."""
    return zlib.crc32(name.encode()) & 0xFFFFFF


@functools.cache
def _column_bits(name: str) -> np.uint64:
    return np.uint64(column_number(name) << _POSITION_BITS)


class RowMask:
    """Masks and unmasks values by column and position; the same XOR does both."""

    def __init__(self, key: bytes) -> None:
        self._hash = KeyedHash(key)

    def pads(self, column: str, positions: np.ndarray) -> np.ndarray:
        return self.pads_of([(column, positions)])[0]

    def pads_of(self, wanted: list[tuple[str, np.ndarray]]) -> list[np.ndarray]:
        """The pads of several (column, positions) at once: one pass of the cipher, which is what a trace's dozen
        columns of a few hundred candidates cost."""
        if not wanted:
            return []
        if sum(len(positions) for _, positions in wanted) > _ONE_PASS:  # whole columns: one at a time
            return [self._pads(column, positions) for column, positions in wanted]
        lengths = [len(positions) for _, positions in wanted]
        columns = np.repeat(np.array([_column_bits(column) for column, _ in wanted], dtype=np.uint64), lengths)
        pads = self._hash(columns | _checked(np.concatenate([positions for _, positions in wanted])))
        ends = np.cumsum(lengths).tolist()
        return [pads[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]

    def _pads(self, column: str, positions: np.ndarray) -> np.ndarray:
        return self._hash(_column_bits(column) | _checked(positions))

    def mask(self, column: str, values: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """``values`` (at ``positions``, by default 0..n-1) masked, as unsigned integers of the same width."""
        unsigned = _unsigned(np.ascontiguousarray(values))
        return unsigned ^ self._pads_like(column, unsigned, positions)

    def unmask(
        self, column: str, masked: np.ndarray, dtype: np.dtype, positions: np.ndarray | None = None
    ) -> np.ndarray:
        """The values of ``dtype`` back from ``mask``'s output (read at ``positions``)."""
        return with_pads(masked, self._pads_like(column, masked, positions), dtype)

    def _pads_like(self, column: str, values: np.ndarray, positions: np.ndarray | None) -> np.ndarray:
        if positions is None:
            positions = np.arange(len(values), dtype=np.uint64)
        return self.pads(column, positions).astype(values.dtype)


def _checked(positions: np.ndarray) -> np.ndarray:
    positions = np.asarray(positions)
    if len(positions) and (int(positions.min()) < 0 or int(positions.max()) >= 1 << _POSITION_BITS):
        raise ValueError(f"a position is outside 0..2**{_POSITION_BITS}: it would share another column's pads")
    return positions.astype(np.uint64)


def with_pads(masked: np.ndarray, pads: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Masked values unmasked with pads from ``pads_of``."""
    return (masked ^ pads.astype(masked.dtype)).view(np.dtype(dtype))


def _unsigned(values: np.ndarray) -> np.ndarray:
    return values.view(np.dtype(f"u{values.dtype.itemsize}"))
