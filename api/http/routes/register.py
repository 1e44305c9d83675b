"""The register's reads for auditors: GET /v1/register/summary and GET /v1/register/entries.

A query parameter given twice, or malformed, is a recorded 422; each read is itself an entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.access.clients import Client, Role
from api.audit.transparency import entry_record
from api.http import examples
from api.http.models import RegisterEntryModel, RegisterPage, RegisterSummary, SummaryRowModel
from api.http.params import (
    MAX_AFTER,
    MAX_LIMIT,
    BearerDependency,
    ComponentsDependency,
    given_once,
    key_of,
    period,
    whole_number,
)
from api.wiring import Components

router = APIRouter(tags=["register"], responses=examples.REGISTER_RESPONSES)

# Plain text here, checked in ``api.http.params`` (a recorded 422); the document's schemas are PARAMETER_SCHEMAS.
From = Annotated[str | None, Query(alias="from", description="first UTC day, YYYY-MM-DD, 1900-01-01 to 9998-12-31")]
To = Annotated[str | None, Query(alias="to", description="last UTC day, YYYY-MM-DD, 1900-01-01 to 9998-12-31")]
After = Annotated[str | None, Query(description=f"the next_after of the previous page, 0 to {MAX_AFTER} (default 0)")]
Limit = Annotated[str | None, Query(description=f"entries per page, 1 to {MAX_LIMIT} (default 100)")]


@router.get(
    "/v1/register/summary",
    response_model=RegisterSummary,
    summary="Counts by month, requesting organisation, category and outcome (auditor)",
)
def register_summary(
    request: Request,
    credentials: BearerDependency,
    components: ComponentsDependency,
    start: From = None,
    end: To = None,
) -> RegisterSummary:
    """The shape of the published data release register: requests, traced, not found, ambiguous, held for
    review, refused (and by reason), rejected before judgement, reviewed. This read is itself recorded."""
    client, first, last = _auditor_over_period(components, request, key_of(credentials), start, end)
    rows = components.register_reads.summary(client, first, last)
    return RegisterSummary(start=first, end=last, rows=[SummaryRowModel(**asdict(r)) for r in rows])


@router.get(
    "/v1/register/entries",
    response_model=RegisterPage,
    summary="The register's entries, in order, a page at a time (auditor)",
)
def register_entries(
    request: Request,
    credentials: BearerDependency,
    components: ComponentsDependency,
    start: From = None,
    end: To = None,
    after: After = None,
    limit: Limit = None,
) -> RegisterPage:
    """Entries hold no subject detail: only a keyed token of who was asked about. This read is recorded."""
    client, first, last = _auditor_over_period(components, request, key_of(credentials), start, end)
    with components.recorder.invalid_recorded(client):
        cursor = whole_number("after", after, 0, 0, MAX_AFTER)
        size = whole_number("limit", limit, 100, 1, MAX_LIMIT)
    page = components.register_reads.entries(client, cursor, size, first, last)
    return RegisterPage(
        entries=[RegisterEntryModel(**entry_record(e)) for e in page.entries], next_after=page.next_after
    )


def _auditor_over_period(
    components: Components, request: Request, key: str | None, start: str | None, end: str | None
) -> tuple[Client, dt.date | None, dt.date | None]:
    """The auditor asking, and the days asked about: every query parameter given once, the dates well formed."""
    client = components.gate.admit(key, Role.AUDITOR)
    with components.recorder.invalid_recorded(client):
        given_once(request)
        first, last = period(start, end)
    return client, first, last
