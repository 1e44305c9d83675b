"""Frequency alignment: deterministic tokens keep their values' frequencies, and the frequencies are public.

Names are stored once each with records pointing to them by position, with the share of records carrying each
(``term_frequency.*``, or counted from ``records.family``/``records.given``) and its length in clear. Ranking the
stored names by how many records carry them, within one length, against the public tables ranked the same way,
names the common ones: SMITH is the commonest five-letter family name in any English index. Given names are ranked
per sex (``records.sex`` is in clear) against the public tables averaged over the decades.

Encoded mode's day-of-birth tokens rank the same way against the calendar (the 31st is rarest, then the 30th, the
29th), a weak signal reported for what it is; the blocking attack does far better.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from benchmarks.attacks.guesses import AttackResult
from benchmarks.attacks.views import View, array, records_count
from matcher.contract.normalise import normalise_name

MIN_RECORDS = 2  # names carried by fewer records are too noisy to rank


def public_family_frequencies() -> dict[str, float]:
    from synthetic.names import load_name_tables

    tables = load_name_tables()
    out: dict[str, float] = defaultdict(float)
    for name, p in zip(tables.surnames.to_pylist(), tables.surname_probabilities.tolist(), strict=True):
        if (clean := normalise_name(name)) is not None:
            out[clean] += p
    return dict(out)


def public_given_frequencies() -> dict[int, dict[str, float]]:
    """Per sex code (1 male, 2 female): name -> share, the decades averaged with equal weight."""
    from synthetic.names import load_name_tables

    tables = load_name_tables()
    names = tables.given_names.to_pylist()
    out: dict[int, dict[str, float]] = {1: defaultdict(float), 2: defaultdict(float)}
    for (_, sex), dist in tables.given_by_decade.items():
        code = 1 if sex == "male" else 2
        for i, p in zip(dist.indices.tolist(), dist.probabilities.tolist(), strict=True):
            if (clean := normalise_name(names[i])) is not None:
                out[code][clean] += p
    return {k: dict(v) for k, v in out.items()}


def align(counts: np.ndarray, lengths: np.ndarray | None, public: dict[str, float]) -> dict[int, str]:
    """Stored position -> public name, matching ranks within each length (all lengths together without them)."""
    by_length: dict[int, list[str]] = defaultdict(list)
    for name in sorted(public, key=public.__getitem__, reverse=True):
        by_length[len(name) if lengths is not None else 0].append(name)
    out: dict[int, str] = {}
    groups = np.zeros(len(counts), dtype=np.int64) if lengths is None else lengths[: len(counts)].astype(np.int64)
    for length in np.unique(groups):
        positions = np.flatnonzero((groups == length) & (counts >= MIN_RECORDS))
        positions = positions[np.argsort(-counts[positions], kind="stable")]
        out.update(zip(positions.tolist(), by_length.get(int(length), []), strict=False))
    return out


def frequency_alignment(view: View) -> AttackResult:
    result = AttackResult("frequency_alignment")
    n = records_count(view)
    lengths = array(view, "names.length", "iu", 1)
    sex = array(view, "records.sex", "iu", 1)
    family, given = array(view, "records.family", "i", 1), array(view, "records.given", "i", 1)
    if n is None or family is None or given is None or len(family) != n:
        result.notes.append("skipped: records' name positions not readable")
    else:
        names = int(max(family.astype(np.int64).max(initial=-1), given.astype(np.int64).max(initial=-1))) + 1
        counts = np.bincount(family[family >= 0], minlength=names)
        guess = align(counts, lengths, public_family_frequencies())
        _assign(result.guess("family", n), family, guess)
        result.notes.append(f"family names aligned: {len(guess):,} stored names")
        public = public_given_frequencies()
        column = result.guess("given", n)
        for code in (1, 2):
            rows = given >= 0 if sex is None else (given >= 0) & (sex == code)
            counts = np.bincount(given[rows], minlength=names)
            mapping = align(counts, lengths, public[code])
            picked = np.where(rows, given, -1)
            _assign(column, picked, mapping)
            result.notes.append(f"given names aligned (sex {code}): {len(mapping):,} stored names")
    _day_tokens(view, n, result)
    return result


def _assign(column: np.ndarray, positions: np.ndarray, mapping: dict[int, str]) -> None:
    table = np.full(int(positions.astype(np.int64).max(initial=-1)) + 2, None, dtype=object)
    for position, name in mapping.items():
        if position < len(table) - 1:
            table[position] = name
    empty = np.array([g is None for g in column], dtype=bool)
    column[empty] = table[positions[empty]]


def _day_tokens(view: View, n: int | None, result: AttackResult) -> None:
    tokens = array(view, "records.date_of_birth_tokens", "u", 2)
    if tokens is None or n is None or tokens.shape != (n, 3):
        return
    values, counts = np.unique(tokens[:, 2], return_counts=True)
    rarest = values[np.argsort(counts)][:3]
    result.notes.append(
        f"{len(values)} distinct day tokens; the three rarest read as days 31, 30, 29 "
        f"({int(np.isin(tokens[:, 2], rarest).sum()):,} records carry them)"
    )
