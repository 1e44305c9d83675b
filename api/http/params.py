"""What a request carries besides its body's shape: the key, the query, the body's bytes.

Each is read here and found malformed here; a malformed query or path id is denied without being recorded, and the
route records it (``Recorder.invalid_recorded``) once its client is known. Digits are ASCII only, lengths and
values bounded, before anything is parsed: ``str.isdigit`` and ``int`` take '²' and '٣', ``int`` refuses more than
4300 digits, and a date next to the ends of ``datetime.date`` overflows when a day is added to it. A body is read
on the event loop, bounded, before anything else; the key, rate and role are checked after, on a worker thread,
and come first in the answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import ClientDisconnect

from api.http.examples import REQUEST_ID_PATTERN
from api.http.problems import field_denial
from api.usecases.denials import Denied
from api.wiring import Components

MAX_BODY_BYTES = 16_384  # a trace request is well under 2 KB

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)

# The days a register read may name. 1900 and 9998: wider than any register can hold (none predates the service),
# so no "from the start" or "to the end" query of an auditor is refused, and a day (or a year) still fits after the
# last one, where the register's reads add a day; every day between is four-digit-year ISO text, which sorts as time.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(9998, 12, 31)
DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATE = re.compile(DATE_PATTERN)
_DIGITS = re.compile("[0-9]+")  # not \d, which is any script's digits
# A trace_id as the service issues it (str(uuid4()): lower-case); either case is taken, and lower-cased.
TRACE_ID_PATTERN = REQUEST_ID_PATTERN

# Each parameter as the OpenAPI document describes it (``api.http.openapi``), so that a fuzzer generates around its
# edges. The routes declare them as plain text and check them here, so that FastAPI never answers a 422 of its own,
# unrecorded; the document says what is checked, from the same constants.
_YEARS = "(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"  # 1900 to 9998
_DAY_SCHEMA = {
    "type": "string",
    "format": "date",
    "pattern": f"^{_YEARS}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
    "minLength": 10,
    "maxLength": 10,
}
MAX_AFTER = 2**62
MAX_LIMIT = 1_000
PARAMETER_SCHEMAS: dict[tuple[str, str], dict] = {
    ("query", "from"): _DAY_SCHEMA,
    ("query", "to"): _DAY_SCHEMA,
    ("query", "after"): {"type": "integer", "minimum": 0, "maximum": MAX_AFTER, "default": 0},
    ("query", "limit"): {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100},
    # No "format": "uuid": the pattern says as much, and with it schemathesis's stateful scenarios on PostgreSQL
    # (derandomised) no longer reached a decided request (why was not found in the time there was).
    ("path", "trace_id"): {
        "type": "string",
        "pattern": REQUEST_ID_PATTERN,
        "minLength": 36,
        "maxLength": 36,
    },
}
"""(where, name) -> the JSON Schema of every query and path parameter of every endpoint."""

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>` from `python -m api clients add`")


async def _components(request: Request) -> Components:  # async: a plain def would cost a thread hop
    return request.app.state.components


ComponentsDependency = Annotated[Components, Depends(_components)]
BearerDependency = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def key_of(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The API key presented, if any."""
    return credentials.credentials if credentials else None


async def read_body(request: Request, deadline: float) -> tuple[bytes | None, Denied | None]:
    """The body of a JSON request, or why it could not be read (to be recorded once the client is known). A body
    not whole within ``deadline`` seconds is a 408: a client trickling bytes must not hold its connection and this
    coroutine for as long as it likes (``api.http.connections`` closes the connection if the app does not)."""
    try:
        async with asyncio.timeout(deadline):
            return await _json_body(request), None
    except Denied as unreadable:
        return None, unreadable
    except TimeoutError:
        return None, Denied(408, f"the request body was not received within {deadline:g} s")


def read_request_id(request: Request, required: bool) -> tuple[str | None, Denied | None]:
    """The request's X-Request-ID, lower-cased, or None; or why it is malformed (to be recorded once the client is
    known). The value is never repeated in the answer."""
    sent = request.headers.getlist(REQUEST_ID_HEADER)
    if not sent:
        return None, _invalid_header("is required: a UUID naming this request") if required else None
    if len(sent) > 1:
        return None, _invalid_header("must be given once")
    if not _REQUEST_ID.fullmatch(sent[0]):
        return None, _invalid_header("must be a UUID, such as 0b7e3f0c-3f55-4d1e-9d0c-2c8a3f9e1d44")
    return sent[0].lower(), None


async def _json_body(request: Request) -> bytes:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise Denied(415, "send the request body as application/json")
    declared = request.headers.get("content-length")
    # ASCII digits, bounded, as for a query: int() of '²' (which isdigit takes) or of 5,000 digits is a 500.
    if declared and len(declared) <= 20 and _DIGITS.fullmatch(declared) and int(declared) > MAX_BODY_BYTES:
        raise Denied(413, f"a trace request must be at most {MAX_BODY_BYTES} bytes")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise Denied(413, f"a trace request must be at most {MAX_BODY_BYTES} bytes")
    except ClientDisconnect:
        raise Denied(400, "the client went away before sending the whole request") from None
    return bytes(body)


def given_once(request: Request) -> None:
    """A query parameter given twice is a 422 (FastAPI would silently take the last)."""
    for name in dict.fromkeys(request.query_params.keys()):
        if len(request.query_params.getlist(name)) > 1:
            raise _invalid_query(name, "must be given once")


def period(start: str | None, end: str | None) -> tuple[dt.date | None, dt.date | None]:
    """The from/to query as dates, each from FIRST_DAY to LAST_DAY."""
    first, last = _day("from", start), _day("to", end)
    if first and last and first > last:
        raise _invalid_query("from", "must not be after to")
    return first, last


def _day(name: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:  # the pattern first: fromisoformat also takes 20261101, 2026-W44-7 and other scripts' digits
        day = dt.date.fromisoformat(value) if _DATE.fullmatch(value) else None
    except ValueError:
        day = None
    if day is None:
        raise _invalid_query(name, "must be a date, YYYY-MM-DD")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _invalid_query(name, f"must be a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def whole_number(name: str, value: str | None, default: int, low: int, high: int) -> int:
    """The query parameter as a whole number from ``low`` to ``high`` (``default`` if not given): ASCII digits
    only, no sign or space, at most as many digits as ``high`` has."""
    if value is None:
        return default
    if len(value) > len(str(high)) or not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise _invalid_query(name, f"must be a whole number from {low} to {high}, in ASCII digits")
    return int(value)


def trace_id(value: str) -> str:
    """A path's trace_id, lower-cased: a UUID as the service issues them. Anything else names no held request,
    and is not to be written into the register's ``concerns`` (36 characters) as sent."""
    if not _REQUEST_ID.fullmatch(value):
        raise field_denial([{"loc": ("path", "trace_id"), "msg": "must be a trace_id: a UUID, 8-4-4-4-12 hex digits"}])
    return value.lower()


def _invalid_query(name: str, message: str) -> Denied:
    return field_denial([{"loc": ("query", name), "msg": message}])


def _invalid_header(message: str) -> Denied:
    return field_denial([{"loc": ("header", REQUEST_ID_HEADER), "msg": message}])
