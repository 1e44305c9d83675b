"""Side data in clear: per-record columns that are not names or dates but still say who someone is, or that they
are someone to protect. The restricted flag marks the people whose whereabouts are withheld (a thief's first
target); sex halves every candidate list; name lengths cut a dictionary search to one length.

The headline, restricted people identified (name and date of birth right), is scored from all attacks together
in ``run``: this attack only reads the flags.
"""

from __future__ import annotations

import numpy as np

from benchmarks.attacks.guesses import AttackResult
from benchmarks.attacks.views import View, array, records_count


def side_data(view: View) -> AttackResult:
    result = AttackResult("side_data")
    n = records_count(view)
    if n is None:
        result.notes.append("skipped: no per-record array readable")
        return result
    restricted = array(view, "restricted", "bu", 1)
    if restricted is not None and len(restricted) == n:
        if restricted.dtype.kind == "u":  # not booleans: masked, or so they look; the low bit is a guess
            restricted = (restricted & 1).astype(bool)
            result.notes.append("restricted flags are bytes, not booleans: guessed from their low bit")
        result.guess("restricted", n)[:] = restricted.tolist()
        result.notes.append(f"restricted flag read: {int(restricted.sum()):,} records flagged")
    sex = array(view, "records.sex", "iu", 1)
    if sex is not None and len(sex) == n:
        column = result.guess("sex", n)
        known = (sex == 1) | (sex == 2)
        column[known] = sex[known].astype(int).tolist()
        result.notes.append(f"sex in clear for {int(known.sum()):,} records")
    lengths = array(view, "names.length", "iu", 1)
    family = array(view, "records.family", "i", 1)
    if (
        lengths is not None
        and family is not None
        and len(family) == n
        and family.astype(np.int64).max(initial=-1) < len(lengths)
    ):
        known = lengths[family] > 0
        result.notes.append(f"family-name length in clear for {int(known.sum()):,} records")
    for name in (
        "records.other_given.offsets",
        "records.previous_family.offsets",
        "records.previous_postcodes.offsets",
    ):
        offsets = array(view, name, "iu", 1)
        if offsets is not None and len(offsets) == n + 1 and (np.diff(offsets.astype(np.int64)) >= 0).all():
            result.notes.append(
                f"{name.split('.')[1]} counts per record in clear ({int((np.diff(offsets) > 0).sum()):,} "
                "records with some)"
            )
    _payload_lengths(view, n, result)
    _reference_order(view, result)
    return result


def _reference_order(view: View, result: AttackResult) -> None:
    """The public lists are stored in order of first appearance by row: entry 0 is row 0's town and GP practice."""
    towns, practices = view.get("reference.town"), view.get("reference.gp_practice_code")
    if isinstance(towns, list) and towns and towns == sorted(towns, key=lambda town: (town is None, town or "")):
        result.notes.append("reference lists sorted: their order says nothing of the rows")
    elif isinstance(towns, list) and isinstance(practices, list) and towns and practices:
        result.notes.append(
            f"reference lists in first-appearance order: row 0 lives in {towns[0]} with practice {practices[0]}, and "
            f"each later entry bounds the first row holding it ({len(practices):,} practices)"
        )


def _payload_lengths(view: View, n: int, result: AttackResult) -> None:
    """AES-GCM keeps the plaintext's length: a sealed payload's size is its address line's and postcode's."""
    sealed = view.get("sealed.sealed")
    if not isinstance(sealed, list) or len(sealed) != n or not all(isinstance(b, bytes) for b in sealed[:100]):
        return
    sizes = np.array([len(b) for b in sealed])
    _, counts = np.unique(sizes, return_counts=True)
    share = counts / counts.sum()
    result.notes.append(
        f"sealed payload sizes in clear: {len(counts)} distinct, {float(-(share * np.log2(share)).sum()):.1f} bits "
        "per record (address and postcode lengths)"
    )
