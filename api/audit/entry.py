"""A register entry, defined once: what the service records of a request, and how each field is kept.

``EntryDraft`` is what the service knows about a request when it records it; ``RegisterEntry`` adds the entry's
place in the chain. Each field's metadata gives its column type, its description for the register's readers (if
it has one) and whether it was added after the first entries were written. ``RECORD_FIELDS`` lists them in the
register's order (sequence, time, the draft's fields, the two hashes), and the table (``api.storage.tables``), the
entries endpoint's model (``api.http.models``) and the CSV export (``api.audit.transparency``) are all made from
it: a field added here is added to each of them.

A field added later is hashed only when it is set (see ``api.audit.register``), so that entries written before it
existed still verify; and the readers' model lets it be absent. The Alembic migrations are history, not made from
this: a new field also needs a migration (a test checks that the migrations build exactly these tables).
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, get_args, get_type_hints

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.types import TypeEngine


def _column(
    sql: TypeEngine | type[TypeEngine],
    default: Any = MISSING,
    *,
    description: str | None = None,
    later: bool = False,
    primary: bool = False,
    unique: bool = False,
) -> Any:
    """A field kept in a column of type ``sql``. One with a default is keyword-only: the required fields keep their
    positional order (trace id, client id and name, outcome, HTTP status) wherever they stand in the record."""
    metadata = {"sql": sql, "description": description, "later": later, "primary": primary, "unique": unique}
    return field(default=default, kw_only=default is not MISSING, metadata=metadata)


@dataclass(frozen=True)
class EntryDraft:
    """What the service knows about a request when it records it."""

    trace_id: str = _column(String(36), unique=True)
    client_id: int = _column(Integer)
    client_name: str = _column(String(100))
    requesting_officer: str | None = _column(String(64), None)
    requesting_grade: str | None = _column(String(8), None)
    authorising_officer: str | None = _column(String(64), None)
    authorising_grade: str | None = _column(String(8), None)
    policy_version: str | None = _column(String(32), None)
    category: int | None = _column(Integer, None)
    offence: str | None = _column(String(32), None)
    # A keyed token (api.audit.subjects), never the subject's details.
    subject_token: str | None = _column(
        String(64), None, description="keyed token of the subject: equal for one person, not reversible"
    )
    # A RegisterOutcome as the service writes it; read back as the text stored, so that ``verify`` can report an
    # entry altered to any text at all.
    outcome: str = _column(String(20))
    refusal_codes: tuple[str, ...] = _column(Text, ())  # a JSON list in its column
    fields_disclosed: tuple[str, ...] = _column(Text, ())  # a JSON list of field names, never their values
    http_status: int = _column(Integer)
    # A review step's, a collection's, or a suspected probe's: the trace id of the request it is about (for a
    # probe, the oldest request in the window about the same record or name).
    concerns: str | None = _column(
        String(36), None, later=True, description="for a review step or a collection: the trace it is about"
    )
    # A change of who may do what (an organisation or client added, revoked, changed) or a tampered row found: the
    # row's state after it as JSON (role, rate, organisation id, revoked, and the row's keyed MAC), never a key.
    rights: str | None = _column(
        Text, None, later=True, description="for a change of rights or a tampered row: the row's state, as JSON"
    )


@dataclass(frozen=True)
class RegisterEntry:
    sequence: int = _column(BigInteger, primary=True)
    # ISO 8601 UTC text, so that the chained hash reads back byte for byte on every database.
    recorded_at: str = _column(String(32))
    draft: EntryDraft = field()  # its fields stand here in the record
    previous_hash: str = _column(String(64))
    entry_hash: str = _column(String(64))

    @property
    def trace_id(self) -> str:
        return self.draft.trace_id


@dataclass(frozen=True)
class RecordField:
    """One field of an entry's record, as the table, the readers' model and the export need it."""

    name: str
    annotation: Any  # as readers get it: a tuple of text is a list, an outcome is text
    sql: TypeEngine | type[TypeEngine]
    nullable: bool
    primary: bool
    unique: bool
    description: str | None
    later: bool
    listed: bool  # a tuple of text, kept as a JSON list


def _record_fields(cls: type) -> list[RecordField]:
    hints = get_type_hints(cls)
    out = []
    for f in fields(cls):
        hint = hints[f.name]
        if hint is EntryDraft:
            out += _record_fields(EntryDraft)
            continue
        listed = getattr(hint, "__origin__", None) is tuple
        annotation = list[get_args(hint)[0]] if listed else hint
        meta = f.metadata
        out.append(
            RecordField(
                f.name,
                annotation,
                meta["sql"],
                type(None) in get_args(hint),
                meta["primary"],
                meta["unique"],
                meta["description"],
                meta["later"],
                listed,
            )
        )
    return out


RECORD_FIELDS: tuple[RecordField, ...] = tuple(_record_fields(RegisterEntry))
DRAFT_FIELDS = tuple(f.name for f in fields(EntryDraft))
LATER_FIELDS = frozenset(f.name for f in RECORD_FIELDS if f.later)
"""Fields added after the first entries were written: hashed only when set, so that older entries still verify."""
LISTED_FIELDS = tuple(f.name for f in RECORD_FIELDS if f.listed)


def draft_values(draft: EntryDraft) -> dict[str, Any]:
    """The draft's fields by name, as they are: every value is immutable, so nothing is copied (``asdict`` would
    copy each one, on the path of every trace answer)."""
    return {name: getattr(draft, name) for name in DRAFT_FIELDS}


def entry_row(sequence: int, recorded_at: str, draft: EntryDraft, previous_hash: str) -> dict:
    """The entry as stored and hashed (the hash is of JSON with sorted keys: the order here does not count)."""
    values = draft_values(draft)
    values["outcome"] = str(draft.outcome)  # the text of a RegisterOutcome, as every database stores it
    for name in LISTED_FIELDS:
        values[name] = json.dumps(list(values[name]))
    return {"sequence": sequence, "recorded_at": recorded_at, **values, "previous_hash": previous_hash}


def entry_from_row(row: dict) -> RegisterEntry:
    """The entry a stored row holds."""
    values = {name: row.get(name) for name in DRAFT_FIELDS}
    for name in LISTED_FIELDS:
        values[name] = tuple(json.loads(row[name]))
    return RegisterEntry(
        int(row["sequence"]), row["recorded_at"], EntryDraft(**values), row["previous_hash"], row["entry_hash"]
    )
