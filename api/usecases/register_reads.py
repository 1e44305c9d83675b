"""An auditor's reads of the register: the published summary, and the entries a page at a time.

Entries hold no subject detail, only a keyed token of whom a request was about. Each read is itself an entry
(``register_read``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from api.access.clients import Client, ClientStore
from api.audit.entry import RegisterEntry
from api.audit.outcomes import RegisterOutcome
from api.audit.transparency import SummaryRow, summarise
from api.usecases.recording import Recorder
from api.usecases.service import TraceService


@dataclass(frozen=True)
class EntriesPage:
    entries: list[RegisterEntry]
    next_after: int | None  # the sequence to read after for the next page; None at the end


class RegisterReads:
    def __init__(self, service: TraceService, clients: ClientStore, recorder: Recorder) -> None:
        self.service = service
        self.clients = clients
        self.recorder = recorder

    def summary(self, client: Client, first: dt.date | None, last: dt.date | None) -> list[SummaryRow]:
        """Counts by month, requesting organisation, category and outcome, over the UTC days ``first`` to ``last``."""
        organisations = {c.id: c.organisation for c in self.clients.list()}
        rows = summarise(self.service.register.entries(first, last), organisations)
        self.recorder.note(client, RegisterOutcome.REGISTER_READ)
        return rows

    def entries(
        self, client: Client, after: int, size: int, first: dt.date | None, last: dt.date | None
    ) -> EntriesPage:
        """Up to ``size`` entries after sequence ``after``, recorded from ``first`` to ``last``."""
        page = self.service.register.page(after, size + 1, first, last)
        self.recorder.note(client, RegisterOutcome.REGISTER_READ)
        more = len(page) > size
        return EntriesPage(page[:size], page[size - 1].sequence if more else None)
