"""The audit register: one hash-chained entry per authenticated request, written before the response is sent.

Each entry's hash is an HMAC (a subkey of the deployment's master key) over the previous entry's hash and the
entry's own fields, sequence number included. Changing an entry breaks its hash; removing or reordering entries
breaks the sequence or the link; rewriting the whole chain needs the key. Truncating the newest entries leaves a
valid shorter chain: the head file (``api.audit.head``) remembers the newest entry outside the database, ``open``
compares the two at start, and ``verify`` checks the chain against the file and against an anchor when given one.
A running register refuses to write (RegisterUnavailable: no answer leaves) once the database's newest entry is
older than one it knows was committed, so that a sequence number is never given out twice.

What an entry holds is defined in ``api.audit.entry``; the subject of a request only as a keyed token
(``api.audit.subjects``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import NoReturn

from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.audit.entry import EntryDraft, RegisterEntry, entry_from_row, entry_row
from api.audit.hashing import EntryHasher
from api.audit.head import GENESIS_HASH, Checkpoint, HeadFile, HeadFileError
from api.audit.outcomes import RegisterOutcome
from api.audit.verification import Verification, stored_rows, walk
from api.storage.tables import register_entries
from matcher.protection.keys import MasterKey

# SQLite reads the head before it takes the write lock, so processes appending at once can collide: each retry
# re-reads the head after a short, growing pause (a fresh-clone CI run saw five attempts used up by four processes).
_APPEND_ATTEMPTS = 20
_POSTGRES_LOCK = 0x7265676973746572  # "register": one writer at a time across processes


Also = Callable[[Connection, str], object]
"""What is written in the entries' transaction: ``also(connection, recorded_at)`` (a held request's case)."""
Numbered = Callable[[Connection, list["RegisterEntry"]], object]
"""What is written in the entries' transaction and needs their sequence numbers (an answer kept for a retry)."""


class RegisterUnavailable(RuntimeError):
    """The entry could not be written: the request must not be answered with a disclosure."""


class RegisterHeadError(RuntimeError):
    """At start: the database and the register's head file disagree (entries removed, a fork, a rewrite), or the
    file is missing or fails its check. The message names the problem and what an operator can do."""


