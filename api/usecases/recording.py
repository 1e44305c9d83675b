"""Register entries for requests that get no trace answer, and the one place a failure becomes a denial.

Every request from the rate check on is an entry, written before its answer leaves: a refusal, a read, a review
step. If the entry cannot be written, the request is answered 503 and nothing is disclosed. A review step that the
queue refuses (no such request, the reviewer's own organisation, decided already) is recorded as ``forbidden`` (a
403) or ``invalid`` (anything else) and answered with the queue's reason; one on a row that fails its keyed MAC, or that
differs from what the register's steps made it, is recorded as ``tampering_detected`` (naming the row's trace id)
and logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from api.access.clients import Client
from api.audit.entry import EntryDraft, RegisterEntry
from api.audit.outcomes import RegisterOutcome
from api.audit.register import Also, Numbered, RegisterUnavailable
from api.review.queue import ReviewError, ReviewTampered
from api.usecases.denials import Denied, register_unavailable
from api.usecases.service import TraceService

_log = logging.getLogger("api")


class Recorder:
    def __init__(self, service: TraceService) -> None:
        self.service = service

    def write(
        self,
        drafts: list[EntryDraft],
        also: Also | None = None,
        now: dt.datetime | None = None,
        numbered: Numbered | None = None,
    ) -> list[RegisterEntry]:
        """The entries, in one transaction with ``also`` and ``numbered`` (see ``AuditRegister.append_many``),
        recorded at ``now`` (default: the service's clock); a 503 if they cannot be written."""
        try:
            return self.service.register.append_many(
                drafts, now or self.service.clock(), also=also, numbered=numbered
            )
        except RegisterUnavailable:
            raise register_unavailable() from None

    def note(
        self, client: Client, outcome: RegisterOutcome, http_status: int = 200, concerns: str | None = None
    ) -> RegisterEntry:
        """One entry for a request of ``client`` (``concerns``: the held request a review step is about)."""
        return self.write([self.service.draft(client, outcome, http_status, concerns)])[0]

    def refusals(self, refused: list[tuple[Client, RegisterOutcome, Denied]]) -> list[Denied]:
        """The denials, once their entries are written in one transaction (or 503s if they cannot be)."""
        if not refused:
            return []
        drafts = [self.service.draft(client, outcome, denied.status) for client, outcome, denied in refused]
        try:
            entries = self.write(drafts)
        except Denied:
            return [register_unavailable() for _ in refused]
        return [denied.recorded(entry.trace_id) for (_, _, denied), entry in zip(refused, entries, strict=True)]

    def refused(self, client: Client, outcome: RegisterOutcome, denied: Denied) -> Denied:
        return self.refusals([(client, outcome, denied)])[0]

    @contextmanager
    def invalid_recorded(self, client: Client) -> Iterator[None]:
        """A query or body of ``client`` found malformed within is recorded as ``invalid`` before it is denied."""
        try:
            yield
        except Denied as denied:
            raise self.refused(client, RegisterOutcome.INVALID, denied) from None

    @contextmanager
    def review_step(self, client: Client, concerns: str | None) -> Iterator[None]:
        """A step on a held request that the queue refuses within is recorded, then denied with the queue's
        reason; the denial does not name the entry."""
        try:
            yield
        except ReviewTampered as error:
            self.tampered(client, error.trace_id, error.status, error)
            raise Denied(error.status, error.detail) from None
        except ReviewError as error:
            outcome = RegisterOutcome.FORBIDDEN if error.status == 403 else RegisterOutcome.INVALID
            self.note(client, outcome, error.status, concerns)
            raise Denied(error.status, error.detail) from None

    def tampered(
        self, client: Client, trace_id: str, http_status: int = 200, error: ReviewTampered | None = None
    ) -> None:
        """A review row that fails its MAC (or, as ``error`` says, differs from the register), found on a request
        of ``client``: logged (the trace id only: it names no one) and noted in the register, or only logged if the
        register cannot be written either."""
        why, code = (error.why, error.code) if error is not None else (ReviewTampered.why, None)
        _log.error("review row %s %s: refused (changed outside the service)", trace_id, why)
        draft = self.service.draft(
            client, RegisterOutcome.TAMPERING_DETECTED, http_status, trace_id, refusal_codes=(code,) if code else ()
        )
        with suppress(Denied):  # the request is refused anyway; the log line stands
            self.write([draft])
