"""Keyed MACs on review rows: what the queue trusts of a row is what the service wrote.

The review case and its disclosure are sealed (AES-GCM, bound to the trace id), but the row's plain columns (the
state, who requested, who decided and when) were not: an operator with write access to the database could set a
refused case back to pending, hand it to another requester, or mark it approved. Each row now carries an
HMAC-SHA256, under a subkey of the master key of its own, over those columns and the SHA-256 of the sealed blobs
(so that an older sealed case or disclosure of the same row cannot be put back either). It is written with every
insert and update and checked on every read; a row that fails is refused with ``ReviewTampered`` and never sealed
again (a new MAC would launder the edit).

A MAC shows that the service wrote a row, not that it is the newest it wrote: a whole older row put back passes.
``api.review.replay`` compares the rows with the register's steps for that (``ReviewDisputed``).

The scheme is versioned ("v1"); migration 0006 computes the same for the rows that existed before it (a test
checks that the two agree).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from api.review.foureyes import ReviewError
from matcher.protection.keys import MasterKey

SCHEME = "v1"
TRUSTED_COLUMNS = (
    "trace_id",
    "client_id",
    "organisation",
    "reason",
    "policy_version",
    "created_at",
    "state",
    "decided_at",
    "decided_by",
    "first_approved_at",
    "first_approved_by",
    "first_approved_organisation",
    "collected_at",
    "expired_at",
)
SEALED_COLUMNS = ("sealed_case", "sealed_disclosure")
SUBKEY = "review-rows"


def row_mac(key: bytes, row: Mapping) -> str:
    """The MAC of a row (a mapping of column to value), hex."""
    digests = [None if row[c] is None else hashlib.sha256(bytes(row[c])).hexdigest() for c in SEALED_COLUMNS]
    message = json.dumps([SCHEME, [row[c] for c in TRUSTED_COLUMNS], digests], separators=(",", ":"))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


class RowSeal:
    def __init__(self, key: MasterKey) -> None:
        self._key = key.derive(SUBKEY)

    def mac(self, row: Mapping) -> str:
        return row_mac(self._key, row)

    def intact(self, row: Mapping) -> bool:
        """Whether the row is as the service wrote it. A missing MAC is never accepted."""
        stored = row.get("row_mac")
        return isinstance(stored, str) and hmac.compare_digest(stored, self.mac(row))


class ReviewTampered(ReviewError):
    """A row that fails its keyed MAC: refused wherever it is read."""

    why = "fails its integrity check"  # for the log line
    code: str | None = None  # the refusal code of its ``tampering_detected`` entry

    def __init__(self, trace_id: str, detail: str | None = None) -> None:
        super().__init__(409, detail or TAMPERED)
        self.trace_id = trace_id


class ReviewDisputed(ReviewTampered):
    """A row that passes its MAC but is not what the register's steps made it (``api.review.replay``): an older
    row put back, or a change the database did not keep. The case is closed: neither read, decided nor collected
    by this process, and found again at every start while the row stays as it is."""

    why = "differs from what the register records of it"
    code = "differs_from_register"

    def __init__(self, trace_id: str) -> None:
        super().__init__(trace_id, DISPUTED)


TAMPERED = (
    "this held request's stored record fails its integrity check (it was changed outside the service): it cannot "
    "be read or decided until an operator restores it; this is recorded"
)
DISPUTED = (
    "this held request's stored record is not what the register records of it (an older record put back, or a "
    "change not kept): it is closed, and can be neither decided nor collected; this is recorded"
)
