"""Errors as RFC 9457 problem details (``application/problem+json``), never echoing what the client sent.

A validation error names the field at fault and what it expects; the value received is dropped, and so is any
field name the client invented (a surname sent as a key stays unsaid). ``instance`` is the route's template
("/v1/traces"), never the path as sent. A use case's ``Denied`` becomes a problem here; so do the framework's own
errors (no route, wrong method, a malformed path or query).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from api.access.ratelimit import RateLimiter
from api.usecases.denials import Denied

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


def field_denial(errors: Iterable[Mapping]) -> Denied:
    """A 422 naming the fields at fault (pydantic's errors, or {loc, msg} of a query parameter)."""
    listed = field_errors(errors)
    fields = ", ".join(sorted({e["field"] for e in listed}))
    return Denied(422, f"fields at fault: {fields}", errors=listed)


STATUS_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed for this client's role"),
    404: ("not-found", "No such resource"),
    405: ("method-not-allowed", "Method not allowed"),
    408: ("timeout", "The request was not received in time"),
    409: ("conflict", "Conflict with the request's current state"),
    413: ("too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-request", "The request is not valid"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal error"),
    503: ("unavailable", "Service unavailable"),
}


def status_problem(status: int, detail: str, headers: Mapping[str, str] | None = None) -> ProblemError:
    slug, title = STATUS_SLUGS.get(status, ("error", "Error"))
    return ProblemError(status, slug, title, detail, headers=headers)


def problem_of(denied: Denied) -> ProblemError:
    """A denial as its problem: Retry-After when the client may try again, the scheme with a 401, the connection
    closed with a 408 (RFC 9110)."""
    headers = {}
    if denied.retry_after is not None:
        headers["Retry-After"] = RateLimiter.retry_after_header(denied.retry_after)
    if denied.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if denied.status == 408:  # the rest of a late body is not wanted, and no next request can start before it
        headers["Connection"] = "close"
    problem = status_problem(denied.status, denied.detail, headers=headers)
    problem.errors, problem.trace_id = denied.errors, denied.trace_id
    return problem


def route_template(scope: Scope) -> str | None:
    """The matched route's path template: a path as sent may carry whatever the client put in it."""
    route = scope.get("route")
    return getattr(route, "path", None)


def add_problem_handlers(app: FastAPI) -> None:
    """Every error the application answers becomes a problem document."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(error, route_template(request.scope))

    @app.exception_handler(Denied)
    async def _denied(request: Request, denied: Denied) -> JSONResponse:
        return problem_response(problem_of(denied), route_template(request.scope))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return problem_response(problem_of(field_denial(error.errors())), route_template(request.scope))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if error.status_code in (404, 405) else "the request cannot be handled"
        headers = error.headers
        if error.status_code == 405:  # Starlette's Allow names only the first matching route's methods
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        return problem_response(
            status_problem(error.status_code, str(detail), headers=headers), route_template(request.scope)
        )


def _allowed_methods(request: Request) -> str:
    """Every method of every route of the path asked for: /v1/reviews/{trace_id} is a GET route and a POST route."""
    path = request.scope["path"]
    methods = {
        method
        for route in request.app.routes
        if getattr(route, "methods", None) and route.path_regex.match(path)
        for method in route.methods
    }
    return ", ".join(sorted(methods))

