"""GET /v1/traces/{trace_id}: the requester's look at a held request, and its one collection once approved."""

from __future__ import annotations

from fastapi import APIRouter

from api.access.clients import Role
from api.http import examples
from api.http.models import TraceAnswer, trace_answer
from api.http.params import BearerDependency, ComponentsDependency, key_of
from api.http.params import trace_id as valid_trace_id

router = APIRouter(tags=["traces"])


@router.get(
    "/v1/traces/{trace_id}",
    response_model=TraceAnswer,
    summary="The outcome of a held request (the requester who made it)",
    responses=examples.HELD_TRACE_RESPONSES,
)
def read_trace(trace_id: str, credentials: BearerDependency, components: ComponentsDependency) -> TraceAnswer:
    """pending_review until decided; then traced (with the disclosure, this once), not_found (approved without
    a candidate) or refused (REVIEW_REFUSED). Each look is an entry; the one that discloses names the fields."""
    client = components.gate.admit(key_of(credentials), Role.REQUESTER)
    with components.recorder.invalid_recorded(client):
        trace_id = valid_trace_id(trace_id)
    return trace_answer(components.collection.collect(client, trace_id))
