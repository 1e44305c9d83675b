"""Organisations: whom clients act for, one identity however its name is spelt.

An organisation's id is its name normalised: lowercase, runs of spaces, underscores, dots and hyphens made one
hyphen, stripped of them at either end. "Home Office", "home office " and "HOME_OFFICE" are one organisation, and
adding it a second time is refused. Everything that compares organisations (a reviewer never decides a request of
their own organisation; enumeration is counted per organisation) compares ids. Every organisation added is a
register entry, written in the transaction that adds it; each row carries a keyed MAC (``api.access.rows``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from api.access.rows import RowMacs, rights_draft
from api.audit.outcomes import RegisterOutcome
from api.audit.register import AuditRegister
from api.storage.tables import organisations
from matcher.protection.keys import MasterKey

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")
_SEPARATORS = re.compile(r"[ ._-]+")


class ClientError(ValueError):
    """A client or organisation that cannot be added or changed as asked (the message says why)."""


def organisation_id(name: str) -> str:
    """The id of the organisation named ``name`` (a name or an id: an id is its own id)."""
    stripped = name.strip() if isinstance(name, str) else ""
    if not NAME.fullmatch(stripped):
        raise ClientError("an organisation is named with 1-100 letters, digits, spaces, dots, hyphens or underscores")
    return _SEPARATORS.sub("-", stripped.lower()).strip("-")


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str  # as first given, for people to read
    created_at: str
    intact: bool = True  # the row's MAC is the one the key makes of it


class OrganisationStore:
    def __init__(self, engine: Engine, key: MasterKey, register: AuditRegister | None = None) -> None:
        self.engine = engine
        self.macs = RowMacs(key)
        self.register = register or AuditRegister(engine, key)

    def add(self, name: str) -> Organisation:
        """A new organisation, recorded in the register; refused if its id exists (another spelling of it)."""
        org_id, now = organisation_id(name), dt.datetime.now(dt.UTC)
        row = {"id": org_id, "name": name.strip(), "created_at": _text(now)}
        try:
            with self.engine.begin() as connection:
                self.register.lock(connection)
                connection.execute(insert(organisations).values(**row, row_mac=self.macs.organisation(row)))
                state = {"organisation": org_id, "row_mac": self.macs.organisation(row)}
                entries = self.register.append_in(
                    connection, [rights_draft(RegisterOutcome.ORGANISATION_ADDED, 0, org_id, state)], now
                )
        except IntegrityError:
            raise ClientError(f"the organisation {org_id!r} exists already (names are compared as ids)") from None
        self.register.committed(entries)
        return Organisation(**row)

    def ensure(self, name: str) -> Organisation:
        """The organisation of this name, added if there is none (for scripted set-ups: the demo, simulations)."""
        org_id = organisation_id(name)
        for organisation in self.list():
            if organisation.id == org_id:
                return organisation
        try:
            return self.add(name)
        except ClientError:  # added meanwhile by another process
            return next(o for o in self.list() if o.id == org_id)

    def list(self) -> list[Organisation]:
        """Every organisation, by id; a row that fails its MAC is listed as not intact."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(organisations).order_by(organisations.c.id)).all()
        return [
            Organisation(r.id, r.name, r.created_at, self.macs.organisation_intact(r._mapping)) for r in rows
        ]

    def find(self, connection: Connection, name: str) -> str:
        """The id of an existing, intact organisation of this name or id, within the caller's transaction."""
        org_id = organisation_id(name)
        row = connection.execute(select(organisations).where(organisations.c.id == org_id)).first()
        if row is None:
            raise ClientError(f"no organisation {org_id!r}: add it first with `python -m api organisations add`")
        if not self.macs.organisation_intact(row._mapping):
            raise ClientError(f"the organisation {org_id!r} fails its MAC (edited outside the service)")
        return org_id


def _text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")
