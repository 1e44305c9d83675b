"""The audit register: one hash-chained entry per authenticated request, written before the response is sent.

Each entry's hash is an HMAC (a subkey of the deployment's master key) over the previous entry's hash and the
entry's own fields, sequence number included. Changing an entry breaks its hash; removing or reordering entries
breaks the sequence or the link; rewriting the whole chain needs the key. Truncating the newest entries leaves a
valid shorter chain, so ``verify`` reports the head (sequence and hash) for operators to anchor outside the
database, and checks it against an anchor when given one.

What an entry holds is defined in ``api.audit.entry``; the subject of a request only as a keyed token
(``api.audit.subjects``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.audit.entry import DRAFT_FIELDS, LATER_FIELDS, LISTED_FIELDS, EntryDraft, RegisterEntry, draft_values
from api.audit.outcomes import RegisterOutcome
from api.storage.tables import register_entries
from matcher.protection.keys import MasterKey

GENESIS_HASH = "0" * 64
_APPEND_ATTEMPTS = 5
_POSTGRES_LOCK = 0x7265676973746572  # "register": one writer at a time across processes


Also = Callable[[Connection, str], object]
"""What is written in the entries' transaction: ``also(connection, recorded_at)`` (a held request's case)."""
Numbered = Callable[[Connection, list["RegisterEntry"]], object]
"""What is written in the entries' transaction and needs their sequence numbers (an answer kept for a retry)."""


class RegisterUnavailable(RuntimeError):
    """The entry could not be written: the request must not be answered with a disclosure."""


@dataclass(frozen=True)
class Verification:
    entries: int
    head_sequence: int
    head_hash: str
    broken_at: int | None = None  # sequence of the first entry that fails, if any
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken_at is None and self.problem is None


