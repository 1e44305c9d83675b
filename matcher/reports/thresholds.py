"""Choosing the decision threshold on a validation set: the batch's decisions at each threshold, and the rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pyarrow as pa

from matcher.reports.confidence import upper_bound
from matcher.reports.evaluation import evaluate

if TYPE_CHECKING:
    from matcher.tracer import BatchTrace, Tracer


@dataclass(frozen=True)
class SweepPoint:
    threshold: float
    recall: float
    wrong_person_disclosures: int
    wrong_person_rate: float
    ambiguous_rate: float
    requests: int = 0
    non_members: int = 0  # requests about someone the index does not hold: where a wrong person is likeliest

    @property
    def wrong_person_upper_bound(self) -> float:
        """The one-sided 95% upper bound on the wrong-person rate that this count of requests supports."""
        return upper_bound(self.wrong_person_disclosures, self.requests)


def threshold_sweep(
    tracer: Tracer, batch: BatchTrace, truth: pa.Table, thresholds: Sequence[float]
) -> list[SweepPoint]:
    """Evaluate the batch's decisions at each threshold (the rest of the decision config as the tracer's)."""
    points = []
    for threshold in thresholds:
        decided = tracer.decide(batch, replace(tracer.config.decision, threshold=float(threshold)))
        e = evaluate(tracer.results_table(decided), truth)
        points.append(
            SweepPoint(
                float(threshold),
                e.recall,
                e.wrong_person_disclosures,
                e.wrong_person_rate,
                e.ambiguous_rate,
                e.requests,
                e.requests - e.members,
            )
        )
    return points


def choose_threshold(
    points: Sequence[SweepPoint], max_wrong_person_rate: float = 1e-4, floor: float = 0.999
) -> SweepPoint:
    """The most permissive threshold whose wrong-person rate is within the limit; where none is, the most
    permissive of those with the fewest wrong-person disclosures (raising the threshold further only costs recall).

    Never below ``floor``: a disclosure the model itself puts at more than 1 in 1,000 of being the wrong person is
    not made, however few wrong-person disclosures a validation set of twenty thousand happens to show."""
    points = [p for p in points if p.threshold >= floor]
    if not points:
        raise ValueError(f"no threshold in the sweep reaches the floor {floor}")
    allowed = [p for p in points if p.wrong_person_rate <= max_wrong_person_rate]
    if not allowed:
        fewest = min(p.wrong_person_disclosures for p in points)
        allowed = [p for p in points if p.wrong_person_disclosures == fewest]
    return min(allowed, key=lambda p: p.threshold)
