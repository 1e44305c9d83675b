"""How a request is turned away, and how an unexpected failure is logged.

A ``Denied`` is what a use case raises (or, for trace requests handled together, returns) instead of an answer:
the HTTP status it is answered and recorded with, a detail that never repeats what the client sent, the fields at
fault, how soon the client may try again, and, once it is in the register, the trace id of its entry. The HTTP
layer renders it as an RFC 9457 problem (``api.http.problems``).

An unexpected error is logged as its type and where it happened, never its message or locals, which may hold a
subject's details.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

RETRY_SOON = 5.0
"""Seconds a 503 asks the client to wait: the database, the register or the service itself may be back by then."""

_log = logging.getLogger("api")


class Denied(Exception):
    """A request turned away: answered with ``status`` and ``detail``; recorded, when ``trace_id`` is set."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        retry_after: float | None = None,
        errors: list[dict[str, str]] | None = None,
        trace_id: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.retry_after = retry_after  # seconds, when the client may try again
        self.errors = errors  # the fields at fault and why, never the values sent
        self.trace_id = trace_id

    def recorded(self, trace_id: str) -> Denied:
        """The same denial, naming the register entry that records it."""
        return Denied(self.status, self.detail, retry_after=self.retry_after, errors=self.errors, trace_id=trace_id)


def unauthenticated() -> Denied:
    return Denied(401, "a valid API key is required: Authorization: Bearer <key>")


def database_unavailable() -> Denied:
    return Denied(503, "the service's database does not answer; retry later", retry_after=RETRY_SOON)


def register_unavailable() -> Denied:
    """The entry could not be written, so the request gets no answer but this."""
    detail = "the audit register cannot be written, so nothing is disclosed; retry later"
    return Denied(503, detail, retry_after=RETRY_SOON)


def log_unexpected(error: BaseException) -> None:
    """The error's type and innermost frames: enough to find the bug, nothing a subject could be known by."""
    frames = traceback.extract_tb(error.__traceback__)
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-4:]))
    _log.error("unhandled %s at %s", type(error).__name__, where)
