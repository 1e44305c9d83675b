"""Keyed MACs on the rows that grant rights: a clients or organisations row edited outside the service fails its MAC.

Each row's ``row_mac`` is an HMAC-SHA256, under a subkey of the master key (``client-rows``), of the table's name
and every column that grants anything, as JSON with sorted keys. The row's id is in it, so a MAC copied from another
row fails; ``revoked_at`` is in it, so clearing a revocation fails; the organisation id is in it, so moving a
reviewer to another organisation fails. Someone who can write to the database but does not hold the master key
cannot make a row that passes. A MAC shows that the service wrote the row, not that it is the newest row it wrote:
a row restored from a backup passes, and is found by replaying the register's changes (``api.access.replay``).

What a change to rights records in the register (``rights_draft``) is the row's state after it, MAC included: the
MAC of a row is a keyed digest, it tells no one the key or its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Any

from api.audit.entry import EntryDraft
from api.audit.outcomes import RegisterOutcome
from matcher.protection.keys import MasterKey

CLIENT_COLUMNS = (
    "id",
    "name",
    "role",
    "key_id",
    "key_hash",
    "rate_per_minute",
    "organisation",
    "created_at",
    "revoked_at",
)
ORGANISATION_COLUMNS = ("id", "name", "created_at")
NO_HTTP = 0
"""The ``http_status`` of an entry that records no HTTP request (an operator's command, a check at start)."""


class RowMacs:
    """The MACs of clients and organisations rows under the deployment's key."""

    def __init__(self, key: MasterKey) -> None:
        self._key = key.derive("client-rows")

    def client(self, row: Mapping[str, Any]) -> str:
        return self._mac("clients", row, CLIENT_COLUMNS)

    def organisation(self, row: Mapping[str, Any]) -> str:
        return self._mac("organisations", row, ORGANISATION_COLUMNS)

    def client_intact(self, row: Mapping[str, Any]) -> bool:
        """Whether the row's MAC is the one the key makes of its columns (a NULL or empty MAC never is)."""
        return _same(row.get("row_mac"), self.client(row))

    def organisation_intact(self, row: Mapping[str, Any]) -> bool:
        return _same(row.get("row_mac"), self.organisation(row))

    def _mac(self, table: str, row: Mapping[str, Any], columns: tuple[str, ...]) -> str:
        content = {"table": table, **{name: row[name] for name in columns}}
        message = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def _same(stored: object, expected: str) -> bool:
    if not isinstance(stored, str) or not stored:
        return False
    return hmac.compare_digest(stored.encode(), expected.encode())


def rights_draft(
    outcome: RegisterOutcome, client_id: int, name: str, state: Mapping[str, Any], refusal_codes: tuple[str, ...] = ()
) -> EntryDraft:
    """The register entry of a change of rights (or of a tampered row found): ``client_id`` 0 for an organisation,
    ``name`` the client's or the organisation's id, ``state`` the row's state after the change."""
    return EntryDraft(
        str(uuid.uuid4()),
        client_id,
        name[:100],
        outcome=outcome.value,
        http_status=NO_HTTP,
        refusal_codes=refusal_codes,
        rights=json.dumps(dict(state), sort_keys=True, separators=(",", ":")),
    )
