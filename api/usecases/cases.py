"""What the reviewer of a held trace request will see (``api.usecases.admission``'s hold stage): its top
candidates traced again with their explanations, and, sealed beside them, what each one's disclosure would be."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from api.access.clients import Client
from api.policy.versions import PolicyVersion
from api.review.queue import Hold, ReviewReason
from api.usecases.request import TraceApplication
from api.usecases.results import Disclosure
from matcher.decision import OUTCOMES, Outcome
from matcher.tracer import Tracer


@dataclass(frozen=True)
class HeldRequest:
    trace_id: str
    client: Client
    reason: ReviewReason
    request: TraceApplication


def review_cases(tracer: Tracer, held: list[HeldRequest], policy: PolicyVersion) -> list[Hold]:
    """The cases of the held requests (rare enough that the second trace costs nothing that matters)."""
    if not held:
        return []
    explained = tracer.trace_many([h.request.subject.trace_request() for h in held], explain=True)
    holds = []
    for arrival, result in zip(held, explained, strict=True):
        candidates = result.explanation
        records = np.array([c.record for c in candidates], dtype=np.int64)
        payloads = tracer.disclosures(records)  # None for a withheld or deceased candidate
        if (tracer.index.standing_at(records) == OUTCOMES.index(Outcome.RESTRICTED)).any():
            # A withheld candidate (never opened): the others may be its household, whose address is its
            # whereabouts, so nothing in this request is ever released, and the reviewer is shown no candidate at
            # all: the levels of a restricted person's record (postcode unit exact) would say where they live.
            candidates, payloads = [], []
        holds.append(
            Hold(
                trace_id=arrival.trace_id,
                client=arrival.client,
                reason=arrival.reason,
                policy_version=policy.version,
                request=arrival.request.as_sent(),
                candidates=[
                    {
                        "match_weight": c.match_weight,
                        "meets_requirements": c.eligible,
                        "comparisons": [
                            {"comparison": x.comparison, "level": x.level, "weight": x.weight}
                            for x in c.comparisons
                        ],
                    }
                    for c in candidates
                ],
                disclosures=[None if p is None else Disclosure.from_payload(p).to_json() for p in payloads],
            )
        )
    return holds
