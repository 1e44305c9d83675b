"""Clients of the service: who may call it, in which role, and how they prove it (API keys, stored as hashes).

A key is ``trc_<key id>_<secret>`` with a 256-bit secret. Only the SHA-256 of the whole key is stored: the
secret is random, so a fast hash is as strong as a slow one here, and checking it costs microseconds per request.
A well-formed key is checked the same way whether a client holds its key id or not (one query, one hash, one
constant-time comparison, against a stand-in hash when no row is found), so that the time of a 401 does not tell
a guessed key id from a real one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.storage.tables import clients

_KEY = re.compile(r"trc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")
MAX_RATE_PER_MINUTE = 1_000_000


class Role(StrEnum):
    REQUESTER = "requester"  # makes trace requests
    REVIEWER = "reviewer"  # decides requests held for review
    AUDITOR = "auditor"  # reads the register


@dataclass(frozen=True)
class Client:
    id: int
    name: str
    role: Role
    rate_per_minute: int | None  # None: the service's default
    organisation: str = ""  # whom the client acts for; a reviewer never decides its own organisation's requests

    def __post_init__(self) -> None:
        if not self.organisation:
            object.__setattr__(self, "organisation", self.name)


@dataclass(frozen=True)
class ClientRecord:
    """A client as an operator lists it: never the key or its hash."""

    id: int
    name: str
    role: Role
    rate_per_minute: int | None
    organisation: str
    created_at: str
    revoked_at: str | None


class ClientError(ValueError):
    pass


class ClientStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, name: str, role: Role | str, rate_per_minute: int | None = None, organisation: str | None = None
    ) -> tuple[Client, str]:
        """A new client and its API key, which is shown this once and never stored. ``organisation``: whom it
        acts for (default: itself)."""
        for label, value in (("client name", name), ("organisation", organisation or name)):
            if not _NAME.fullmatch(value or ""):
                raise ClientError(f"a {label} is 1-100 letters, digits, spaces, dots, hyphens or underscores")
        try:
            role = Role(role)
        except ValueError:
            raise ClientError(f"role must be one of {', '.join(r.value for r in Role)}") from None
        if rate_per_minute is not None and not 1 <= rate_per_minute <= MAX_RATE_PER_MINUTE:
            raise ClientError(f"a client's rate limit is 1 to {MAX_RATE_PER_MINUTE:,} requests per minute")
        key_id, key = _new_key()
        try:
            with self.engine.begin() as connection:
                client_id = connection.execute(
                    insert(clients).values(
                        name=name,
                        role=role.value,
                        key_id=key_id,
                        key_hash=_hash(key),
                        rate_per_minute=rate_per_minute,
                        organisation=organisation,
                        created_at=_now(),
                    )
                ).inserted_primary_key[0]
        except IntegrityError:
            raise ClientError(f"a client named {name!r} already exists") from None
        return Client(int(client_id), name, role, rate_per_minute, organisation or name), key

    def revoke(self, name: str) -> ClientRecord:
        with self.engine.begin() as connection:
            done = connection.execute(
                update(clients).where(clients.c.name == name, clients.c.revoked_at.is_(None)).values(revoked_at=_now())
            )
        if done.rowcount != 1:
            raise ClientError(f"no active client named {name!r}")
        return next(c for c in self.list() if c.name == name)

    def list(self) -> list[ClientRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(clients).order_by(clients.c.id)).all()
        return [
            ClientRecord(
                r.id, r.name, Role(r.role), r.rate_per_minute, r.organisation or r.name, r.created_at, r.revoked_at
            )
            for r in rows
        ]

    def authenticate_many(self, presented: list[str | None]) -> list[Client | None]:
        """Per key presented, the active client holding it, or None (unknown, malformed, wrong or revoked key
        alike); one query for all."""
        key_ids = [match.group(1) if (match := _KEY.fullmatch(key or "")) else None for key in presented]
        wanted = sorted({k for k in key_ids if k})
        rows = {}
        if wanted:
            with self.engine.connect() as connection:
                rows = {r.key_id: r for r in connection.execute(select(clients).where(clients.c.key_id.in_(wanted)))}
        out: list[Client | None] = []
        for key, key_id in zip(presented, key_ids, strict=True):
            row = rows.get(key_id)
            # Hashed and compared even without a row: skipping both made an unknown key id's 401 the quicker.
            matches = hmac.compare_digest(row.key_hash if row is not None else _NO_CLIENTS_HASH, _hash(key or ""))
            if row is None or not matches or row.revoked_at is not None:
                out.append(None)
            else:
                out.append(Client(row.id, row.name, Role(row.role), row.rate_per_minute, row.organisation or row.name))
        return out


def _new_key() -> tuple[str, str]:
    key_id = secrets.token_hex(6)
    return key_id, f"trc_{key_id}_{secrets.token_urlsafe(32)}"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# What a key is compared against when no client holds its key id: the hash of no key anyone holds (a key is never
# empty), of the stored hashes' length.
_NO_CLIENTS_HASH = _hash("")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
