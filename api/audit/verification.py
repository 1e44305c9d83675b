"""Checking the register's chain: every link, every entry's own hash, and the anchors it must still hold."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sqlalchemy import Engine, Row, select

from api.storage.tables import register_entries


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


class Linked(Protocol):
    """An entry or a stored row: its place in the chain."""

    @property
    def sequence(self) -> int: ...
    @property
    def previous_hash(self) -> str: ...
    @property
    def entry_hash(self) -> str: ...


L = TypeVar("L", bound=Linked)


def walk(
    entries: Iterable[L],
    authentic: Callable[[L], bool],
    first: int,
    previous: str,
    anchors: dict[int, tuple[str, str]] | None = None,
) -> Verification:
    """Check the links of ``entries`` (from sequence ``first`` on, the first of which follows ``previous``); each
    anchor (sequence: its hash and what it is called) must be in the chain."""
    anchors = dict(anchors or {})
    expected, count = first, 0
    for entry in entries:
        count += 1
        if entry.sequence != expected:
            return _broken(count, expected - 1, previous, entry.sequence, _gap(expected, entry.sequence))
        if entry.previous_hash != previous:
            problem = f"entry {entry.sequence} does not follow entry {entry.sequence - 1} (removed or reordered)"
            return _broken(count, expected - 1, previous, entry.sequence, problem)
        if not authentic(entry):
            problem = f"entry {entry.sequence} was changed after it was written"
            return _broken(count, expected - 1, previous, entry.sequence, problem)
        if entry.sequence in anchors:
            anchored, name = anchors.pop(entry.sequence)
            if entry.entry_hash != anchored:
                problem = f"entry {entry.sequence} is not {name}: the register was forked or rewritten"
                return _broken(count, entry.sequence, entry.entry_hash, entry.sequence, problem)
        expected, previous = entry.sequence + 1, entry.entry_hash
    if anchors:
        at = min(anchors)
        problem = f"the register ends at entry {expected - 1}, before {anchors[at][1]} {at}: entries were removed"
        return Verification(count, expected - 1, previous, broken_at=expected, problem=problem)
    return Verification(count, expected - 1, previous)


def _broken(count: int, head: int, head_hash: str, at: int, problem: str) -> Verification:
    return Verification(count, head, head_hash, broken_at=at, problem=problem)


def _gap(expected: int, found: int) -> str:
    if found > expected:
        return f"entry {expected} is missing (the next entry is {found})"
    return f"entry {found} appears where entry {expected} should be (reordered or duplicated)"


def stored_rows(engine: Engine, after: int, batch: int = 10_000) -> Iterator[Row]:
    """The register's stored rows after sequence ``after``, in order, as they are: hashed as stored, without making
    entries of them (a walk at each start reads every one)."""
    while True:
        query = select(register_entries).where(register_entries.c.sequence > after)
        with engine.connect() as connection:
            rows = connection.execute(query.order_by(register_entries.c.sequence).limit(batch)).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].sequence
