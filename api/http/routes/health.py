"""GET /v1/health: readiness, without a key and without an entry."""

from __future__ import annotations

from fastapi import APIRouter

from api.http import examples
from api.http.params import ComponentsDependency

router = APIRouter()


@router.get(
    "/v1/health",
    summary="Readiness: the index is loaded and the database answers",
    tags=["service"],
    responses=examples.HEALTH_RESPONSES,
)
def health(components: ComponentsDependency) -> dict[str, str]:
    return {"status": "ok", "policy_version": components.service.readiness()}
