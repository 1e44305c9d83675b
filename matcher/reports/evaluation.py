"""Match quality of a results file against the generator's truth: the analyst's view.

A request is *found* when its outcome is a certain match (matched, restricted or deceased) and the matched NHS number
is the true one. A *wrong-person disclosure* is a matched (disclosed) outcome whose NHS number is not the true one,
including any match for a person who is not in the index; restricted and deceased outcomes disclose nothing and
are counted apart (as "wrong-person restricted").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from matcher.decision.decide import CERTAIN

RESULT_COLUMNS = ("request_id", "outcome", "probability", "matched_nhs_number", "candidates")
_CERTAIN = frozenset(outcome.value for outcome in CERTAIN)


@dataclass(frozen=True)
class Evaluation:
    requests: int
    members: int
    matched: int  # a certain match: matched, restricted or deceased
    correct: int
    wrong_person_disclosures: int
    wrong_person_restricted: int
    ambiguous: int
    no_match: int
    lost_by_blocking: int | None  # members whose record was never a candidate (needs candidate_nhs_numbers)
    recall_by_corruption: dict[str, tuple[int, float]] = field(default_factory=dict)
    false_matches_by_non_member_kind: dict[str, tuple[int, int]] = field(default_factory=dict)
    curve: list[tuple[float, float, float]] = field(default_factory=list)  # (threshold, precision, recall)

    @property
    def precision(self) -> float:
        return self.correct / self.matched if self.matched else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.members if self.members else 0.0

    @property
    def wrong_person_rate(self) -> float:
        return self.wrong_person_disclosures / self.requests if self.requests else 0.0

    @property
    def ambiguous_rate(self) -> float:
        return self.ambiguous / self.requests if self.requests else 0.0

    def summary_lines(self) -> list[str]:
        lines = [
            f"requests {self.requests:,} (members {self.members:,})",
            f"precision {self.precision:.5f}  recall {self.recall:.4f}",
            f"wrong-person disclosures {self.wrong_person_disclosures} ({self.wrong_person_rate:.4%} of requests);"
            f" wrong-person restricted {self.wrong_person_restricted}",
            f"ambiguous {self.ambiguous} ({self.ambiguous_rate:.2%})  no match {self.no_match}",
        ]
        if self.lost_by_blocking is not None:
            share = self.lost_by_blocking / self.members if self.members else 0.0
            lines.append(f"members lost by blocking {self.lost_by_blocking} ({share:.2%})")
        return lines


def evaluate(results: pa.Table, truth: pa.Table) -> Evaluation:
    missing = [c for c in RESULT_COLUMNS if c not in results.column_names]
    if missing:
        raise ValueError(f"results lack columns {missing}")
    truth_by_id = {
        row["request_id"]: row
        for row in truth.select(
            [c for c in ("request_id", "nhs_number", "corruptions", "non_member_kind") if c in truth.column_names]
        ).to_pylist()
    }
    rows = results.to_pylist()
    unknown = [r["request_id"] for r in rows if r["request_id"] not in truth_by_id]
    if unknown:
        raise ValueError(f"{len(unknown)} result rows have no truth (first: {unknown[0]!r})")

    members = matched = correct = wrong = wrong_restricted = ambiguous = no_match = 0
    lost = 0 if "candidate_nhs_numbers" in results.column_names else None
    per_corruption: Counter = Counter()
    per_corruption_found: Counter = Counter()
    per_kind: Counter = Counter()
    per_kind_false: Counter = Counter()
    best_correct = np.zeros(len(rows), dtype=bool)
    probability = np.zeros(len(rows))
    is_member = np.zeros(len(rows), dtype=bool)
    for i, row in enumerate(rows):
        t = truth_by_id[row["request_id"]]
        true_nhs = t["nhs_number"]
        outcome = row["outcome"]
        found = outcome in _CERTAIN and row["matched_nhs_number"] == true_nhs and true_nhs
        probability[i] = row["probability"] or 0.0
        best = row.get("best_nhs_number", row["matched_nhs_number"])
        best_correct[i] = bool(true_nhs) and best == true_nhs
        if true_nhs:
            members += 1
            is_member[i] = True
            for corruption in t.get("corruptions") or ["none"]:
                per_corruption[corruption] += 1
                per_corruption_found[corruption] += bool(found)
            if lost is not None and true_nhs not in (row["candidate_nhs_numbers"] or []):
                lost += 1
        else:
            kind = t.get("non_member_kind") or "non_member"
            per_kind[kind] += 1
            per_kind_false[kind] += outcome == "matched"
        if outcome in _CERTAIN:
            matched += 1
            correct += bool(found)
            if not found:
                if outcome == "matched":
                    wrong += 1
                else:
                    wrong_restricted += 1
        ambiguous += outcome == "ambiguous"
        no_match += outcome == "no_match"
    return Evaluation(
        requests=len(rows),
        members=members,
        matched=matched,
        correct=correct,
        wrong_person_disclosures=wrong,
        wrong_person_restricted=wrong_restricted,
        ambiguous=ambiguous,
        no_match=no_match,
        lost_by_blocking=lost,
        recall_by_corruption={
            k: (per_corruption[k], per_corruption_found[k] / per_corruption[k]) for k in sorted(per_corruption)
        },
        false_matches_by_non_member_kind={k: (per_kind[k], per_kind_false[k]) for k in sorted(per_kind)},
        curve=_curve(probability, best_correct, int(is_member.sum())),
    )


def _curve(probability: np.ndarray, correct: np.ndarray, members: int) -> list[tuple[float, float, float]]:
    """Precision and recall if every request whose best candidate reaches a threshold were matched."""
    out = []
    for threshold in np.unique(np.concatenate([np.linspace(0, 1, 101), 1 - np.geomspace(1e-9, 0.5, 60)])):
        taken = probability >= threshold
        n = int(taken.sum())
        hits = int((taken & correct).sum())
        out.append((float(threshold), hits / n if n else 1.0, hits / members if members else 0.0))
    return out


def write_report(evaluation: Evaluation, directory: Path, title: str = "Trace evaluation") -> Path:
    """Markdown report plus a precision-recall PNG beside it; returns the Markdown path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(6, 4.5))
    _, precision, recall = zip(*evaluation.curve, strict=True)
    axis.plot(recall, 1 - np.asarray(precision), marker=".", linewidth=1)
    axis.set_yscale("symlog", linthresh=1e-4)
    axis.set_xlabel("recall of members")
    axis.set_ylabel("1 - precision (wrong-person share of matches)")
    axis.axhline(1e-4, color="grey", linestyle=":", linewidth=1)
    axis.scatter([evaluation.recall], [1 - evaluation.precision], color="red", zorder=3, label="operating point")
    axis.legend()
    axis.set_title(title)
    figure.tight_layout()
    png = directory / "precision_recall.png"
    figure.savefig(png, dpi=110)
    plt.close(figure)

    lines = [f"# {title}", "", *[f"- {line}" for line in evaluation.summary_lines()], ""]
    lines += ["## Recall by corruption (members)", "", "| corruption | requests | recall |", "|---|---:|---:|"]
    lines += [f"| {k} | {n:,} | {r:.4f} |" for k, (n, r) in evaluation.recall_by_corruption.items()]
    lines += ["", "## Non-members matched, by kind", "", "| kind | requests | matched |", "|---|---:|---:|"]
    lines += [f"| {k} | {n:,} | {f} |" for k, (n, f) in evaluation.false_matches_by_non_member_kind.items()]
    lines += ["", f"![precision-recall]({png.name})", ""]
    report = directory / "report.md"
    report.write_text("\n".join(lines))
    return report
