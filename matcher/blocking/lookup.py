"""The inverted index from blocking keys to records, and the candidate pairs of a batch of requests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from matcher.blocking.keys import all_keys, keys_by_rule
from matcher.blocking.rules import BlockingRule
from matcher.protection.masking import RowMask
from matcher.protection.tokens import KeyedHash
from matcher.records.entities import Entities
from matcher.records.ragged import expand_ranges


@dataclass
class BlockingIndex:
    """An inverted index from 64-bit keys to the records holding them, in about 8.5 bytes per key.

    Keys are sorted; the top ``bits`` of a key pick a bucket (``directory[b]:directory[b + 1]`` are its
    positions) and the next 32 bits, the key's ``residual``, are all that is stored per key beside the record. Two
    keys are taken as equal when they agree on bits + 32 bits (56 at ten million records): a collision only adds a
    candidate to be scored, never removes one. Buckets hold a handful of keys plus at most one large block, so a
    lookup compares residuals across the bucket instead of searching.

    Every key passes through the index's ``KeyedHash`` on its way in, at build and at lookup: the keys as
    ``all_keys`` folds them mix raw date values with a public function, which anyone could recompute from guesses.
    The rows beside the keys are masked by their position (``RowMask``), and unmasked only for the keys a lookup
    hits: in clear they would say which rows share a key, and so group people by family name, by household, by
    date of birth, without any key at all.
    """

    directory: np.ndarray  # uint32 (int64 past 4G keys), 2**bits + 1 bucket starts
    residuals: np.ndarray  # uint32
    rows: np.ndarray  # uint32, masked
    keyed: KeyedHash = field(repr=False)
    mask: RowMask = field(repr=False)

    @property
    def bits(self) -> int:
        return (len(self.directory) - 1).bit_length() - 1

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def build(
        cls, records: Entities, rules: tuple[BlockingRule, ...], keyed: KeyedHash, mask: RowMask
    ) -> BlockingIndex:
        """Keys of every record under every rule. Blocks over a rule's own ``max_block_size`` are left out: a
        lookup would skip them anyway. One rule at a time, so that the build's memory is the index's plus one
        rule's keys, not every rule's keys with their sorting orders."""
        kept_keys, kept_rows = [], []
        for number, row, key in keys_by_rule(records, rules, as_request=False):
            key = keyed(key)
            order = np.argsort(key, kind="stable")  # rows were sorted within each key, and stay so
            key, row = key[order], row[order].astype(np.uint32)
            del order
            starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
            counts = np.diff(np.append(starts, len(key)))
            limit = rules[number].max_block_size or np.iinfo(np.int64).max
            keep = np.repeat(counts <= limit, counts)
            kept_keys.append(key[keep])
            kept_rows.append(row[keep])
        keys, rows = np.concatenate(kept_keys), np.concatenate(kept_rows)
        del kept_keys, kept_rows
        order = np.argsort(keys, kind="stable")
        return cls.from_sorted(keys[order], rows[order], keyed, mask)

    @classmethod
    def from_sorted(cls, keys: np.ndarray, rows: np.ndarray, keyed: KeyedHash, mask: RowMask) -> BlockingIndex:
        """From keys already keyed, sorted, and their rows."""
        # About eight keys per bucket: the directory costs half a byte per key.
        bits = int(np.clip(int(max(len(keys), 1) - 1).bit_length() - 3, 4, 30))
        bucket = keys >> np.uint64(64 - bits)
        index_type = np.uint32 if len(keys) < 2**32 else np.int64
        directory = np.searchsorted(bucket, np.arange(2**bits + 1, dtype=np.uint64)).astype(index_type)
        residuals = ((keys >> np.uint64(32 - bits)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        masked = mask.mask(_ROWS, rows.astype(np.uint32))
        return cls(directory=directory, residuals=residuals, rows=masked, keyed=keyed, mask=mask)

    def lookup(self, keys: np.ndarray, max_block_size: int | np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """(which key, record) for every record under each key (as ``all_keys`` gives them, not yet keyed);
        blocks over ``max_block_size`` are skipped.

        Returns the pairs and how many keys were skipped for being too common.
        """
        bits = self.bits
        keys = self.keyed(keys)
        bucket = (keys >> np.uint64(64 - bits)).astype(np.intp)
        residual = ((keys >> np.uint64(32 - bits)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        starts = self.directory[bucket].astype(np.int64)
        key_index, positions = expand_ranges(starts, self.directory[bucket + 1].astype(np.int64) - starts)
        hit = self.residuals[positions] == residual[key_index]
        key_index, positions = key_index[hit], positions[hit]
        sizes = np.bincount(key_index, minlength=len(keys))
        too_big = sizes > max_block_size
        keep = ~too_big[key_index]
        positions = positions[keep]
        rows = self.mask.unmask(_ROWS, self.rows[positions], np.dtype(np.uint32), positions)
        return key_index[keep], rows.astype(np.int64), int(too_big.sum())


_ROWS = "blocking.rows"


def scored(rule: BlockingRule) -> bool:
    """The rules whose candidates the core scores: all but the service's probe-only rules."""
    return not rule.probe_only


def candidate_pairs(
    blocking: BlockingIndex,
    rules: tuple[BlockingRule, ...],
    requests: Entities,
    max_block_size: int,
    max_candidates: int,
    including: Callable[[BlockingRule], bool] | None = scored,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, distinct (request, record) pairs under any rule ``including`` chooses (None: every rule); at most
    ``max_candidates`` per request, keeping the records found by most keys."""
    rows, keys, rule = all_keys(requests, rules, as_request=True, including=including)
    limits = np.array([r.max_block_size or max_block_size for r in rules], dtype=np.int64)
    key_index, records, _ = blocking.lookup(keys, limits[rule])
    pair = rows[key_index].astype(np.int64) << 32 | records
    pair, hits = np.unique(pair, return_counts=True)
    request, record = pair >> 32, pair & 0xFFFFFFFF
    counts = np.bincount(request, minlength=len(requests))
    if counts.max(initial=0) > max_candidates:
        order = np.lexsort((-hits, request))
        rank = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
        keep = np.sort(order[rank < max_candidates])
        request, record = request[keep], record[keep]
    return request, record
