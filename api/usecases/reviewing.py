"""A reviewer's work on the queue of held requests: the queue, one case, a decision.

Reviewers see the request and the candidates' comparison levels, never a candidate's record, and the request's
grounds judged again under the policy in force now. A reviewer may not decide a request of their own
organisation. Approval is judged again under the policy in force (it may have changed while the request waited);
the decision, and any refusal of it, is an entry naming the request it concerns, written in the same transaction
as the decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from api.access.clients import Client
from api.audit.outcomes import RegisterOutcome
from api.policy.versions import Refusal
from api.review.queue import Case, Pending, ReviewState
from api.usecases.recording import Recorder
from api.usecases.service import TraceService


@dataclass(frozen=True)
class Decision:
    approve: bool
    reason: str  # the reviewer's written reason, kept sealed with the case, never in the register
    candidate: int | None = None  # on approval: which candidate is the person (default the first)


@dataclass(frozen=True)
class Decided:
    trace_id: str
    state: ReviewState
    register_sequence: int
    refusals: tuple[Refusal, ...]  # if the policy in force now refuses what was approved: why


@dataclass(frozen=True)
class CaseReading:
    case: Case
    policy_checks: tuple[Refusal, ...]  # the grounds judged again now: empty if they pass (or are expired)
    policy_in_force: str


class Reviewing:
    def __init__(self, service: TraceService, recorder: Recorder) -> None:
        self.service = service
        self.recorder = recorder

    def pending(self, client: Client) -> list[Pending]:
        """The oldest held requests first; the read is recorded."""
        pending = self.service.reviews.pending()
        self.recorder.note(client, RegisterOutcome.REVIEWS_LISTED)
        return pending

    def case(self, client: Client, trace_id: str) -> CaseReading:
        """One held request; the read is recorded."""
        service = self.service
        with self.recorder.review_step(client, concerns=None):
            case = service.reviews.case(trace_id)
        # Past retention the subject's details are gone from the case, and with them what the grounds could be.
        checks = service.recheck(case) if "subject" in case.request else None
        self.recorder.note(client, RegisterOutcome.REVIEW_READ, concerns=case.trace_id)
        return CaseReading(case, checks.refusals if checks else (), service.policy_in_force().version)

    def decide(self, client: Client, trace_id: str, decision: Decision) -> Decided:
        """Approve (releasing the chosen candidate's disclosure for the requester to collect once) or refuse."""
        service = self.service
        approve, refusals = decision.approve, ()
        with self.recorder.review_step(client, concerns=trace_id):
            case = service.reviews.case(trace_id)
            # The policy may have changed while the request waited: an approval must still be allowed now. A case
            # decided already is left to the queue to refuse (past retention its grounds are gone).
            if approve and case.state is ReviewState.PENDING:
                grounds = service.recheck(case)
                approve, refusals = grounds.allowed, grounds.refusals
            refused = [{"code": r.code, "message": r.message} for r in refusals]

            def write(connection: Connection, recorded_at: str) -> None:
                service.reviews.decide(
                    connection, trace_id, client, approve, decision.candidate, decision.reason, refused, recorded_at
                )

            outcome = RegisterOutcome.REVIEW_APPROVED if approve else RegisterOutcome.REVIEW_REFUSED
            draft = service.draft(client, outcome, 200, trace_id, refusal_codes=tuple(r.code for r in refusals))
            [entry] = self.recorder.write([draft], also=write)
        state = ReviewState.APPROVED if approve else ReviewState.REFUSED
        return Decided(trace_id, state, entry.sequence, tuple(refusals))
