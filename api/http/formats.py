"""The bodies this API reads, as the use cases take them: a trace request, a reviewer's decision.

Parsing checks a body against its shape (``api.http.models``); a body that does not fit is denied with the
fields at fault, never their values (``api.http.problems``). The trace request format is handed to the use cases
at wiring, which also read a held request back through it when its grounds are judged again.
"""

from __future__ import annotations

from functools import partial

from pydantic import ValidationError

from api.http.models import ReviewDecision, TraceRequestBody
from api.http.problems import field_denial
from api.usecases.denials import Denied
from api.usecases.request import Subject, TraceApplication
from api.usecases.reviewing import Decision


class TraceRequestFormat:
    """Trace requests as ``TraceRequestBody`` describes them."""

    def parse(self, body: bytes) -> TraceApplication:
        try:
            parsed = TraceRequestBody.model_validate_json(body)
        except ValidationError as error:
            raise field_denial(error.errors(include_input=False)) from None
        return _application(parsed)

    def read(self, request: dict) -> TraceApplication:
        return _application(TraceRequestBody.model_validate(request))


TRACE_REQUESTS = TraceRequestFormat()


def _application(body: TraceRequestBody) -> TraceApplication:
    subject = body.subject
    return TraceApplication(
        Subject(
            family_name=subject.family_name,
            date_of_birth=subject.date_of_birth,
            given_name=subject.given_name,
            other_given_names=subject.other_given_names,
            sex=subject.sex,
            postcode=subject.postcode,
            address=subject.address,
            town=subject.town,
        ),
        body.grounds(),
        partial(body.model_dump, mode="json"),
    )


def review_decision(body: bytes | None, unreadable: Denied | None) -> Decision:
    """A reviewer's decision; denied if the body could not be read or is not a decision."""
    if unreadable is not None:
        raise unreadable
    try:
        decision = ReviewDecision.model_validate_json(body)
    except ValidationError as error:
        raise field_denial(error.errors(include_input=False)) from None
    return Decision(decision.decision == "approve", decision.reason, decision.candidate)
