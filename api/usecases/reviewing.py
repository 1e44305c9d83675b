"""A reviewer's work on the queue of held requests: the queue, one case, a decision.

Reviewers and guardians see the request, the candidates' comparison levels and what tells them apart, never a
candidate's record, and the request's grounds judged again under the policy in force now. Who may decide what,
and when one approval is not enough, is ``api.review.foureyes``: a welfare request is a guardian's, a reviewer
never decides a request of their own organisation, and an approval where the core was not certain (or of a
welfare request) waits for a second of another organisation. Each approval is judged again under the policy in
force (it may have changed while the request waited); each decision, and any refusal of it, is an entry naming
the request it concerns, written in the same transaction as the decision. A row that fails its MAC is refused
and noted (``tampering_detected``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from api.access.clients import Client
from api.audit.outcomes import RegisterOutcome
from api.policy.versions import Refusal
from api.review.differences import Differences, differences
from api.review.foureyes import Transition, transition
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
    warnings: tuple[str, ...] = ()  # e.g. the candidate approved does not meet the requirements


@dataclass(frozen=True)
class CaseReading:
    case: Case
    policy_checks: tuple[Refusal, ...]  # the grounds judged again now: empty if they pass (or are expired)
    policy_in_force: str
    differences: Differences


def _outcome(done: Transition) -> RegisterOutcome:
    if done.to is ReviewState.REFUSED:
        return RegisterOutcome.REVIEW_REFUSED
    if done.to is ReviewState.AWAITING_SECOND:
        return RegisterOutcome.REVIEW_FIRST_APPROVAL
    return RegisterOutcome.REVIEW_COUNTERSIGNED if done.countersigns else RegisterOutcome.REVIEW_APPROVED


class Reviewing:
    def __init__(self, service: TraceService, recorder: Recorder) -> None:
        self.service = service
        self.recorder = recorder

    def pending(self, client: Client) -> list[Pending]:
        """The oldest open requests first; the read is recorded, and so is each row left out for failing its MAC."""
        pending, tampered = self.service.reviews.open_cases()
        for trace_id in tampered:
            self.recorder.tampered(client, trace_id)
        self.recorder.note(client, RegisterOutcome.REVIEWS_LISTED)
        return pending

    def case(self, client: Client, trace_id: str) -> CaseReading:
        """One held request; the read is recorded."""
        service = self.service
        with self.recorder.review_step(client, concerns=None):  # the id as sent may be anything
            case = service.reviews.case(trace_id)
        # Past retention the subject's details are gone from the case, and with them what the grounds could be.
        checks = service.recheck(case) if "subject" in case.request else None
        approving = case.first_approval.candidate if case.first_approval else None
        found = differences(case.candidates, service.level_agreements(), approving)
        self.recorder.note(client, RegisterOutcome.REVIEW_READ, concerns=case.trace_id)
        return CaseReading(case, checks.refusals if checks else (), service.policy_in_force().version, found)

    def decide(self, client: Client, trace_id: str, decision: Decision) -> Decided:
        """Approve (releasing the chosen candidate's disclosure for the requester to collect once, or, where four
        eyes are needed, waiting for a second approval) or refuse."""
        service = self.service
        refusals: tuple[Refusal, ...] = ()
        with self.recorder.review_step(client, concerns=trace_id):
            case = service.reviews.case(trace_id)
            standing = case.standing
            done = transition(standing, client, decision.approve, decision.candidate)
            # The policy may have changed while the request waited: each approval must still be allowed now.
            if done.to is not ReviewState.REFUSED:
                grounds = service.recheck(case)
                if not grounds.allowed:
                    refusals = grounds.refusals
                    done = transition(standing, client, False, None)
            refused = [{"code": r.code, "message": r.message} for r in refusals]

            draft = service.draft(client, _outcome(done), 200, trace_id, refusal_codes=tuple(r.code for r in refusals))

            def write(connection: Connection, recorded_at: str) -> None:
                service.reviews.decide(
                    connection,
                    trace_id,
                    client,
                    done,
                    decision.candidate,
                    decision.reason,
                    refused,
                    recorded_at,
                    entry=draft.trace_id,
                )

            [entry] = self.recorder.write([draft], also=write)
        warnings: tuple[str, ...] = ()
        approved = done.to is not ReviewState.REFUSED and done.candidate is not None
        if approved and not standing.meets_requirements[done.candidate]:
            warnings = (f"candidate {done.candidate} does not meet the decision's requirements",)
        if done.to is ReviewState.AWAITING_SECOND:
            warnings += ("nothing is released until a second approval by another organisation",)
        return Decided(trace_id, done.to, entry.sequence, refusals, warnings)
