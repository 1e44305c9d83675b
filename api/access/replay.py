"""Replaying the register's changes of rights against the clients and organisations tables.

Every change of who may do what is a register entry holding the row's state after it, MAC included
(``api.access.rows``). The newest entry for each client and organisation therefore says what its row must be now. A
row with a valid MAC that is not the newest the register holds was restored from an old copy (a key revoked since,
put back); a row no entry made was inserted by hand; an entry whose row is gone was deleted. ``register verify``
and the service's start both replay; the entries used must carry the hash the key makes of them (their place in
the chain is what ``verify`` checks besides).
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, Engine, select

from api.access.organisations import NAME
from api.access.rows import RowMacs
from api.access.tampering import UNVERIFIED, Finding, RowProblem
from api.audit.outcomes import RIGHTS, RegisterOutcome
from api.audit.register import AuditRegister
from api.storage.tables import clients, organisations, register_entries


def replay(engine: Engine, register: AuditRegister, macs: RowMacs) -> list[Finding]:
    """Every row that is not what the register's changes made it, and every change whose row is gone."""
    findings: list[Finding] = []
    expected: dict[tuple[str, str], tuple[str, str]] = {}  # (table, id) -> (name, row MAC)
    for entry in register.entries_of(RIGHTS):
        draft = entry.draft
        try:
            state = json.loads(draft.rights or "")
            mac = state["row_mac"]
        except (ValueError, KeyError, TypeError):
            state, mac = None, None
        if state is None or not register.authentic(entry):
            findings.append(Finding("register", str(entry.sequence), "(entry)", RowProblem.ENTRY_FORGED))
            continue
        if draft.outcome == RegisterOutcome.ORGANISATION_ADDED:
            expected[("organisations", str(state.get("organisation")))] = (draft.client_name, mac)
        else:
            key = ("clients", str(draft.client_id))
            if draft.outcome == RegisterOutcome.CLIENT_ADDED and key in expected:  # an id given twice
                findings.append(Finding("clients", key[1], expected[key][0], RowProblem.MISSING))
            expected[key] = (draft.client_name, mac)
    with engine.connect() as connection:
        rows = [("clients", r) for r in connection.execute(select(clients))] + [
            ("organisations", r) for r in connection.execute(select(organisations))
        ]
    seen = set()
    for table, row in rows:
        key = (table, str(row.id))
        seen.add(key)
        intact = (macs.client_intact if table == "clients" else macs.organisation_intact)(row._mapping)
        name = row.name if intact and isinstance(row.name, str) and NAME.fullmatch(row.name) else UNVERIFIED
        if not intact:
            problem = RowProblem.MAC_INVALID
        elif key not in expected:
            problem = RowProblem.NOT_IN_REGISTER
        elif expected[key][1] != row.row_mac:
            problem = RowProblem.DIFFERS
        else:
            continue
        findings.append(Finding(table, key[1], name, problem, row.row_mac))
    for key, (name, _) in expected.items():
        if key not in seen:
            findings.append(Finding(key[0], key[1], name, RowProblem.MISSING))
    return findings


def newest_state(connection: Connection, client_id: int) -> dict | None:
    """The state the register's newest change of this client left it in (None if there is none)."""
    outcomes = sorted(o.value for o in RIGHTS - {RegisterOutcome.ORGANISATION_ADDED})
    rights = connection.execute(
        select(register_entries.c.rights)
        .where(register_entries.c.client_id == client_id, register_entries.c.outcome.in_(outcomes))
        .order_by(register_entries.c.sequence.desc())
        .limit(1)
    ).scalar()
    try:
        return json.loads(rights) if rights else None
    except ValueError:
        return None
