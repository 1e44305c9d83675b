"""What tells a case's candidates apart, for the reviewer: comparison levels side by side, never values.

Per comparison: each candidate's level and how strongly it agrees with the request (exact, close, weak, none;
unknown where a side had no value), whether the candidates' levels differ, and which candidates agree exactly.
Per candidate: its weight, whether it meets the decision's requirements, the gap to the next candidate by weight,
and the comparisons where it does not agree exactly with the request (where a side had no value, it neither agrees
nor differs). And plain warnings: which candidates fall
short of the requirements (approving one needs a second approval), or that none meets them, or that the candidate
a first approver named does. Made only from what the case holds (the levels), so it can show nothing of a record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

UNKNOWN = "unknown"
"""The agreement of a level this service cannot place (a side had no value, or the model has no such level)."""

_BY_LABEL = {"exact": "exact", "else": "none", "null": UNKNOWN}
"""Where the tracer's comparisons are not at hand: the labels every comparison shares."""


@dataclass(frozen=True)
class ComparisonAcross:
    comparison: str
    levels: list[str]  # per candidate, in the case's order ("absent" if a candidate has no such comparison)
    agreements: list[str]  # per candidate: exact, close, weak, none or unknown
    candidates_differ: bool
    exact_for: list[int]  # the candidates whose level agrees exactly with the request
    summary: str  # "date_of_birth: exact for none; candidate 0 day_month_swapped, candidate 1 year_only"


@dataclass(frozen=True)
class CandidateStanding:
    candidate: int
    match_weight: float
    meets_requirements: bool
    weight_gap_to_next: float | None  # this weight less the next lower candidate's; None for the lowest
    differs_from_request: list[str]  # the comparisons where it does not agree exactly (a missing value aside)


@dataclass(frozen=True)
class Differences:
    comparisons: list[ComparisonAcross]
    candidates: list[CandidateStanding]
    disagreements: list[str]  # the comparisons where the candidates' levels differ
    warnings: list[str]


def agreement_of(comparison: str, level: str, agreements: Mapping[str, Mapping[str, str]]) -> str:
    known = agreements.get(comparison, {})
    return known.get(level) or _BY_LABEL.get(level, UNKNOWN)


def differences(
    candidates: list[dict],
    agreements: Mapping[str, Mapping[str, str]],
    approving: int | None = None,
) -> Differences:
    """``agreements``: per comparison, level label to agreement (``Tracer`` comparisons'); ``approving``: the
    candidate a first approver named, if any."""
    names: list[str] = []
    levels: list[dict[str, str]] = []
    for candidate in candidates:
        by_name = {c["comparison"]: c["level"] for c in candidate.get("comparisons", [])}
        names += [n for n in by_name if n not in names]
        levels.append(by_name)
    across = []
    for name in names:
        per = [lv.get(name, "absent") for lv in levels]
        agree = [agreement_of(name, level, agreements) for level in per]
        exact = [i for i, a in enumerate(agree) if a == "exact"]
        who = "all" if len(exact) == len(per) else ", ".join(f"candidate {i}" for i in exact) or "none"
        others = ", ".join(f"candidate {i} {per[i]}" for i in range(len(per)) if i not in exact)
        summary = f"{name}: exact for {who}" + (f"; {others}" if others else "")
        if all(a == UNKNOWN for a in agree):
            summary = f"{name}: not compared (no value on one side)"
        across.append(ComparisonAcross(name, per, agree, len(set(per)) > 1, exact, summary))
    weights = [float(c.get("match_weight", 0.0)) for c in candidates]
    order = sorted(range(len(candidates)), key=lambda i: -weights[i])
    gaps = {i: round(weights[i] - weights[j], 3) for i, j in pairwise(order)}
    standings = [
        CandidateStanding(
            i,
            weights[i],
            bool(c.get("meets_requirements")),
            gaps.get(i),
            [a.comparison for a in across if a.agreements[i] not in ("exact", UNKNOWN)],
        )
        for i, c in enumerate(candidates)
    ]
    return Differences(across, standings, [a.comparison for a in across if a.candidates_differ],
                       _warnings(standings, approving))  # fmt: skip


def _warnings(standings: list[CandidateStanding], approving: int | None) -> list[str]:
    short = [s.candidate for s in standings if not s.meets_requirements]
    if not standings:
        return ["there is no candidate: approving answers not_found, and needs a second approval"]
    warnings = []
    if len(short) == len(standings):
        warnings.append("no candidate meets the decision's requirements: the core was not certain who the person is")
    elif short:
        listed = ", ".join(str(i) for i in short)
        which = f"candidate {listed} does" if len(short) == 1 else f"candidates {listed} do"
        warnings.append(
            f"{which} not meet the decision's requirements: perhaps someone else of the same name; approving one "
            "needs a second approval of another organisation"
        )
    if approving is not None and approving in short:
        warnings.append(
            f"the first approver named candidate {approving}, which does not meet the decision's requirements"
        )
    return warnings
