"""A list per row, held flat: the form of every multi-valued column (other given names, previous family names,
previous postcodes, the parts of compound names)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_INT32_MAX = np.iinfo(np.int32).max


@dataclass
class Ragged:
    """A list per row, as offsets (n + 1) into a flat values array."""

    offsets: np.ndarray
    values: np.ndarray

    @classmethod
    def from_lists(cls, lists: Sequence[Sequence[int]], dtype: type = np.int32) -> Ragged:
        lengths = itertools.accumulate((len(x) for x in lists), initial=0)
        offsets = np.fromiter(lengths, dtype=np.int64, count=len(lists) + 1)
        flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=dtype, count=int(offsets[-1]))
        # Four bytes per row rather than eight, on every list column of tens of millions of people.
        if offsets[-1] < _INT32_MAX:
            offsets = offsets.astype(np.int32)
        return cls(offsets, flat)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def explode(self, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(position in ``rows`` (or row number), value) for every element of the selected rows' lists."""
        if rows is None:
            rows = np.arange(len(self.offsets) - 1)
        starts = self.offsets[rows]
        owner, positions = expand_ranges(starts, self.offsets[rows + 1] - starts)
        return owner, self.values[positions]


def expand_ranges(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which range, position) for every position in the ranges [starts[i], starts[i] + lengths[i])."""
    lengths = np.asarray(lengths, dtype=np.int64)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    first = np.cumsum(lengths) - lengths
    positions = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(np.asarray(starts, np.int64) - first, lengths)
    return owner, positions