class AuditRegister:
    def __init__(self, engine: Engine, key: MasterKey, head: HeadFile | None = None) -> None:
        """``head``: the register's head file (None: none is kept, as for a reader or an in-memory database)."""
        self.engine = engine
        self.head = head
        self._hasher = EntryHasher(key.derive("audit-register"))
        self._lock = threading.Lock()  # one writer at a time in this process; the database orders processes
        # The newest entry this process knows was committed (its own, or one the head file names): the database's
        # newest must be it or follow it. Once it is not, every append is refused (``_refusal``) until a restart.
        self._known: tuple[int, str] | None = None
        self._seen: Checkpoint | None = None  # the head file's checkpoint as this process last read or wrote it
        self._refusal: str | None = None

    def open(self) -> Checkpoint | None:
        """Compare the database with the head file before the first append; a brand-new register (no entry) starts
        one. RegisterHeadError if the file is missing for a register with entries, fails its check, or the
        register is shorter than it, forked or rewritten since. The head file's checkpoint."""
        if self.head is None:
            return None
        where = f" (head file {self.head.path})"
        try:
            checkpoint = self.head.read()
            if checkpoint is None and self.newest() is None:
                checkpoint = self.head.start()
        except (HeadFileError, OSError) as error:
            raise RegisterHeadError(f"{error}{_ADOPT}") from None
        if checkpoint is None:
            raise RegisterHeadError(
                f"the register has entries but no head file at {self.head.path}: its newest entries cannot be "
                f"checked{_ADOPT}"
            )
        problem = self.against(checkpoint)
        if problem is not None:
            raise RegisterHeadError(f"{problem}{where}{_ADOPT}")
        # Every entry, at every start: an entry removed from the middle, or one whose fields were changed (a
        # revocation made into something else, a review step hidden), is refused here rather than obeyed.
        whole = self.verify(checkpoint=checkpoint)
        if not whole.ok:
            raise RegisterHeadError(
                f"the register fails its check: {whole.problem}{where}. The service does not start on an altered "
                "register: `python -m api register verify` says where"
            )
        newest = self.newest()
        self._seen = checkpoint
        self._known = (newest.sequence, newest.entry_hash) if newest else (0, GENESIS_HASH)
        # Entries committed after the last checkpoint (a crash in between) follow it, so it covers them now; and a
        # file of another schema revision is brought to this one's at once, not at the first append.
        behind = newest is not None and newest.sequence > checkpoint.sequence
        if behind or (self.head.schema is not None and checkpoint.schema != self.head.schema):
            try:
                if newest is None:
                    self._seen = self.head.advance(0, GENESIS_HASH, self._confirm)
                else:
                    self._checkpoint(newest)
            except (RegisterUnavailable, HeadFileError) as error:
                raise RegisterHeadError(str(error)) from None
        return self._seen

    def close(self) -> None:
        """At shutdown: the head file is to name the newest entry this process committed. Each batch is
        checkpointed before its answers leave, so there is nothing left to write unless that changes."""
        if self.head is None or self._known is None or self._refusal is not None:
            return
        if self._seen is None or self._seen.sequence < self._known[0]:
            entry = self.page(self._known[0] - 1, 1)
            if entry and entry[0].entry_hash == self._known[1]:
                with self._lock, contextlib.suppress(RegisterUnavailable):  # logged by _refuse
                    self._checkpoint(entry[0])

    def against(self, checkpoint: Checkpoint) -> str | None:
        """What is wrong with the database's chain from the checkpoint on, or None: the entry the checkpoint names
        is there, written with the key, every entry after it follows it, and no entry before it is missing. (That
        no earlier entry was changed is ``verify``'s to say: it reads them all.)"""
        newest = self.newest()
        if newest is None or newest.sequence < checkpoint.sequence:
            if checkpoint.sequence == 0:
                return None
            ends = f"ends at entry {newest.sequence}" if newest else "is empty"
            return f"the register {ends}, but its head file names entry {checkpoint.sequence}: entries were removed"
        if checkpoint.sequence > 0:
            entry = self.page(checkpoint.sequence - 1, 1)
            if not entry or entry[0].sequence != checkpoint.sequence:
                return f"entry {checkpoint.sequence}, which the head file names, is missing"
            if entry[0].entry_hash != checkpoint.entry_hash or not self.authentic(entry[0]):
                return (
                    f"entry {checkpoint.sequence} is not the one the head file names: the register was forked or "
                    "rewritten"
                )
        tail = self._walk(checkpoint.sequence + 1, checkpoint.entry_hash)
        if not tail.ok:
            return f"after the head file's entry {checkpoint.sequence}: {tail.problem}"
        # One count: an entry removed from within shows at every start. (Up to the newest read: others may be
        # appending meanwhile.)
        query = select(func.count()).where(register_entries.c.sequence <= newest.sequence)
        with self.engine.connect() as connection:
            count = connection.execute(query).scalar()
        if count != newest.sequence:
            return f"the register holds {count} entries but its newest is entry {newest.sequence}: entries were removed"
        return None

    def newest(self) -> RegisterEntry | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(register_entries).order_by(register_entries.c.sequence.desc()).limit(1)
            ).first()
        return entry_from_row(row._asdict()) if row else None

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
                time.sleep(0.001 * attempt)
                if attempt == _APPEND_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _append_batch(
        self, batch: list[tuple[EntryDraft, str]], also: Also | None, numbered: Numbered | None
    ) -> list[RegisterEntry]:
        if self._refusal is not None:
            raise RegisterUnavailable(self._refusal)
        with self.engine.begin() as connection:
            entries = self._chain(connection, batch)
            if also is not None:
                also(connection, batch[0][1])
            if numbered is not None:
                numbered(connection, entries)
        self._known = (entries[-1].sequence, entries[-1].entry_hash)
        self._checkpoint(entries[-1])
        return entries

    def append_in(self, connection: Connection, drafts: list[EntryDraft], now: dt.datetime) -> list[RegisterEntry]:
        """Write the entries as the chain's next within the caller's transaction, which commits them with its own
        change (a client's row and the entry that records it stand or fall together). The caller's transaction
        should take ``lock`` before it writes anything else, so that on SQLite the head is read under the write
        lock it already holds; once it has committed, it calls ``committed`` so the head file covers them."""
        if self._refusal is not None:
            raise RegisterUnavailable(self._refusal)
        recorded_at = now.astimezone(dt.UTC).isoformat(timespec="microseconds")
        with self._lock:
            return self._chain(connection, [(draft, recorded_at) for draft in drafts])

    def committed(self, entries: list[RegisterEntry]) -> None:
        """Entries written by ``append_in`` whose transaction has committed: the head file is raised to them."""
        if entries:
            with self._lock:
                self._known = (entries[-1].sequence, entries[-1].entry_hash)
                self._checkpoint(entries[-1])

    @staticmethod
    def lock(connection: Connection) -> None:
        """Take the register's cross-process write lock for the rest of ``connection``'s transaction (PostgreSQL;
        SQLite has one writer at a time anyway)."""
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _POSTGRES_LOCK})

    def _chain(self, connection: Connection, batch: list[tuple[EntryDraft, str]]) -> list[RegisterEntry]:
        self.lock(connection)
        head = connection.execute(
            select(register_entries.c.sequence, register_entries.c.entry_hash)
            .order_by(register_entries.c.sequence.desc())
            .limit(1)
        ).first()
        sequence, previous = (head.sequence, head.entry_hash) if head else (0, GENESIS_HASH)
        self._follows_known(connection, sequence, previous)
        rows, entries = [], []
        for draft, recorded_at in batch:
            sequence += 1
            row = entry_row(sequence, recorded_at, draft, previous)
            row["entry_hash"] = self._hash(row)
            rows.append(row)
            entries.append(RegisterEntry(sequence, recorded_at, draft, previous, row["entry_hash"]))
            previous = row["entry_hash"]
        connection.execute(insert(register_entries), rows)
        # What the database kept, in the same transaction: a trigger that drops chosen entries (a disclosure's, a
        # tampering report) would otherwise let the answer leave without its record.
        kept = connection.execute(
            select(func.count()).where(register_entries.c.sequence.between(entries[0].sequence, sequence))
        ).scalar()
        if kept != len(rows):
            self._refuse(f"the database kept {kept} of {len(rows)} entries written: something in it drops entries")
        return entries

    def _follows_known(self, connection: Connection, sequence: int, entry_hash: str) -> None:
        """The database's newest entry (``sequence``, ``entry_hash``) is the newest this process knows of, or
        follows it in the chain; else every append from now on is refused."""
        if self._known is None:
            return
        known, known_hash = self._known
        if sequence < known:
            self._refuse(f"the register ends at entry {sequence}, but entry {known} was written: entries were removed")
        if sequence == known:
            found = entry_hash
        else:  # another process has written since: one look-up by primary key
            query = select(register_entries.c.entry_hash).where(register_entries.c.sequence == known)
            found = connection.execute(query).scalar() if known > 0 else GENESIS_HASH
        if found != known_hash:
            self._refuse(f"entry {known} is not the one committed: the register was forked or rewritten")

    def _checkpoint(self, newest: RegisterEntry) -> None:
        """Raise the head file to the entries just committed, before their answers leave. If it cannot be (gone,
        altered, unwritable), they are not answered, nor is anything after them."""
        if self.head is None:
            return
        try:
            checkpoint = self.head.advance(newest.sequence, newest.entry_hash, self._confirm)
        except (HeadFileError, OSError) as error:
            self._refuse(f"the register's head could not be checkpointed: {error}")
        self._seen = checkpoint
        if checkpoint.sequence > newest.sequence:  # another process is ahead: the next append checks it is there
            self._known = (checkpoint.sequence, checkpoint.entry_hash)

    def _confirm(self, found: Checkpoint) -> str | None:
        """What is wrong with the head file's checkpoint as found before it is raised, if anything: it went back,
        or it names an entry that is not in the database's chain (written by another process on a fork)."""
        seen = self._seen
        if seen is not None and (found.sequence, found.entry_hash) == (seen.sequence, seen.entry_hash):
            return None  # as this process left it: the usual case, with one process
        if seen is not None and found.sequence < seen.sequence:
            return f"went back from entry {seen.sequence} to entry {found.sequence}"
        if found.sequence == 0:
            return None
        query = select(register_entries.c.entry_hash).where(register_entries.c.sequence == found.sequence)
        with self.engine.connect() as connection:
            stored = connection.execute(query).scalar()
        if stored is None:
            return f"names entry {found.sequence}, which the register lacks: entries were removed"
        if stored != found.entry_hash:
            return f"names another entry {found.sequence} than the register's: the register was forked"
        return None

    def _refuse(self, problem: str) -> NoReturn:
        if self._refusal is None:
            _log.error("the audit register refuses to write until the service is restarted: %s", problem)
            self._refusal = problem
        raise RegisterUnavailable(problem)

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
        return [entry_from_row(row._asdict()) for row in rows]

    def verify(self, anchor: tuple[int, str] | None = None, checkpoint: Checkpoint | None = None) -> Verification:
        """Check every link; with ``anchor`` (sequence, hash) recorded earlier, also that it is still in the chain,
        and with ``checkpoint`` (the head file's) that the entry it names is."""
        anchors = {} if anchor is None else {anchor[0]: (anchor[1], "the anchor")}
        if checkpoint is not None and checkpoint.sequence > 0:
            anchors.setdefault(checkpoint.sequence, (checkpoint.entry_hash, "the head file's entry"))
        return self._walk(1, GENESIS_HASH, anchors)

    def _walk(self, first: int, previous: str, anchors: dict[int, tuple[str, str]] | None = None) -> Verification:
        return walk(stored_rows(self.engine, first - 1), self._hasher.authentic_row, first, previous, anchors)

    def entries_of(self, outcomes: frozenset[RegisterOutcome], batch: int = 1_000) -> Iterator[RegisterEntry]:
        """Every entry with one of these outcomes, in sequence order."""
        after, wanted = 0, sorted(o.value for o in outcomes)
        while True:
            query = select(register_entries).where(
                register_entries.c.sequence > after, register_entries.c.outcome.in_(wanted)
            )
            with self.engine.connect() as connection:
                rows = connection.execute(query.order_by(register_entries.c.sequence).limit(batch)).all()
            if not rows:
                return
            yield from (entry_from_row(row._asdict()) for row in rows)
            after = rows[-1].sequence

    def _entries_after(self, after: int, batch: int = 1_000) -> Iterator[RegisterEntry]:
        while page := self.page(after, batch):
            yield from page
            after = page[-1].sequence

    def authentic(self, entry: RegisterEntry) -> bool:
        """Whether the entry's hash is the one the key gives its fields and its link: an entry written without the
        key is not (its place in the chain is what ``verify`` checks)."""
        row = entry_row(entry.sequence, entry.recorded_at, entry.draft, entry.previous_hash)
        return hmac.compare_digest(self._hash(row), entry.entry_hash)

    def _hash(self, row: dict) -> str:
        return self._hasher.hash(row)


_log = logging.getLogger(__name__)
_ADOPT = (
    ". If the register is whole (`python -m api register verify`), an operator holding the key can adopt its head "
    "with `python -m api register adopt-head`, which is recorded in the register"
)
