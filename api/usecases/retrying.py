"""The retry stage of a trace request (``api.usecases.admission``): what a request's X-Request-ID was used for.

The first attempt with an id reserves it and goes on to be traced; a retry with the same body is answered again
with the first attempt's answer; another body, or an attempt while the first is being answered, is a 409 to be
recorded (``api.access.retries`` keeps the state).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from api.access.retries import Attempt, Retry, RetryKeys, RetryStore, RetryUnavailable
from api.audit.outcomes import RegisterOutcome
from api.usecases.denials import Denied, database_unavailable
from api.usecases.request import TraceApplication
from api.usecases.results import Answer

IN_PROGRESS_RETRY_AFTER = 1.0
"""Seconds a request whose id is being answered is asked to wait: a trace is answered in milliseconds."""

_REUSED = "this X-Request-ID was used for another request; send a new id for a new request"
_IN_PROGRESS = "a request with this X-Request-ID is being answered; retry it shortly for its answer"


@dataclass(frozen=True)
class Named:
    """A request with an id, as the stage takes it."""

    client_id: int
    request_id: str
    request: TraceApplication


@dataclass(frozen=True)
class Sorted:
    """One of: the id reserved for this attempt, the answer given before, or the refusal to record."""

    attempt: Attempt | None = None
    answer: Answer | None = None
    refusal: tuple[Denied, RegisterOutcome] | None = None


class Retrying:
    def __init__(self, store: RetryStore, keys: RetryKeys) -> None:
        self.store = store
        self.keys = keys

    def sort(self, named: list[Named]) -> list[Sorted]:
        """Each request against what its id was used for, in order. A 503 for each if the database cannot say:
        tracing them anyway could trace one twice."""
        attempts = [self.keys.attempt(n.client_id, n.request_id, canonical(n.request)) for n in named]
        try:
            reservations = self.store.reserve(attempts)
        except RetryUnavailable:
            return [Sorted(refusal=(database_unavailable(), RegisterOutcome.ERROR)) for _ in named]
        out = []
        for attempt, reservation in zip(attempts, reservations, strict=True):
            if reservation.kind is Retry.FIRST:
                out.append(Sorted(attempt=attempt))
            elif reservation.kind is Retry.REPLAY:
                out.append(Sorted(answer=Answer.from_json(reservation.answer)))
            elif reservation.kind is Retry.CONFLICT:
                out.append(Sorted(refusal=(Denied(409, _REUSED), RegisterOutcome.RETRY_CONFLICT)))
            else:
                denied = Denied(409, _IN_PROGRESS, retry_after=IN_PROGRESS_RETRY_AFTER)
                out.append(Sorted(refusal=(denied, RegisterOutcome.RETRY_IN_PROGRESS)))
        return out


def canonical(request: TraceApplication) -> bytes:
    """The request as one spelling of its JSON: a retry re-serialised by its client (keys in another order, other
    spacing) is the same request."""
    return json.dumps(request.as_sent(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
