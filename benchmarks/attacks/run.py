"""Runs every attack on one view of an index (and linkage across two), scores the guesses against the population
the index was built from, and folds them into the headline figures: people re-identified (family name, given name
and date of birth all right), dates of birth recovered, restricted people identified.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.attacks.blocking_dictionary import blocking_dictionary
from benchmarks.attacks.blocking_groups import blocking_groups
from benchmarks.attacks.bloom_graph import bloom_graph
from benchmarks.attacks.frequency_alignment import frequency_alignment
from benchmarks.attacks.guesses import (
    AttackResult,
    FieldScore,
    Truth,
    aligned_to_index,
    combine,
    compare,
    load_truth,
    score,
)
from benchmarks.attacks.linkage import linkage, score_links
from benchmarks.attacks.plaintext_scan import plaintext_scan
from benchmarks.attacks.side_data import side_data
from benchmarks.attacks.views import View, files_view, memory_view, unmasked_view


@dataclass
class Linkage:
    right: int
    wrong: int
    shared: int  # records of the first index whose NHS number is in the second

    @property
    def share(self) -> float:
        return self.right / max(self.shared, 1)


@dataclass
class AttackReport:
    view: str  # "files" or "memory"
    records: int
    scores: list[FieldScore]
    reidentified: int  # family, given and date of birth all right in the combined guesses
    dob_recovered: int
    restricted: int  # restricted records in the index
    restricted_identified: int  # of those: flagged restricted by the attacker, and name and date of birth right
    linkage: Linkage | None = None
    notes: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def reidentified_share(self) -> float:
        return self.reidentified / max(self.records, 1)

    @property
    def dob_share(self) -> float:
        return self.dob_recovered / max(self.records, 1)

    def field(self, attack: str, name: str) -> FieldScore | None:
        return next((s for s in self.scores if s.attack == attack and s.field == name), None)

    def recovered(self, attack: str, name: str) -> float:
        """Share of records the attack got right on the field (0 when it made no guess)."""
        found = self.field(attack, name)
        return 0.0 if found is None else found.recovered_share

    def to_json(self) -> dict:
        out = asdict(self)
        out |= {"reidentified_share": self.reidentified_share, "dob_share": self.dob_share}
        if self.linkage is not None:
            out["linkage"]["share"] = self.linkage.share
        return out

    def table(self) -> str:
        lines = [f"{'attack':<22}{'field':<15}{'records %':>10}{'distinct %':>12}{'wrong':>9}"]
        for s in self.scores:
            lines.append(
                f"{s.attack:<22}{s.field:<15}{100 * s.recovered_share:>10.2f}{100 * s.distinct_share:>12.2f}"
                f"{s.wrong:>9,}"
            )
        lines.append(f"\n{self.view} view, {self.records:,} records:")
        lines.append(
            f"  re-identified (family + given + date of birth): {self.reidentified:,} "
            f"({100 * self.reidentified_share:.2f}%)"
        )
        lines.append(f"  dates of birth recovered: {self.dob_recovered:,} ({100 * self.dob_share:.2f}%)")
        lines.append(f"  restricted people identified: {self.restricted_identified} of {self.restricted}")
        if self.linkage is not None:
            lines.append(
                f"  linked to the other index: {self.linkage.right:,} of {self.linkage.shared:,} shared "
                f"({100 * self.linkage.share:.2f}%), {self.linkage.wrong:,} wrong"
            )
        return "\n".join(lines)


VIEWS = ("files", "memory", "unmasked")


def load_view(directory: Path | str, kind: str, key: object) -> View:
    """The thief's files, the memory dump without keys, or (the attacks' positive control) the memory with the
    records unmasked: what a dump that also yielded the keys would give, and what memory held before masking."""
    if kind == "files":
        return files_view(directory)
    return memory_view(directory, key) if kind == "memory" else unmasked_view(directory, key)


def attack_view(view: View) -> tuple[list[AttackResult], dict[str, float]]:
    """Every single-index attack, in the order an attacker trusts them; the dates of birth found by the first ones
    feed the name attack's seeds."""
    results, seconds = [], {}
    for attack in (plaintext_scan, blocking_dictionary, blocking_groups):
        start = time.perf_counter()
        results.append(attack(view))
        seconds[results[-1].attack] = time.perf_counter() - start
    n = len(next(iter(g for r in results for g in r.guesses.values()), []))
    dates = combine(results, n).guesses.get("date_of_birth") if n else None
    start = time.perf_counter()
    results.append(bloom_graph(view, dates))
    seconds["bloom_graph"] = time.perf_counter() - start
    for attack in (frequency_alignment, side_data):
        start = time.perf_counter()
        results.append(attack(view))
        seconds[results[-1].attack] = time.perf_counter() - start
    return results, seconds


def run_attacks(
    index: Path | str,
    population: Path | str,
    other_index: Path | str | None = None,
    other_population: Path | str | None = None,
    view: str = "files",
    key: object = None,
) -> AttackReport:
    """Attack one ``view`` of ``index`` (one of VIEWS) and score against ``population``; with
    ``other_index``, also link the two. ``key`` (by default the environment's) is what the scorer uses to put the
    truth in each index's row order, and what the memory view is loaded with; no attack is given it."""
    if key is None:
        from matcher.protection.keys import load_master_key

        key = load_master_key()
    truth = aligned_to_index(load_truth(population), index, key)
    if view not in VIEWS:
        raise ValueError(f"a view is one of {VIEWS}")
    kind, view = view, load_view(index, view, key)
    results, seconds = attack_view(view)
    combined = combine(results, len(truth))
    report = _report(kind, truth, results, combined)
    report.seconds = seconds
    if other_index is not None:
        start = time.perf_counter()
        other_view = load_view(other_index, kind, key)
        other_truth = aligned_to_index(load_truth(other_population or population), other_index, key)
        links = linkage(view, other_view)
        report.linkage = Linkage(*score_links(links, truth.nhs_number, other_truth.nhs_number))
        report.notes["linkage"] = links.notes
        report.seconds["linkage"] = time.perf_counter() - start
    return report


def _right(combined: AttackResult, truth: Truth, name: str) -> np.ndarray:
    guesses = combined.guesses.get(name)
    if guesses is None:
        return np.zeros(len(truth), dtype=bool)
    return compare(guesses, truth.columns[name])[0]


def _report(kind: str, truth: Truth, results: list[AttackResult], combined: AttackResult) -> AttackReport:
    scores = [s for r in [*results, combined] for s in score(r, truth)]
    names_and_date = _right(combined, truth, "family") & _right(combined, truth, "given")
    names_and_date &= _right(combined, truth, "date_of_birth")
    restricted = truth.columns["restricted"].astype(bool)
    flagged = combined.guesses.get("restricted")
    flagged_right = np.zeros(len(truth), bool) if flagged is None else np.array([g is True for g in flagged])
    return AttackReport(
        view=kind,
        records=len(truth),
        scores=scores,
        reidentified=int(names_and_date.sum()),
        dob_recovered=int(_right(combined, truth, "date_of_birth").sum()),
        restricted=int(restricted.sum()),
        restricted_identified=int((names_and_date & restricted & flagged_right).sum()),
        notes={r.attack: r.notes for r in results},
    )
