"""Reporting rows found edited outside the service: a log line (no secret in it) and a ``tampering_detected`` entry.

A row is reported once per state per process: a key presented a thousand times against one edited row makes one
entry, not a thousand. On the request path the entry is written on a thread of its own, so that a key whose row
was edited is answered as fast as an unknown key (the answer, a 401, is the same).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy.exc import SQLAlchemyError

from api.access.rows import rights_draft
from api.audit.outcomes import RegisterOutcome
from api.audit.register import AuditRegister, RegisterUnavailable

log = logging.getLogger("api.access.tampering")
UNVERIFIED = "(unverified)"
"""The name recorded for a row that fails its MAC: what it says was not written by the service."""


class RowProblem(StrEnum):
    MAC_INVALID = "row_mac_invalid"  # edited, inserted, or its MAC copied from another row
    NOT_IN_REGISTER = "not_in_register"  # no change in the register made this row
    DIFFERS = "differs_from_register"  # a valid MAC, but not the newest state the register holds (restored)
    MISSING = "missing_from_table"  # the register made this row, the table no longer has it
    ENTRY_FORGED = "entry_hash_invalid"  # a change in the register whose hash the key did not make


@dataclass(frozen=True)
class Finding:
    table: str  # clients, organisations, reviews (or register: an entry)
    row_id: str  # the client's number, the organisation's id, the held request's trace id
    name: str  # the client's name or the organisation's id (a held request's: its requester's), as the row (or the
    # register) gives it
    problem: RowProblem
    row_mac: str | None = None  # the row's MAC as stored (it is what a later correct change replaces)

    @property
    def client_id(self) -> int:
        return int(self.row_id) if self.table == "clients" and self.row_id.isdigit() else 0

    def describe(self) -> str:
        return f"{self.table} row {self.row_id}: {self.problem.value}"


class TamperReports:
    def __init__(self, register: AuditRegister, background: bool = True) -> None:
        self.register = register
        self._seen: set[tuple[str, str, str, str | None]] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tampering") if background else None
        self._pending: list[Future] = []

    def report(self, findings: list[Finding]) -> None:
        """Log and record the findings not reported before by this process."""
        with self._lock:
            new = [f for f in findings if (f.table, f.row_id, f.problem.value, f.row_mac) not in self._seen]
            self._seen.update((f.table, f.row_id, f.problem.value, f.row_mac) for f in new)
        if not new:
            return
        for finding in new:
            log.warning("tampering detected: %s", finding.describe())
        if self._pool is None:
            self._record(new)
        else:
            self._pending.append(self._pool.submit(self._record, new))

    def flush(self) -> None:
        """Wait for the entries being written."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _record(self, findings: list[Finding]) -> None:
        drafts = [
            replace(
                rights_draft(
                    RegisterOutcome.TAMPERING_DETECTED,
                    f.client_id,
                    f.name,
                    {"table": f.table, "id": f.row_id, "problem": f.problem.value},
                    (f.problem.value,),
                ),
                # A held request's row: named as its other steps name it, so that its history reads in one place.
                concerns=f.row_id if f.table == "reviews" else None,
            )
            for f in findings
        ]
        try:
            self.register.append_many(drafts, dt.datetime.now(dt.UTC))
        except (RegisterUnavailable, SQLAlchemyError):
            log.error("tampering detected but not recorded: the register could not be written")
