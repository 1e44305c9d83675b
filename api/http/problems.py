"""Errors as RFC 9457 problem details (``application/problem+json``), never echoing what the client sent.

A validation error names the field at fault and what it expects; the value received is dropped, and so is any
field name the client invented (a surname sent as a key stays unsaid). ``instance`` is the route's template
("/v1/traces"), never the path as sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fastapi.responses import JSONResponse

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
        trace_id: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = dict(headers or {})
        self.errors = errors
        self.trace_id = trace_id


def problem_response(error: ProblemError, instance: str | None = None) -> JSONResponse:
    body: dict = {
        "type": f"/problems/{error.slug}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if instance:
        body["instance"] = instance
    if error.errors is not None:
        body["errors"] = error.errors
    if error.trace_id:
        body["trace_id"] = error.trace_id
    return JSONResponse(body, status_code=error.status, headers=error.headers, media_type=PROBLEM_MEDIA_TYPE)


def field_errors(errors: Iterable[Mapping]) -> list[dict[str, str]]:
    """Pydantic's errors as {field, message}, without the input or its context."""
    out = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        if error.get("type") == "extra_forbidden" and location:
            location[-1] = "(unknown field)"
        if error.get("type") in ("json_invalid", "json_type"):
            location = []
        message = str(error.get("msg", "invalid"))
        out.append({"field": ".".join(location) or "(body)", "message": message})
    return out


def validation_problem(errors: Iterable[Mapping]) -> ProblemError:
    listed = field_errors(errors)
    fields = ", ".join(sorted({e["field"] for e in listed}))
    return ProblemError(
        422,
        "invalid-request",
        "The request is not valid",
        f"fields at fault: {fields}",
        errors=listed,
    )


STATUS_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed for this client's role"),
    404: ("not-found", "No such resource"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict with the request's current state"),
    413: ("too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-request", "The request is not valid"),  # as validation_problem's, for a 422 found later
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal error"),
    503: ("unavailable", "Service unavailable"),
}


def status_problem(status: int, detail: str, headers: Mapping[str, str] | None = None) -> ProblemError:
    slug, title = STATUS_SLUGS.get(status, ("error", "Error"))
    return ProblemError(status, slug, title, detail, headers=headers)
