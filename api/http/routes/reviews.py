"""The reviewer's endpoints: GET /v1/reviews (the queue), GET /v1/reviews/{trace_id} (a case) and
POST /v1/reviews/{trace_id} (a decision). The requester collects the outcome from ``api.http.routes.collection``."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.access.clients import Role
from api.http import examples
from api.http.formats import review_decision
from api.http.models import (
    DifferencesModel,
    FirstApprovalModel,
    PendingReview,
    RefusalModel,
    ReviewCase,
    ReviewOutcome,
    ReviewQueue,
)
from api.http.params import BearerDependency, ComponentsDependency, key_of, read_body
from api.http.params import trace_id as valid_trace_id
from api.review.foureyes import needs_second, welfare
from api.usecases.denials import Denied
from api.wiring import Components

router = APIRouter(tags=["reviews"])
DECIDERS = (Role.REVIEWER, Role.GUARDIAN)
"""Who may read the queue and decide (a welfare request only a guardian: ``api.review.foureyes``)."""


@router.get(
    "/v1/reviews",
    response_model=ReviewQueue,
    summary="Requests held for review, oldest first (reviewer, guardian)",
    responses=examples.REVIEW_QUEUE_RESPONSES,
)
def list_reviews(credentials: BearerDependency, components: ComponentsDependency) -> ReviewQueue:
    client = components.gate.admit(key_of(credentials), *DECIDERS)
    return ReviewQueue(pending=[PendingReview(**asdict(p)) for p in components.reviewing.pending(client)])


@router.get(
    "/v1/reviews/{trace_id}",
    response_model=ReviewCase,
    summary="One held request: the request, the policy, the candidates' comparison levels and what differs "
    "between them (reviewer, guardian)",
    responses=examples.REVIEW_CASE_RESPONSES,
)
def read_review(trace_id: str, credentials: BearerDependency, components: ComponentsDependency) -> ReviewCase:
    client = components.gate.admit(key_of(credentials), *DECIDERS)
    with components.recorder.invalid_recorded(client):
        trace_id = valid_trace_id(trace_id)
    reading = components.reviewing.case(client, trace_id)
    case, standing = reading.case, reading.case.standing
    first = case.first_approval
    return ReviewCase(
        trace_id=case.trace_id,
        state=case.state.value,
        reason=case.reason.value,
        organisation=case.organisation,
        policy_version=case.policy_version,
        created_at=case.created_at,
        decided_at=case.decided_at,
        decided_by=case.decided_by,
        request=case.request,
        candidates=case.candidates,
        differences=DifferencesModel.model_validate(asdict(reading.differences)),
        decided_by_role=(Role.GUARDIAN if welfare(standing) else Role.REVIEWER).value,
        approvals_needed={str(i): 2 if needs_second(standing, i) else 1 for i in range(len(case.candidates))},
        first_approval=None if first is None else FirstApprovalModel(**asdict(first)),
        candidate=case.candidate,
        decision_reason=case.decision_reason,
        policy_checks=[RefusalModel(code=r.code, message=r.message) for r in reading.policy_checks],
        policy_in_force=reading.policy_in_force,
    )


@router.post(
    "/v1/reviews/{trace_id}",
    response_model=ReviewOutcome,
    summary="Approve or refuse a held request, with a written reason (reviewer; a welfare request: guardian)",
    responses=examples.REVIEW_DECISION_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReviewDecision"}}},
        }
    },
)
async def decide_review(
    trace_id: str, request: Request, credentials: BearerDependency, components: ComponentsDependency
) -> ReviewOutcome:
    """A reviewer may not decide a request of their own organisation, nor a welfare one (a guardian's). Approval
    releases the chosen candidate's disclosure for the requester to collect once from GET /v1/traces/{trace_id},
    or, for a welfare request or a candidate short of the requirements, waits for a second approval by another
    organisation (state awaiting_second), which releases it; each decision is an entry.
    The body is read here, not by FastAPI, so that the key, rate and role come first (as for traces)."""
    body, unreadable = await read_body(request, components.body_deadline)
    return await run_in_threadpool(_decide, components, key_of(credentials), trace_id, body, unreadable)


def _decide(
    components: Components, key: str | None, trace_id: str, body: bytes | None, unreadable: Denied | None
) -> ReviewOutcome:
    client = components.gate.admit(key, *DECIDERS)
    with components.recorder.invalid_recorded(client):
        trace_id = valid_trace_id(trace_id)
        decision = review_decision(body, unreadable)
    decided = components.reviewing.decide(client, trace_id, decision)
    return ReviewOutcome(
        trace_id=decided.trace_id,
        state=decided.state.value,
        register_sequence=decided.register_sequence,
        refusals=[RefusalModel(code=r.code, message=r.message) for r in decided.refusals],
        warnings=list(decided.warnings),
    )
