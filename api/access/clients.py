"""Clients of the service: who may call it, in which role, for which organisation, and how they prove it (API keys,
stored as hashes).

A key is ``trc_<key id>_<secret>`` with a 256-bit secret. Only the SHA-256 of the whole key is stored: the
secret is random, so a fast hash is as strong as a slow one here, and checking it costs microseconds per request.

Every change (a client added, revoked, its role or rate changed) is a register entry written in the change's own
transaction, and every row carries a keyed MAC of what it grants (``api.access.rows``), checked whenever a row is
read: a row edited outside the service is refused as an unknown key is, and reported (``api.access.tampering``).

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
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.access.organisations import NAME, ClientError, OrganisationStore
from api.access.replay import newest_state
from api.access.rows import RowMacs, rights_draft
from api.access.tampering import UNVERIFIED, Finding, RowProblem, TamperReports
from api.audit.entry import RegisterEntry
from api.audit.outcomes import RegisterOutcome
from api.audit.register import AuditRegister
from api.storage.tables import clients
from matcher.protection.keys import MasterKey

_KEY = re.compile(r"trc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_NAME = NAME
MAX_RATE_PER_MINUTE = 1_000_000


class Role(StrEnum):
    REQUESTER = "requester"  # makes trace requests
    REVIEWER = "reviewer"  # decides requests held for review (reads welfare ones, which a guardian decides)
    # Decides welfare (category 2) requests held for review, as a Caldicott Guardian would, and all a reviewer may.
    GUARDIAN = "guardian"
    AUDITOR = "auditor"  # reads the register


@dataclass(frozen=True)
class Client:
    id: int
    name: str
    role: Role
    rate_per_minute: int | None  # None: the service's default
    # The id of the organisation the client acts for: a reviewer never decides its own organisation's requests.
    organisation: str = ""  # (empty only for the service's own entries: then its name)

    def __post_init__(self) -> None:
        if not self.organisation:
            object.__setattr__(self, "organisation", self.name)


@dataclass(frozen=True)
class ClientRecord:
    """A client as an operator lists it: never the key or its hash."""

    id: int
    name: str
    role: Role | str  # text only if the row was edited to a role that does not exist
    rate_per_minute: int | None
    organisation: str  # its id
    created_at: str
    revoked_at: str | None
    intact: bool = True  # False: the row fails its MAC (edited outside the service) and its key is refused


class ClientStore:
    def __init__(
        self,
        engine: Engine,
        key: MasterKey,
        register: AuditRegister | None = None,
        background_reports: bool = True,
    ) -> None:
        self.engine = engine
        self.register = register or AuditRegister(engine, key)
        self.macs = RowMacs(key)
        self.organisations = OrganisationStore(engine, key, self.register)
        self.tampering = TamperReports(self.register, background_reports)
        self._disabled: set[tuple[int, str]] = set()  # (id, row MAC) found at start to differ from the register

    def add(
        self, name: str, role: Role | str, rate_per_minute: int | None = None, *, organisation: str
    ) -> tuple[Client, str]:
        """A new client of an existing organisation (its name or id), and its API key, which is shown this once and
        never stored."""
        if not _NAME.fullmatch(name or ""):
            raise ClientError("a client name is 1-100 letters, digits, spaces, dots, hyphens or underscores")
        role = _role(role)
        _check_rate(rate_per_minute)
        key_id, key = _new_key()
        now = dt.datetime.now(dt.UTC)
        try:
            with self.engine.begin() as connection:
                self.register.lock(connection)
                org_id = self.organisations.find(connection, organisation)
                row = {
                    "name": name,
                    "role": role.value,
                    "key_id": key_id,
                    "key_hash": _hash(key),
                    "rate_per_minute": rate_per_minute,
                    "organisation": org_id,
                    "created_at": _text(now),
                    "revoked_at": None,
                }
                # The MAC covers the id, which the insert gives: the row is written, then sealed, in one transaction.
                row["id"] = int(connection.execute(insert(clients).values(**row, row_mac="")).inserted_primary_key[0])
                if newest_state(connection, row["id"]) is not None:
                    # The id was another client's, whose row was deleted outside the service: given again, the
                    # newcomer would own that client's held requests and hide the deletion from the replay.
                    raise ClientError(
                        f"the database gave client id {row['id']}, which the register records for another client "
                        "whose row is gone: nothing was added (see `python -m api register verify`)"
                    )
                entries = self._seal(connection, RegisterOutcome.CLIENT_ADDED, row, now)
        except IntegrityError:
            raise ClientError(f"a client named {name!r} already exists") from None
        self.register.committed(entries)
        return Client(row["id"], name, role, rate_per_minute, org_id), key

    def revoke(self, name: str) -> ClientRecord:
        """Revoke the client's key at once. Allowed on a row that differs from the register (restored from a
        backup): revoking only takes rights away."""
        return self._change(name, RegisterOutcome.CLIENT_REVOKED, {"revoked_at": _text(dt.datetime.now(dt.UTC))})

    def set_role(self, name: str, role: Role | str) -> ClientRecord:
        return self._change(name, RegisterOutcome.CLIENT_CHANGED, {"role": _role(role).value})

    def set_rate(self, name: str, rate_per_minute: int | None) -> ClientRecord:
        """The client's own rate limit (None: the service's default)."""
        _check_rate(rate_per_minute)
        return self._change(name, RegisterOutcome.CLIENT_CHANGED, {"rate_per_minute": rate_per_minute})

    def list(self) -> list[ClientRecord]:
        """Every client, never its key; a row that fails its MAC is listed as not intact, and reported."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(clients).order_by(clients.c.id)).all()
        records, tampered = [], []
        for r in rows:
            intact = self.macs.client_intact(r._mapping)
            if not intact:
                tampered.append(_finding(r, RowProblem.MAC_INVALID))
            role = Role(r.role) if r.role in Role._value2member_map_ else r.role  # an edited role, shown as is
            records.append(
                ClientRecord(r.id, r.name, role, r.rate_per_minute, r.organisation, r.created_at, r.revoked_at, intact)
            )
        self.tampering.report(tampered)
        return records

    def disable(self, findings: list[Finding]) -> None:
        """Refuse the keys of these rows (as they are now: a later change by the service makes a new row)."""
        self._disabled |= {(f.client_id, f.row_mac) for f in findings if f.table == "clients" and f.row_mac}

    def authenticate_many(self, presented: list[str | None]) -> list[Client | None]:
        """Per key presented, the active client holding it, or None (unknown, malformed, wrong or revoked key, or a
        row that fails its MAC, alike); one query for all."""
        key_ids = [match.group(1) if (match := _KEY.fullmatch(key or "")) else None for key in presented]
        wanted = sorted({k for k in key_ids if k})
        rows = {}
        if wanted:
            with self.engine.connect() as connection:
                rows = {r.key_id: r for r in connection.execute(select(clients).where(clients.c.key_id.in_(wanted)))}
        # Every row found is checked, whatever key was presented with it: an edited row costs what an intact one does.
        intact = {key_id: self._trusted(row) for key_id, row in rows.items()}
        self.tampering.report([_finding(rows[k], RowProblem.MAC_INVALID) for k, ok in intact.items() if ok is None])
        out: list[Client | None] = []
        for key, key_id in zip(presented, key_ids, strict=True):
            row = rows.get(key_id)
            # Hashed and compared even without a row: skipping both made an unknown key id's 401 the quicker.
            matches = hmac.compare_digest(row.key_hash if row is not None else _NO_CLIENTS_HASH, _hash(key or ""))
            usable = row is not None and intact[key_id] and row.revoked_at is None
            if not usable or not matches:
                out.append(None)
            else:
                out.append(Client(row.id, row.name, Role(row.role), row.rate_per_minute, row.organisation))
        return out

    def _trusted(self, row: Any) -> bool | None:
        """True if the row may be used; None if it fails its MAC; False if it was disabled at start."""
        if not self.macs.client_intact(row._mapping):
            return None
        return (row.id, row.row_mac) not in self._disabled

    def _change(self, name: str, outcome: RegisterOutcome, values: dict) -> ClientRecord:
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as connection:
            self.register.lock(connection)
            found = connection.execute(select(clients).where(clients.c.name == name)).first()
            if found is None or (found.revoked_at is not None):
                raise ClientError(f"no active client named {name!r}")
            if not self.macs.client_intact(found._mapping):
                raise ClientError(
                    f"the client {name!r} fails its MAC (edited outside the service): its key is refused already; "
                    "see SECURITY.md"
                )
            row = {**found._mapping, **values}
            if outcome is not RegisterOutcome.CLIENT_REVOKED and self._differs(connection, row["id"], found.row_mac):
                raise ClientError(
                    f"the client {name!r} is not as the register's changes left it (restored from an old copy?): "
                    "revoke it, or run `python -m api register verify`"
                )
            entries = self._seal(connection, outcome, row, now)
        self.register.committed(entries)
        return next(c for c in self.list() if c.name == name)

    def _differs(self, connection: Connection, client_id: int, row_mac: str) -> bool:
        """Whether the register's newest change of this client left it with another MAC."""
        state = newest_state(connection, client_id)
        return state is not None and state.get("row_mac") != row_mac

    def _seal(
        self, connection: Connection, outcome: RegisterOutcome, row: dict, now: dt.datetime
    ) -> list[RegisterEntry]:
        """Write the row's MAC and the register entry of the change, in the change's transaction; the entry, for
        the head file once the transaction has committed."""
        row_mac = self.macs.client(row)
        connection.execute(update(clients).where(clients.c.id == row["id"]).values(
            **{k: v for k, v in row.items() if k not in ("id", "row_mac")}, row_mac=row_mac
        ))
        state = {
            "role": row["role"],
            "rate_per_minute": row["rate_per_minute"],
            "organisation": row["organisation"],
            "revoked": row["revoked_at"] is not None,
            "row_mac": row_mac,
        }
        return self.register.append_in(connection, [rights_draft(outcome, row["id"], row["name"], state)], now)


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ClientError(f"role must be one of {', '.join(r.value for r in Role)}") from None


def _check_rate(rate_per_minute: int | None) -> None:
    if rate_per_minute is not None and not 1 <= rate_per_minute <= MAX_RATE_PER_MINUTE:
        raise ClientError(f"a client's rate limit is 1 to {MAX_RATE_PER_MINUTE:,} requests per minute")


def _finding(row: Any, problem: RowProblem) -> Finding:
    """An edited row's name is not the service's: anything may have been written there, so it is not recorded."""
    return Finding("clients", str(row.id), UNVERIFIED, problem, row.row_mac)


def _text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _new_key() -> tuple[str, str]:
    key_id = secrets.token_hex(6)
    return key_id, f"trc_{key_id}_{secrets.token_urlsafe(32)}"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# What a key is compared against when no client holds its key id: the hash of no key anyone holds (a key is never
# empty), of the stored hashes' length.
_NO_CLIENTS_HASH = _hash("")
