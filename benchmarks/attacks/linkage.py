"""Linkage across two indexes made under one master key: the same value gets the same token in both, so records
link by equal tokens without opening anything. Two extracts (or one population indexed in plaintext and encoded
mode) then join into one, and whatever either leaks about a person, both do.

Columns tried, in order: the NHS number token, then the pair of family- and given-name tokens with the date-of-
birth tokens (or the date) where that combination is unique on both sides; then, needing no key at all, each row's
shape (how many other given names, previous family names and previous postcodes it lists, and the sizes of the
blocking groups it is in), which the red team found pairs every row of two indexes of one extract.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchmarks.attacks.blocking_groups import groups
from benchmarks.attacks.views import View, array, records_count
from matcher.protection.tokens import MISSING, combine


@dataclass
class LinkResult:
    links: np.ndarray  # per row of the first index: the linked row of the second, -1 none
    notes: list[str] = field(default_factory=list)


def _keys(view: View) -> list[tuple[str, np.ndarray]]:
    """Per-record deterministic keys (MISSING where unknown), strongest first."""
    out = []
    n = records_count(view)
    nhs = array(view, "records.nhs_number", "u", 1)
    if nhs is not None and len(nhs) == n:
        out.append(("nhs_number token", nhs))
    token = array(view, "names.token", "u", 1)
    family, given = array(view, "records.family", "i", 1), array(view, "records.given", "i", 1)
    if token is not None and family is not None and given is not None and len(family) == n:
        names = [token[family], token[given]]  # position -1 reads the last entry: MISSING
        dob_tokens = array(view, "records.date_of_birth_tokens", "u", 2)
        dob = array(view, "records.date_of_birth", "iu", 1)
        if dob_tokens is not None and dob_tokens.shape == (n, 3):
            out.append(("names + date tokens", combine(7, [*names, *dob_tokens.T])))
        if dob is not None and len(dob) == n:
            out.append(("names + date", combine(7, [*names, dob.astype(np.uint64)])))
        out.append(("names", combine(7, names)))
    shape = _row_shapes(view, n)
    if shape is not None:
        out.append(("row shape (no key)", shape))
    return out


def _row_shapes(view: View, n: int | None) -> np.ndarray | None:
    """Per row, a hash of its list lengths and of the sizes of its blocking groups, where those are readable."""
    if not n:
        return None
    parts = []
    for name in ("other_given", "previous_family", "previous_postcodes"):
        offsets = array(view, f"records.{name}.offsets", "iu", 1)
        if offsets is not None and len(offsets) == n + 1 and (np.diff(offsets.astype(np.int64)) >= 0).all():
            parts.append(np.diff(offsets.astype(np.int64)).astype(np.uint64) + np.uint64(1))
    found = groups(view)
    if found is not None and (found[1] < n).all():
        group, row = found
        size = np.bincount(group)[group].astype(np.uint64)
        # An order-free summary of the row's group sizes: their count, sum and sum of squares.
        for values in (np.ones_like(size), size, size * size):
            parts.append(np.bincount(row, weights=values.astype(np.float64), minlength=n).astype(np.uint64) + 1)
    return combine(11, parts) if parts else None


def _unique(keys: np.ndarray) -> dict[int, int]:
    values, first, counts = np.unique(keys, return_index=True, return_counts=True)
    keep = (counts == 1) & (values != MISSING)
    return dict(zip(values[keep].tolist(), first[keep].tolist(), strict=True))


def linkage(first: View, second: View) -> LinkResult:
    n = records_count(first) or 0
    links = np.full(n, -1, dtype=np.int64)
    result = LinkResult(links)
    theirs = dict(_keys(second))
    for name, mine in _keys(first):
        other = theirs.get(name)
        if other is None:
            continue
        lookup = _unique(other)
        mine_unique = _unique(mine)
        added = 0
        for key, row in mine_unique.items():
            if links[row] < 0 and key in lookup:
                links[row] = lookup[key]
                added += 1
        result.notes.append(f"{name}: {added:,} links")
    if not result.notes:
        result.notes.append("no deterministic column readable on both sides")
    return result


def score_links(result: LinkResult, first_nhs: np.ndarray, second_nhs: np.ndarray) -> tuple[int, int, int]:
    """(linked right, linked wrong, records of the first that are in the second)."""
    made = result.links >= 0
    right = np.zeros(len(result.links), dtype=bool)
    right[made] = first_nhs[made] == second_nhs[result.links[made]]
    theirs = set(second_nhs.tolist())  # np.isin compares object arrays pairwise
    shared = sum(1 for v in first_nhs.tolist() if v is not None and v in theirs)
    return int(right.sum()), int((made & ~right).sum()), shared
