"""The HTTP service: a thin FastAPI layer over the tracing core, with who may ask, policy and the register.

``build_components(settings)`` wires the parts from configuration (index, key, database, policies);
``create_app(components)`` makes the ASGI application. Tests build components around their own tracer and
database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from api.access.clients import Client, ClientStore, Role
from api.access.probing import Probe, ProbeDetector
from api.access.ratelimit import RateLimiter
from api.audit.register import AuditRegister, RegisterUnavailable, SubjectTokens
from api.audit.transparency import entry_record, summarise
from api.http import examples
from api.http.dispatch import Dispatcher, DispatcherClosed
from api.http.models import (
    Disclosure,
    PendingReview,
    Problem,
    RefusalModel,
    RegisterEntryModel,
    RegisterPage,
    RegisterSummary,
    ReviewCase,
    ReviewDecision,
    ReviewOutcome,
    ReviewQueue,
    Status,
    SummaryRowModel,
    TraceAnswer,
    TraceRequestBody,
)
from api.http.problems import (
    ProblemError,
    problem_response,
    status_problem,
    validation_problem,
)
from api.policy.versions import PolicyBook
from api.review.queue import ReviewError, ReviewState, ReviewStore
from api.settings import Settings
from api.storage.migrate import require_current, upgrade
from api.storage.tables import make_engine
from api.usecases.service import TraceService, utc_now
from matcher.index import Index
from matcher.keys import MasterKey, load_master_key
from matcher.payload import DISCLOSURE_FIELDS
from matcher.tracer import Tracer

_log = logging.getLogger("api")
_access = logging.getLogger("api.access")
MAX_BODY_BYTES = 16_384  # a trace request is well under 2 KB


@dataclass(frozen=True)
class Components:
    service: TraceService
    clients: ClientStore
    limiter: RateLimiter
    probes: ProbeDetector
    engine: Engine
    response_floor: float = 0.0  # seconds: see Settings.response_floor_ms
    answer_timeout: float = 10.0  # seconds: see Settings.answer_timeout_seconds


def build_components(
    settings: Settings,
    key: MasterKey | None = None,
    tracer: Tracer | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Components:
    """Everything the service needs, checked at start: a key that opens the index, a schema at the latest
    revision, a policy in force today."""
    key = key or load_master_key()
    engine = make_engine(settings.database_url)
    try:
        if settings.migrate_on_start:
            upgrade(engine)
        else:
            require_current(engine)
        if tracer is None:
            tracer = Tracer(Index.load(settings.index_dir, key).warm())
    except BaseException:
        engine.dispose()
        raise
    policies = PolicyBook.load(settings.policy_dir)
    service = TraceService(
        tracer, policies, AuditRegister(engine, key), SubjectTokens(key), ReviewStore(engine, key), clock
    )
    service.record_policy_in_force()  # and NoPolicyInForce now rather than on the first request
    service.apply_retention()
    limiter = RateLimiter(settings.rate_per_minute, settings.rate_burst)
    # On the service's clock: a simulated year's windows are in simulated time.
    probes = ProbeDetector(key, settings.probe_limit, settings.probe_window_minutes * 60.0, lambda: clock().timestamp())
    return Components(
        service,
        ClientStore(engine),
        limiter,
        probes,
        engine,
        settings.response_floor_ms / 1000,
        settings.answer_timeout_seconds,
    )


_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>` from `python -m api clients add`")


async def _components(request: Request) -> Components:  # async: a plain def would cost a thread hop
    return request.app.state.components


ComponentsDependency = Annotated[Components, Depends(_components)]
BearerDependency = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@dataclass(frozen=True)
class TraceCall:
    """One POST /v1/traces as the event loop hands it over: the key presented and the body, or why it was refused."""

    key: str | None
    body: bytes | None
    body_problem: ProblemError | None


def handle_traces(components: Components, calls: list[TraceCall]) -> list[TraceAnswer | ProblemError]:
    """Trace requests that arrived together, each in this order: who asks (401), their rate (429) and role (403),
    is the body a request (413, 415, 422), is it one too many near-identical requests (429, flagged), then the
    answer. From the rate check on, every outcome is in the register, written before anything is returned: the
    refusals in one transaction, the probes in another, the answers in a third."""
    try:
        clients = components.clients.authenticate_many([call.key for call in calls])
    except SQLAlchemyError:
        return [
            status_problem(503, "the service's database does not answer; retry later", headers=_RETRY) for _ in calls
        ]
    out: list[TraceAnswer | ProblemError | None] = [None] * len(calls)
    refused: list[tuple[int, Client, str, ProblemError]] = []
    probes: list[tuple[int, Client, TraceRequestBody, str, Probe]] = []
    admitted: list[tuple[int, Client, TraceRequestBody, str]] = []
    for i, (call, client) in enumerate(zip(calls, clients, strict=True)):
        if client is None:
            out[i] = status_problem(401, _UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
        elif isinstance(admission := _admit(components, client, call), TraceRequestBody):
            trace_id = str(uuid.uuid4())
            if probe := components.probes.observe(client.id, admission.subject, trace_id):
                probes.append((i, client, admission, trace_id, probe))
            else:
                admitted.append((i, client, admission, trace_id))
        else:
            refused.append((i, client, *admission))
    for (i, *_), problem in zip(refused, _recorded(components, [r[1:] for r in refused]), strict=True):
        out[i] = problem
    for (i, *_), problem in zip(probes, _probes_refused(components, [p[1:] for p in probes]), strict=True):
        out[i] = problem
    for (i, *_), answer in zip(admitted, _answers(components, [a[1:] for a in admitted]), strict=True):
        out[i] = answer
    return out


def _probes_refused(
    components: Components, probes: list[tuple[Client, TraceRequestBody, str, Probe]]
) -> list[ProblemError]:
    """429s for requests refused as part of a probe, once their entries (flagged) are written."""
    if not probes:
        return []
    try:
        components.service.record_probes(
            [(client, body, trace_id, p.first_trace_id) for client, body, trace_id, p in probes]
        )
    except RegisterUnavailable:
        return [_register_unavailable() for _ in probes]
    problems = []
    for _, _, trace_id, probe in probes:
        retry = {"Retry-After": RateLimiter.retry_after_header(probe.retry_after)}
        problem = status_problem(429, _PROBING, headers=retry)
        problem.trace_id = trace_id
        problems.append(problem)
    return problems


def _admit(components: Components, client: Client, call: TraceCall) -> TraceRequestBody | tuple[str, ProblemError]:
    """The request of a client within its rate and of the requester role, or the outcome and problem to record."""
    if refusal := _rate_and_role(components, client, Role.REQUESTER):
        return refusal
    if call.body_problem is not None:
        return "invalid", call.body_problem
    try:
        return TraceRequestBody.model_validate_json(call.body)
    except ValidationError as error:
        return "invalid", validation_problem(error.errors(include_input=False))


def _rate_and_role(components: Components, client: Client, role: Role) -> tuple[str, ProblemError] | None:
    # The rate comes first: a key of the wrong role must not be able to flood the register with refusals.
    wait = components.limiter.acquire(client.id, client.rate_per_minute)
    if wait is not None:
        retry = {"Retry-After": RateLimiter.retry_after_header(wait)}
        return "rate_limited", status_problem(
            429, "this client's request rate is exceeded; retry after the time given", headers=retry
        )
    if client.role is not role:
        article = "an" if role.value[0] in "aeiou" else "a"
        return "forbidden", status_problem(403, f"only {article} {role.value} client may use this")
    return None


def _gate(components: Components, credentials: HTTPAuthorizationCredentials | None, role: Role) -> Client:
    """For the endpoints other than traces: the key (401), the rate (429) and the role (403), refusals recorded."""
    try:
        [client] = components.clients.authenticate_many([credentials.credentials if credentials else None])
    except SQLAlchemyError:
        raise status_problem(503, "the service's database does not answer; retry later", headers=_RETRY) from None
    if client is None:
        raise status_problem(401, _UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
    if refusal := _rate_and_role(components, client, role):
        raise _recorded(components, [(client, *refusal)])[0]
    return client


def _record(components: Components, client: Client, outcome: str, status: int, concerns: str | None = None) -> None:
    try:
        components.service.record([(client, outcome, status)], concerns=concerns)
    except RegisterUnavailable:
        raise _register_unavailable() from None


def _decide_request(
    components: Components,
    credentials: HTTPAuthorizationCredentials | None,
    trace_id: str,
    body: bytes | None,
    body_problem: ProblemError | None,
) -> ReviewOutcome:
    client = _gate(components, credentials, Role.REVIEWER)
    if body_problem is not None:
        raise _recorded(components, [(client, "invalid", body_problem)])[0]
    try:
        decision = ReviewDecision.model_validate_json(body)
    except ValidationError as error:
        problem = validation_problem(error.errors(include_input=False))
        raise _recorded(components, [(client, "invalid", problem)])[0] from None
    return _decide(components, client, trace_id, decision)


def _decide(components: Components, client: Client, trace_id: str, decision: ReviewDecision) -> ReviewOutcome:
    service = components.service
    approve, refusals = decision.decision == "approve", ()
    try:
        if approve:  # the policy may have changed while the request waited: it must still be allowed now
            grounds = service.recheck(TraceRequestBody.model_validate(service.reviews.case(trace_id).request))
            approve, refusals = grounds.allowed, grounds.refusals
        refused = [{"code": r.code, "message": r.message} for r in refusals]

        def write(connection, recorded_at):
            service.reviews.decide(
                connection, trace_id, client, approve, decision.candidate, decision.reason, refused, recorded_at
            )

        outcome = "review_approved" if approve else "review_refused"
        draft = replace(
            service.draft(client, outcome, 200, concerns=trace_id), refusal_codes=tuple(r.code for r in refusals)
        )
        [entry] = service.register.append_many([draft], service.clock(), also=write)
    except ReviewError as error:
        _record(components, client, "forbidden" if error.status == 403 else "invalid", error.status, trace_id)
        raise status_problem(error.status, error.detail) from None
    except RegisterUnavailable:
        raise _register_unavailable() from None
    return ReviewOutcome(
        trace_id=trace_id,
        state="approved" if approve else "refused",
        register_sequence=entry.sequence,
        refusals=[RefusalModel(**r) for r in refused],
    )


def _collect(components: Components, client: Client, trace_id: str) -> TraceAnswer:
    """The held request's outcome for the requester who made it; an approved disclosure leaves this once, and the
    entry that records the look names the fields disclosed."""
    service = components.service
    try:
        state, releasing, found = service.reviews.peek(trace_id, client, service.retention_cutoff())
    except ReviewError as error:
        _record(components, client, "invalid", error.status, trace_id)
        raise status_problem(error.status, error.detail) from None
    refusals: tuple = ()
    if releasing:  # the policy may have changed since the approval: the grounds must still pass now
        refusals = service.recheck(TraceRequestBody.model_validate(service.reviews.case(trace_id).request)).refusals
        releasing = not refusals
    released: dict = {}

    def collect(connection, recorded_at):
        released["disclosure"] = service.reviews.collect(connection, trace_id, recorded_at) if releasing else None

    fields = DISCLOSURE_FIELDS if releasing else ()
    draft = replace(
        service.draft(client, "collected" if releasing else "status_read", 200, concerns=trace_id, fields=fields),
        refusal_codes=tuple(r.code for r in refusals),
    )
    try:
        [entry] = service.register.append_many([draft], service.clock(), also=collect)
    except ReviewError as error:  # collected meanwhile by another request of the same client
        raise status_problem(error.status, error.detail) from None
    except RegisterUnavailable:
        raise _register_unavailable() from None
    if state is ReviewState.PENDING:
        status = Status.PENDING_REVIEW
    elif refusals:
        return TraceAnswer(
            trace_id=trace_id,
            status=Status.REFUSED,
            policy_version=service.policy_in_force().version,
            register_sequence=entry.sequence,
            refusals=[RefusalModel(code=r.code, message=r.message) for r in refusals],
        )
    elif state is ReviewState.REFUSED:
        status = Status.REFUSED
    else:
        status = Status.TRACED if found else Status.NOT_FOUND
    refused = []
    if status is Status.REFUSED:
        refused = [RefusalModel(**r) for r in service.reviews.case(trace_id).decision_refusals] or [
            RefusalModel(code="REVIEW_REFUSED", message="a reviewer refused the request")
        ]
    disclosure = released["disclosure"]
    return TraceAnswer(
        trace_id=trace_id,
        status=status,
        policy_version=None,
        register_sequence=entry.sequence,
        refusals=refused,
        disclosure=None if disclosure is None else Disclosure.model_validate(disclosure),
    )


def _answers(components: Components, admitted: list[tuple[Client, TraceRequestBody, str]]) -> list:
    if not admitted:
        return []
    try:
        calls = [(client, body) for client, body, _ in admitted]
        return components.service.answer_many(calls, [trace_id for _, _, trace_id in admitted])
    except RegisterUnavailable:
        return [_register_unavailable() for _ in admitted]
    except Exception as error:
        if len(admitted) > 1:  # one request's fault must not fail the others: answer them one by one
            return [answer for one in admitted for answer in _answers(components, [one])]
        log_unexpected(error)
        return _recorded(
            components, [(admitted[0][0], "error", status_problem(500, "the trace could not be completed"))]
        )


def _recorded(components: Components, refused: list[tuple[Client, str, ProblemError]]) -> list[ProblemError]:
    """The problems, once their register entries are written (or 503s if they cannot be)."""
    if not refused:
        return []
    try:
        entries = components.service.record([(client, outcome, p.status) for client, outcome, p in refused])
    except RegisterUnavailable:
        return [_register_unavailable() for _ in refused]
    for (_, _, problem), entry in zip(refused, entries, strict=True):
        problem.trace_id = entry.trace_id
    return [problem for _, _, problem in refused]


_RETRY = {"Retry-After": "5"}
_UNAUTHENTICATED = "a valid API key is required: Authorization: Bearer <key>"
_PROBING = (
    "too many near-identical requests about one person from this client: the request was not traced and is "
    "recorded as a suspected enumeration; retry after the time given"
)


def _register_unavailable() -> ProblemError:
    detail = "the audit register cannot be written, so nothing is disclosed; retry later"
    return status_problem(503, detail, headers=_RETRY)


def create_app(components: Components) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await asyncio.to_thread(app.state.dispatcher.close)

    app = FastAPI(
        lifespan=lifespan,
        title="Approved-trace service",
        version="1.0.0",
        description=examples.DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.components = components
    app.state.dispatcher = Dispatcher(lambda calls: handle_traces(components, calls))
    _add_error_handlers(app)

    @app.post(
        "/v1/traces",
        response_model=TraceAnswer,
        summary="Make an approved trace request",
        tags=["traces"],
        responses=examples.TRACE_RESPONSES,
        openapi_extra=examples.TRACE_REQUEST_BODY,
    )
    async def create_trace(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        components: ComponentsDependency,
    ) -> Response:
        """Judge the grounds under the policy in force today, trace the subject if allowed, record the request in
        the audit register, then answer. Only a traced answer carries a disclosure."""
        arrived = time.monotonic()
        try:
            body, problem = await _json_body(request), None
        except ProblemError as error:
            body, problem = None, error
        key = credentials.credentials if credentials else None
        try:
            call = request.app.state.dispatcher.submit(TraceCall(key, body, problem))
            answer = await asyncio.wait_for(call, components.answer_timeout)
        except DispatcherClosed:
            raise status_problem(503, "the service is stopping; retry later", headers=_RETRY) from None
        except TimeoutError:  # the call is dropped; if its entry is written later, its answer was never sent
            raise status_problem(503, "the service could not answer in time; nothing was disclosed", _RETRY) from None
        finally:  # an answer, a refusal or a problem alike: its time says nothing of the outcome below the floor
            if (wait := components.response_floor - (time.monotonic() - arrived)) > 0:
                await asyncio.sleep(wait)
        # Serialised here, once: the model was built and checked by the service, so FastAPI need not check it again.
        return Response(answer.model_dump_json(), media_type="application/json")

    @app.get(
        "/v1/register/summary",
        response_model=RegisterSummary,
        summary="Counts by month, requesting organisation, category and outcome (auditor)",
        tags=["register"],
        responses=examples.REGISTER_RESPONSES,
    )
    def register_summary(
        request: Request,
        credentials: BearerDependency,
        components: ComponentsDependency,
        start: Annotated[str | None, Query(alias="from", description="first UTC day, YYYY-MM-DD")] = None,
        end: Annotated[str | None, Query(alias="to", description="last UTC day, YYYY-MM-DD")] = None,
    ) -> RegisterSummary:
        """The shape of the published data release register: requests, traced, not found, ambiguous, held for
        review, refused (and by reason), rejected before judgement, reviewed. This read is itself recorded."""
        client = _gate(components, credentials, Role.AUDITOR)
        _given_once(components, client, request)
        first, last = _period(components, client, start, end)
        organisations = {c.id: c.organisation for c in components.clients.list()}
        rows = summarise(components.service.register.entries(first, last), organisations)
        _record(components, client, "register_read", 200)
        return RegisterSummary(start=first, end=last, rows=[SummaryRowModel(**asdict(r)) for r in rows])

    @app.get(
        "/v1/register/entries",
        response_model=RegisterPage,
        summary="The register's entries, in order, a page at a time (auditor)",
        tags=["register"],
        responses=examples.REGISTER_RESPONSES,
    )
    def register_entries(
        request: Request,
        credentials: BearerDependency,
        components: ComponentsDependency,
        start: Annotated[str | None, Query(alias="from", description="first UTC day, YYYY-MM-DD")] = None,
        end: Annotated[str | None, Query(alias="to", description="last UTC day, YYYY-MM-DD")] = None,
        after: Annotated[str | None, Query(description="the next_after of the previous page")] = None,
        limit: Annotated[str | None, Query(description="entries per page, 1 to 1000 (default 100)")] = None,
    ) -> RegisterPage:
        """Entries hold no subject detail: only a keyed token of who was asked about. This read is recorded."""
        client = _gate(components, credentials, Role.AUDITOR)
        _given_once(components, client, request)
        first, last = _period(components, client, start, end)
        cursor = _whole_number(components, client, "after", after, 0, 0, 2**62)
        size = _whole_number(components, client, "limit", limit, 100, 1, 1_000)
        page = components.service.register.page(cursor, size + 1, first, last)
        _record(components, client, "register_read", 200)
        more = len(page) > size
        return RegisterPage(
            entries=[RegisterEntryModel(**entry_record(e)) for e in page[:size]],
            next_after=page[size - 1].sequence if more else None,
        )

    @app.get(
        "/v1/reviews",
        response_model=ReviewQueue,
        summary="Requests held for review, oldest first (reviewer)",
        tags=["reviews"],
        responses=examples.REVIEW_QUEUE_RESPONSES,
    )
    def list_reviews(credentials: BearerDependency, components: ComponentsDependency) -> ReviewQueue:
        client = _gate(components, credentials, Role.REVIEWER)
        pending = components.service.reviews.pending()
        _record(components, client, "reviews_listed", 200)
        return ReviewQueue(pending=[PendingReview(**row) for row in pending])

    @app.get(
        "/v1/reviews/{trace_id}",
        response_model=ReviewCase,
        summary="One held request: the request, the policy, the candidates' comparison levels (reviewer)",
        tags=["reviews"],
        responses=examples.REVIEW_CASE_RESPONSES,
    )
    def read_review(trace_id: str, credentials: BearerDependency, components: ComponentsDependency) -> ReviewCase:
        client = _gate(components, credentials, Role.REVIEWER)
        try:
            case = components.service.reviews.case(trace_id)
        except ReviewError as error:
            _record(components, client, "invalid", error.status)
            raise status_problem(error.status, error.detail) from None
        checks = (
            components.service.recheck(TraceRequestBody.model_validate(case.request))
            if "subject" in case.request
            else None
        )
        _record(components, client, "review_read", 200, concerns=case.trace_id)
        return ReviewCase(
            **{**asdict(case), "state": case.state.value, "reason": case.reason.value},
            policy_checks=[RefusalModel(code=r.code, message=r.message) for r in (checks.refusals if checks else ())],
            policy_in_force=components.service.policy_in_force().version,
        )

    @app.post(
        "/v1/reviews/{trace_id}",
        response_model=ReviewOutcome,
        summary="Approve or refuse a held request, with a written reason (reviewer)",
        tags=["reviews"],
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
        """A reviewer may not decide a request of their own organisation. Approval releases the chosen candidate's
        disclosure for the requester to collect once from GET /v1/traces/{trace_id}; the decision is an entry.
        The body is read here, not by FastAPI, so that the key, rate and role come first (as for traces)."""
        try:
            body, problem = await _json_body(request), None
        except ProblemError as error:
            body, problem = None, error
        return await run_in_threadpool(_decide_request, components, credentials, trace_id, body, problem)

    @app.get(
        "/v1/traces/{trace_id}",
        response_model=TraceAnswer,
        summary="The outcome of a held request (the requester who made it)",
        tags=["traces"],
        responses=examples.HELD_TRACE_RESPONSES,
    )
    def read_trace(trace_id: str, credentials: BearerDependency, components: ComponentsDependency) -> TraceAnswer:
        """pending_review until decided; then traced (with the disclosure, this once), not_found (approved without
        a candidate) or refused (REVIEW_REFUSED). Each look is an entry; the one that discloses names the fields."""
        client = _gate(components, credentials, Role.REQUESTER)
        return _collect(components, client, trace_id)

    @app.get(
        "/v1/health",
        summary="Readiness: the index is loaded and the database answers",
        tags=["service"],
        responses=examples.HEALTH_RESPONSES,
    )
    def health(components: ComponentsDependency) -> dict[str, str]:
        try:
            with components.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            raise status_problem(503, "the database does not answer") from None
        return {"status": "ok", "policy_version": components.service.policy_in_force().version}

    app.openapi = lambda: _openapi(app)
    return app


def _given_once(components: Components, client: Client, request: Request) -> None:
    """A query parameter given twice is a 422 (FastAPI would silently take the last)."""
    for name in dict.fromkeys(request.query_params.keys()):
        if len(request.query_params.getlist(name)) > 1:
            raise _invalid_query(components, client, name, "must be given once")


def _period(
    components: Components, client: Client, start: str | None, end: str | None
) -> tuple[dt.date | None, dt.date | None]:
    """The from/to query as dates; a bad one is a recorded 422."""
    dates = []
    for name, value in (("from", start), ("to", end)):
        try:
            dates.append(dt.date.fromisoformat(value) if value else None)
        except ValueError:
            raise _invalid_query(components, client, name, "must be a date, YYYY-MM-DD") from None
    first, last = dates
    if first and last and first > last:
        raise _invalid_query(components, client, "from", "must not be after to")
    return first, last


def _whole_number(
    components: Components, client: Client, name: str, value: str | None, default: int, low: int, high: int
) -> int:
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise _invalid_query(components, client, name, f"must be a whole number from {low} to {high}")
    return int(value)


def _invalid_query(components: Components, client: Client, name: str, message: str) -> ProblemError:
    problem = validation_problem([{"loc": ("query", name), "msg": message}])
    return _recorded(components, [(client, "invalid", problem)])[0]


async def _json_body(request: Request) -> bytes:
    """The body of a JSON request, bounded; the key, rate and role are checked after, on the worker thread."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise status_problem(415, "send the request body as application/json")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise status_problem(413, f"a trace request must be at most {MAX_BODY_BYTES} bytes")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise status_problem(413, f"a trace request must be at most {MAX_BODY_BYTES} bytes")
    except ClientDisconnect:
        raise status_problem(400, "the client went away before sending the whole request") from None
    return bytes(body)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, error: ProblemError):
        return problem_response(error, _route_template(request.scope))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError):
        return problem_response(validation_problem(error.errors()), _route_template(request.scope))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException):
        detail = error.detail if error.status_code in (404, 405) else "the request cannot be handled"
        headers = error.headers
        if error.status_code == 405:  # Starlette's Allow names only the first matching route's methods
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        return problem_response(
            status_problem(error.status_code, str(detail), headers=headers), _route_template(request.scope)
        )

    app.add_middleware(OuterGuard)


