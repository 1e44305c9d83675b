"""Seeds for the Bloom-filter graph attack: stored names whose identity frequency alone gives away.

Given names differ in popularity by birth decade and sex, and both are at hand: sex is stored in clear, and the
decade comes from the dates of birth another attack has recovered (the blocking keys). So each stored given name's
counts over (decade, sex) are compared, as Poisson counts, with every public name's expected counts; the most
frequent stored names are told apart best. Family names have only their overall frequency, ranked within a length.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from benchmarks.attacks.frequency_alignment import align
from matcher.contract.normalise import normalise_name


def decade_profiles() -> tuple[list[tuple[int, int]], dict[str, np.ndarray], object]:
    """The (anchor year, sex code) cells, each public given name's probability per cell, and the name tables."""
    from synthetic.names import load_name_tables

    tables = load_name_tables()
    names = tables.given_names.to_pylist()
    cells = sorted((year, 1 if sex == "male" else 2) for year, sex in tables.given_by_decade)
    profiles: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(cells)))
    for (year, sex), dist in tables.given_by_decade.items():
        cell = cells.index((year, 1 if sex == "male" else 2))
        for i, p in zip(dist.indices.tolist(), dist.probabilities.tolist(), strict=True):
            if (clean := normalise_name(names[i])) is not None:
                profiles[clean][cell] += p
    return cells, dict(profiles), tables


def given_seeds(
    given: np.ndarray, sex: np.ndarray | None, dob: np.ndarray | None, lengths: np.ndarray | None, limit: int
) -> dict[int, str]:
    """Stored position -> public given name for the ``limit`` commonest stored given names, one-to-one."""
    if sex is None or dob is None:
        return {}
    cells, profiles, tables = decade_profiles()
    years = np.where(dob > 0, dob // 10_000, 0)
    known = (given >= 0) & (years > 0) & ((sex == 1) | (sex == 2))
    anchors = tables.anchor_for_birth_years(years[known].astype(np.int32))
    cell_of = {c: k for k, c in enumerate(cells)}
    cell = np.array([cell_of[(int(a), int(s))] for a, s in zip(anchors, sex[known], strict=True)], dtype=np.int64)
    positions = given[known]
    names = int(given.astype(np.int64).max(initial=-1)) + 1
    counts = np.zeros((names, len(cells)))
    np.add.at(counts, (positions, cell), 1)
    people = np.bincount(cell, minlength=len(cells)).astype(float)
    public = sorted(profiles)
    expected = np.array([profiles[q] for q in public]) * people[None, :]  # (public, cells)
    log_expected = np.log(expected + 1e-3)
    public_length = np.array([len(q) for q in public])
    commonest = np.argsort(-counts.sum(axis=1))[: limit * 2]
    scored = []
    for p in commonest.tolist():
        allowed = public_length == (lengths[p] if lengths is not None else public_length)
        if not allowed.any():
            continue
        score = counts[p] @ log_expected[allowed].T - expected[allowed].sum(axis=1)
        order = np.argsort(-score)
        best = int(np.flatnonzero(allowed)[order[0]])
        margin = float(score[order[0]] - score[order[1]]) if len(order) > 1 else float("inf")
        scored.append((margin, p, public[best]))
    out: dict[int, str] = {}
    for _, p, name in sorted(scored, reverse=True):
        if name not in out.values() and len(out) < limit:
            out[p] = name
    return out


def family_seeds(
    family: np.ndarray, lengths: np.ndarray | None, public: dict[str, float], limit: int
) -> dict[int, str]:
    """Stored position -> public family name for the ``limit`` commonest stored family names, by rank in length."""
    counts = np.bincount(family[family >= 0])
    aligned = align(counts, lengths, public)
    return {p: aligned[p] for p in sorted(aligned, key=lambda p: -counts[p])[:limit]}
