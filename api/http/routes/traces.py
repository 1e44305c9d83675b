"""POST /v1/traces: a trace request, handed to the dispatcher's thread and answered no sooner than the floor.

The event loop reads the body (bounded) and the key; the dispatcher's thread admits the requests that arrived
together (``api.usecases.admission``) and shapes each result, so that the event loop has only to serialise the
answer, once. A request arriving while the service stops, or not answered within the answer timeout, is a 503
that discloses nothing.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request, Response

from api.http import examples
from api.http.dispatch import DispatcherClosed
from api.http.models import TraceAnswer, trace_answer
from api.http.params import BearerDependency, ComponentsDependency, key_of, read_body, read_request_id
from api.http.problems import ProblemError, problem_of
from api.usecases.admission import TraceCall
from api.usecases.denials import RETRY_SOON, Denied
from api.wiring import Components

router = APIRouter()


@router.post(
    "/v1/traces",
    response_model=TraceAnswer,
    summary="Make an approved trace request",
    tags=["traces"],
    responses=examples.TRACE_RESPONSES,
    openapi_extra={**examples.TRACE_REQUEST_BODY, **examples.REQUEST_ID_PARAMETER},
)
async def create_trace(
    request: Request, credentials: BearerDependency, components: ComponentsDependency
) -> Response:
    """Judge the grounds under the policy in force today, trace the subject if allowed, record the request in
    the audit register, then answer. Only a traced answer carries a disclosure. Sent again with the same
    X-Request-ID and body within a day, the request is answered as it was the first time, and nothing more is
    traced or recorded."""
    arrived = time.monotonic()
    body, unreadable = await read_body(request, components.body_deadline)
    request_id, malformed_id = read_request_id(request, components.require_request_id)
    try:
        call = request.app.state.dispatcher.submit(
            TraceCall(key_of(credentials), body, unreadable, request_id, malformed_id)
        )
        answer = await asyncio.wait_for(call, components.answer_timeout)
    except DispatcherClosed:
        raise Denied(503, "the service is stopping; retry later", retry_after=RETRY_SOON) from None
    # The call is dropped; if its entry is written later, its answer was never sent, but a retry with the same
    # X-Request-ID gets it.
    except TimeoutError:
        detail = "the service could not answer in time; nothing was disclosed"
        raise Denied(503, detail, retry_after=RETRY_SOON) from None
    finally:  # an answer, a refusal or a problem alike: its time says nothing of the outcome below the floor
        if (wait := components.response_floor - (time.monotonic() - arrived)) > 0:
            await asyncio.sleep(wait)
    # Serialised here, once: the model was made from the use case's answer, so FastAPI need not check it again.
    return Response(answer.model_dump_json(), media_type="application/json")


def handle_traces(components: Components, calls: list[TraceCall]) -> list[TraceAnswer | ProblemError]:
    """The dispatcher's work: the calls that arrived together, admitted, each result in its HTTP shape."""
    return [
        problem_of(result) if isinstance(result, Denied) else trace_answer(result)
        for result in components.admission.handle(calls)
    ]