def _openapi(app: FastAPI) -> dict:
    """FastAPI's document, plus the request body's schema (the endpoint reads its body itself, so that
    authentication comes before parsing and a malformed body is still recorded in the register)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    body = TraceRequestBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(body.pop("$defs", {}))
    components["TraceRequestBody"] = body
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components["ReviewDecision"] = ReviewDecision.model_json_schema(ref_template="#/components/schemas/{model}")
    app.openapi_schema = schema
    return schema


class OuterGuard:
    """The outermost layer. An unexpected error becomes a plain 500 problem, logged as its type and where it
    happened, never its message or locals, which may hold a subject's details. And one access-log line per
    request: method, route template, status, time; not the path as sent, its query string or the client's address,
    any of which may carry what a requester typed (uvicorn's own access log is off)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 0

        async def recording_send(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except Exception as error:
            log_unexpected(error)
            if status:
                raise RuntimeError("response already started") from None
            response = problem_response(status_problem(500, "an internal error occurred"), _route_template(scope))
            await response(scope, receive, recording_send)
        finally:
            route = _route_template(scope) or "(no route)"
            elapsed = (time.perf_counter() - start) * 1000
            _access.info("%s %s %d %.1f ms", scope["method"], route, status, elapsed)


def log_unexpected(error: BaseException) -> None:
    """The error's type and innermost frames: enough to find the bug, nothing a subject could be known by."""
    frames = traceback.extract_tb(error.__traceback__)
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-4:]))
    _log.error("unhandled %s at %s", type(error).__name__, where)


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


def _route_template(scope) -> str | None:
    """The matched route's path template: a path as sent may carry whatever the client put in it."""
    route = scope.get("route")
    return getattr(route, "path", None)
