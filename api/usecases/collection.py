"""The requester's look at a held request: its state until decided, then the outcome, collected once.

An approved disclosure leaves this once (the register must hold no collection of it: a row put back from before
its collection is refused), and only while the grounds still pass under the policy in force (it may
have changed since the approval) and the policy's retention period has not run out. Each look is an entry naming
the request it concerns; the one that discloses names the fields, and is written in the same transaction as the
disclosure is emptied from the queue.
"""

from __future__ import annotations

from sqlalchemy import Connection

from api.access.clients import Client
from api.audit.outcomes import RegisterOutcome, Status
from api.policy.versions import Refusal
from api.review.foureyes import OPEN
from api.review.queue import ReviewError, ReviewState, ReviewTampered
from api.usecases.denials import Denied
from api.usecases.recording import Recorder
from api.usecases.results import Answer, Disclosure
from api.usecases.service import TraceService
from matcher.disclosure import DISCLOSURE_FIELDS

REVIEW_REFUSED = Refusal("REVIEW_REFUSED", "a reviewer refused the request")


class Collection:
    def __init__(self, service: TraceService, recorder: Recorder) -> None:
        self.service = service
        self.recorder = recorder

    def collect(self, client: Client, trace_id: str) -> Answer:
        service = self.service
        with self.recorder.review_step(client, concerns=trace_id):
            state, releasing, found = service.reviews.peek(trace_id, client, service.retention_cutoff())
        refusals: tuple[Refusal, ...] = ()
        if releasing:  # the policy may have changed since the approval: the grounds must still pass now
            with self.recorder.review_step(client, concerns=trace_id):
                refusals = service.recheck(service.reviews.case(trace_id)).refusals
            releasing = not refusals
        released: dict = {}
        outcome = RegisterOutcome.COLLECTED if releasing else RegisterOutcome.STATUS_READ
        fields = DISCLOSURE_FIELDS if releasing else ()
        draft = service.draft(client, outcome, 200, trace_id, fields, refusal_codes=tuple(r.code for r in refusals))

        def collect(connection: Connection, recorded_at: str) -> None:
            released["disclosure"] = (
                service.reviews.collect(connection, trace_id, recorded_at, entry=draft.trace_id) if releasing else None
            )

        try:
            [entry] = self.recorder.write([draft], also=collect)
        except ReviewTampered as error:  # changed since the look above, or collected already by the register
            self.recorder.tampered(client, error.trace_id, error.status, error)
            raise Denied(error.status, error.detail) from None
        except ReviewError as error:  # collected meanwhile by another request of the same client
            raise Denied(error.status, error.detail) from None
        if state in OPEN:  # awaiting a second approval is still pending to the requester
            return Answer(trace_id, Status.PENDING_REVIEW, None, entry.sequence)
        if refusals:
            return Answer(trace_id, Status.REFUSED, service.policy_in_force().version, entry.sequence, refusals)
        if state is ReviewState.REFUSED:
            with self.recorder.review_step(client, concerns=trace_id):
                decided = tuple(Refusal(**r) for r in service.reviews.case(trace_id).decision_refusals)
            return Answer(trace_id, Status.REFUSED, None, entry.sequence, decided or (REVIEW_REFUSED,))
        disclosure = released["disclosure"]
        return Answer(
            trace_id,
            Status.TRACED if found else Status.NOT_FOUND,
            None,
            entry.sequence,
            disclosure=None if disclosure is None else Disclosure.from_json(disclosure),
        )
