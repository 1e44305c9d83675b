"""Rows grouped by the blocking index itself, without recomputing any key (the red team's attack, before postings
were masked).

An inverted index lists, per key, the rows holding it. Keys of the exact-family rules (family + birthday, family +
given, family + initial + district) make most of its groups of two or more, so rows that share two groups or more
mostly share a family name; the components of that graph are families, and their sizes line up with the family
names' counts (``term_frequency.family_name`` gives them exactly) where both stand clear of their neighbours. A
class is then labelled with the name of that rank: in clear in plaintext mode, from public frequencies otherwise.
When the postings are masked, they are not row numbers, and there is nothing to group.
"""

from __future__ import annotations

import numpy as np

from benchmarks.attacks.frequency_alignment import public_family_frequencies
from benchmarks.attacks.guesses import AttackResult
from benchmarks.attacks.views import View, array, records_count, strings

MAX_GROUP = 20
GAP = 1.12  # a class is labelled only where its size and its name's count are 12% clear of the neighbours'
CLASSES = 400


def groups(view: View) -> tuple[np.ndarray, np.ndarray] | None:
    """(group number, row) per posting, or None if the blocking index is not readable."""
    directory = array(view, "blocking.directory", "iu", 1)
    residuals = array(view, "blocking.residuals", "u", 1)
    rows = array(view, "blocking.rows", "iu", 1)
    if directory is None or residuals is None or rows is None or len(residuals) != len(rows):
        return None
    bucket = np.repeat(np.arange(len(directory) - 1), np.diff(directory.astype(np.int64)))
    key = (bucket.astype(np.int64) << 32) | residuals.astype(np.int64)
    start = np.ones(len(key), dtype=bool)
    start[1:] = key[1:] != key[:-1]
    return np.cumsum(start) - 1, rows.astype(np.int64)


def blocking_groups(view: View) -> AttackResult:
    result = AttackResult("blocking_groups")
    n = records_count(view)
    found = groups(view)
    if n is None or found is None:
        result.notes.append("skipped: no blocking index readable")
        return result
    group, row = found
    if (row >= n).mean() > 0.01:
        result.notes.append("skipped: the postings are not row numbers (masked)")
        return result
    size = np.bincount(group)
    keep = (size[group] >= 2) & (size[group] <= MAX_GROUP)
    group, row = group[keep], row[keep]
    # Every pair of rows in a group, counted over groups: pairs seen twice or more are edges.
    pairs = []
    for offset in range(1, MAX_GROUP):
        a = np.arange(len(row) - offset)
        same = group[a] == group[a + offset]
        low, high = np.minimum(row[a][same], row[a + offset][same]), np.maximum(row[a][same], row[a + offset][same])
        pairs.append(low << 32 | high)
    pair, weight = np.unique(np.concatenate(pairs), return_counts=True)
    pair = pair[weight >= 2]
    left, right = pair >> 32, pair & 0xFFFFFFFF
    component = _components(n, left, right)
    classes = np.bincount(component, minlength=n)
    order = np.argsort(-classes, kind="stable")[:CLASSES]
    counts = array(view, "term_frequency.family_name", "f", 1)
    if counts is None:
        result.notes.append(f"{len(pair):,} edges, but no family-name counts to label the classes by")
        return result
    counts = np.rint(counts.astype(np.float64) * n).astype(np.int64)
    ranked = np.argsort(-counts, kind="stable")[: CLASSES + 1]
    names = strings(view, "names.value")
    public = sorted(public_family_frequencies().items(), key=lambda item: -item[1])
    column = result.guess("family", n)
    labelled = 0
    sizes, wanted = classes[order].astype(float), counts[ranked].astype(float)
    for i in range(min(len(order) - 1, len(ranked) - 1, len(public))):
        if sizes[i] < 2:
            break
        clear_sizes = min(sizes[i - 1] / sizes[i] if i else 9, sizes[i] / max(sizes[i + 1], 1))
        clear_counts = min(wanted[i - 1] / wanted[i] if i else 9, wanted[i] / max(wanted[i + 1], 1))
        if clear_sizes > GAP and clear_counts > GAP:
            name = names[ranked[i]] if names else public[i][0]
            members = np.flatnonzero(component == order[i])
            column[members] = name
            labelled += len(members)
    result.notes.append(f"{len(pair):,} row pairs in two groups or more; {labelled:,} rows labelled by class rank")
    return result


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components by repeated minimum-label propagation (a few dozen passes on these sparse graphs)."""
    label = np.arange(n, dtype=np.int64)
    for _ in range(200):
        low = np.minimum(label[left], label[right])
        before = label.copy()
        np.minimum.at(label, left, low)
        np.minimum.at(label, right, low)
        label = label[label]  # jump to the label's label: halves the passes
        if np.array_equal(label, before):
            break
    return label