class AuditRegister:
    def __init__(self, engine: Engine, key: MasterKey) -> None:
        self.engine = engine
        self._key = key.derive("audit-register")
        self._lock = threading.Lock()  # one writer at a time in this process; the database orders processes

    def append(self, draft: EntryDraft, now: dt.datetime) -> RegisterEntry:
        """Write the entry as the chain's next and return it once committed; RegisterUnavailable if it cannot be."""
        return self.append_many([draft], now)[0]

    def append_many(
        self,
        drafts: list[EntryDraft],
        now: dt.datetime,
        also: Also | None = None,
        numbered: Numbered | None = None,
    ) -> list[RegisterEntry]:
        """Write the entries, in order, in one transaction (requests that arrived together: one fsync for all).
        ``also(connection, recorded_at)`` writes what must stand or fall with them (a held request's case), and
        ``numbered(connection, entries)`` what must besides name them (an answer kept for a retry)."""
        recorded_at = now.astimezone(dt.UTC).isoformat(timespec="microseconds")
        try:
            with self._lock:
                return self._write([(draft, recorded_at) for draft in drafts], also, numbered)
        except SQLAlchemyError as error:
            raise RegisterUnavailable("the audit register could not be written") from error

    def _write(
        self, batch: list[tuple[EntryDraft, str]], also: Also | None, numbered: Numbered | None
    ) -> list[RegisterEntry]:
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                return self._append_batch(batch, also, numbered)
            except IntegrityError:  # another process took a sequence number: re-read the head and retry
                if attempt == _APPEND_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _append_batch(
        self, batch: list[tuple[EntryDraft, str]], also: Also | None, numbered: Numbered | None
    ) -> list[RegisterEntry]:
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _POSTGRES_LOCK})
            head = connection.execute(
                select(register_entries.c.sequence, register_entries.c.entry_hash)
                .order_by(register_entries.c.sequence.desc())
                .limit(1)
            ).first()
            sequence, previous = (head.sequence, head.entry_hash) if head else (0, GENESIS_HASH)
            rows, entries = [], []
            for draft, recorded_at in batch:
                sequence += 1
                row = _row(sequence, recorded_at, draft, previous)
                row["entry_hash"] = self._hash(row)
                rows.append(row)
                entries.append(RegisterEntry(sequence, recorded_at, draft, previous, row["entry_hash"]))
                previous = row["entry_hash"]
            connection.execute(insert(register_entries), rows)
            if also is not None:
                also(connection, batch[0][1])
            if numbered is not None:
                numbered(connection, entries)
        return entries

    def latest_policy_recorded(self) -> str | None:
        """The policy version of the newest policy_in_force entry, if any."""
        query = (
            select(register_entries.c.policy_version)
            .where(register_entries.c.outcome == RegisterOutcome.POLICY_IN_FORCE.value)
            .order_by(register_entries.c.sequence.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()

    def entries(
        self, start: dt.date | None = None, end: dt.date | None = None, batch: int = 1_000
    ) -> Iterator[RegisterEntry]:
        """Every entry in sequence order (recorded from ``start`` to ``end`` inclusive, UTC days), read in batches."""
        after = 0
        while page := self.page(after, batch, start, end):
            yield from page
            after = page[-1].sequence

    def page(
        self, after: int, limit: int, start: dt.date | None = None, end: dt.date | None = None
    ) -> list[RegisterEntry]:
        """Up to ``limit`` entries after sequence ``after``, in order, recorded from ``start`` to ``end``."""
        query = select(register_entries).where(register_entries.c.sequence > after)
        if start is not None:
            query = query.where(register_entries.c.recorded_at >= start.isoformat())
        if end is not None and end < dt.date.max:  # ISO text sorts as time does: all of ``end`` is before the next day
            query = query.where(register_entries.c.recorded_at < (end + dt.timedelta(days=1)).isoformat())
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(register_entries.c.sequence).limit(limit)).all()
        return [_entry(row._asdict()) for row in rows]

    def verify(self, anchor: tuple[int, str] | None = None) -> Verification:
        """Check every link; with ``anchor`` (sequence, hash) recorded earlier, also that it is still in the chain."""
        expected, previous, count = 1, GENESIS_HASH, 0
        anchor_seen = anchor is None
        for entry in self.entries():
            count += 1
            if entry.sequence != expected:
                return self._broken(count, expected - 1, previous, entry.sequence, _gap(expected, entry.sequence))
            if entry.previous_hash != previous:
                problem = f"entry {entry.sequence} does not follow entry {entry.sequence - 1} (removed or reordered)"
                return self._broken(count, expected - 1, previous, entry.sequence, problem)
            row = _row(entry.sequence, entry.recorded_at, entry.draft, entry.previous_hash)
            if not hmac.compare_digest(self._hash(row), entry.entry_hash):
                problem = f"entry {entry.sequence} was changed after it was written"
                return self._broken(count, expected - 1, previous, entry.sequence, problem)
            if anchor is not None and entry.sequence == anchor[0]:
                if entry.entry_hash != anchor[1]:
                    return self._broken(count, entry.sequence, entry.entry_hash, entry.sequence, "anchor differs")
                anchor_seen = True
            expected, previous = entry.sequence + 1, entry.entry_hash
        if not anchor_seen:
            problem = f"the register ends at entry {expected - 1}, before the anchor {anchor[0]}: entries were removed"
            return Verification(count, expected - 1, previous, broken_at=expected, problem=problem)
        return Verification(count, expected - 1, previous)

    @staticmethod
    def _broken(count: int, head: int, head_hash: str, at: int, problem: str) -> Verification:
        return Verification(count, head, head_hash, broken_at=at, problem=problem)

    def _hash(self, row: dict) -> str:
        content = {k: v for k, v in row.items() if k != "entry_hash" and not (k in LATER_FIELDS and v is None)}
        message = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def _row(sequence: int, recorded_at: str, draft: EntryDraft, previous_hash: str) -> dict:
    """The entry as stored and hashed (the hash is of JSON with sorted keys: the order here does not count)."""
    values = draft_values(draft)
    values["outcome"] = str(draft.outcome)  # the text of a RegisterOutcome, as every database stores it
    for name in LISTED_FIELDS:
        values[name] = json.dumps(list(values[name]))
    return {"sequence": sequence, "recorded_at": recorded_at, **values, "previous_hash": previous_hash}


def _entry(row: dict) -> RegisterEntry:
    values = {name: row.get(name) for name in DRAFT_FIELDS}
    for name in LISTED_FIELDS:
        values[name] = tuple(json.loads(row[name]))
    return RegisterEntry(
        int(row["sequence"]), row["recorded_at"], EntryDraft(**values), row["previous_hash"], row["entry_hash"]
    )


def _gap(expected: int, found: int) -> str:
    if found > expected:
        return f"entry {expected} is missing (the next entry is {found})"
    return f"entry {found} appears where entry {expected} should be (reordered or duplicated)"
