"""Recall by kind of error and wrong-person disclosures with an exact upper bound.

A hold-out's claim is "at most 1 in 100,000 wrong" only as far as its count supports it: with 0 wrong in n requests
the one-sided 95% Clopper-Pearson bound is 1 - 0.05^(1/n), about 3/n (the rule of three), so 15,000 requests bound
the rate at 2 in 10,000 at best. The bound is reported beside every count so that nobody reads more into it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pyarrow as pa

from matcher.decision.decide import CERTAIN
from matcher.reports.confidence import upper_bound

_CERTAIN = frozenset(o.value for o in CERTAIN)


@dataclass(frozen=True)
class HoldoutScore:
    requests: int
    members: int
    found: int
    wrong: int  # matched (disclosed) to someone who is not the person
    non_members: int
    non_member_wrong: int
    by_kind: dict[str, tuple[int, int]]  # kind of error -> (member requests, found)
    outcomes: dict[str, int]

    @property
    def recall(self) -> float:
        return self.found / self.members if self.members else 0.0

    def lines(self) -> list[str]:
        out = [
            f"requests {self.requests:,}: members {self.members:,}, non-members {self.non_members:,}",
            f"recall of members {self.recall:.2%} ({self.found:,} found)",
            f"wrong-person disclosures {self.wrong} of {self.requests:,} "
            f"(95% upper bound {upper_bound(self.wrong, self.requests):.2e})",
            f"  of non-members {self.non_member_wrong} of {self.non_members:,} "
            f"(95% upper bound {upper_bound(self.non_member_wrong, self.non_members):.2e})",
            "outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.outcomes.items())),
            "",
            "| kind of error | member requests | recall |",
            "|---|---:|---:|",
        ]
        out += [f"| {k} | {n:,} | {f / n:.1%} |" for k, (n, f) in sorted(self.by_kind.items()) if n]
        return out


def score(results: pa.Table, truth: pa.Table) -> HoldoutScore:
    """Results of ``python -m matcher trace`` against a hold-out's truth (its ``kind`` column, else "all")."""
    kinds = truth.column("kind").to_pylist() if "kind" in truth.column_names else ["all"] * truth.num_rows
    true = dict(
        zip(
            truth.column("request_id").to_pylist(),
            zip(truth.column("nhs_number").to_pylist(), kinds, strict=True),
            strict=True,
        )
    )
    outcomes: Counter = Counter()
    per_kind: Counter = Counter()
    per_kind_found: Counter = Counter()
    members = found = wrong = non_members = non_member_wrong = 0
    for row in results.select(["request_id", "outcome", "matched_nhs_number"]).to_pylist():
        nhs, kind = true[row["request_id"]]
        outcomes[row["outcome"]] += 1
        hit = row["outcome"] in _CERTAIN and nhs is not None and row["matched_nhs_number"] == nhs
        disclosed_wrong = row["outcome"] == "matched" and row["matched_nhs_number"] != nhs
        wrong += disclosed_wrong
        if nhs is None:
            non_members += 1
            non_member_wrong += disclosed_wrong
        else:
            members += 1
            found += hit
            per_kind[kind] += 1
            per_kind_found[kind] += hit
    return HoldoutScore(
        requests=results.num_rows,
        members=members,
        found=found,
        wrong=wrong,
        non_members=non_members,
        non_member_wrong=non_member_wrong,
        by_kind={k: (per_kind[k], per_kind_found[k]) for k in per_kind},
        outcomes=dict(outcomes),
    )
