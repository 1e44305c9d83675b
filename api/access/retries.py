"""Idempotent retries: a request sent again with the same X-Request-ID and body gets the answer the first one got.

A requester whose answer did not arrive (a timeout, a dropped connection) cannot tell whether the request was
traced. Sent again as a new request it would be a second register entry, a second review case if held, and, past
the enumeration limit, held as a probe when the first was answered. So a client may name each request with a UUID
(``X-Request-ID``, as NHS PDS asks); within ``window`` of the first attempt, the same client sending the same id
and the same body is answered again with what the first attempt was answered (the same trace id, register
sequence, status and disclosure), without tracing, counting or recording anything. The same id with another body
is a conflict. The scope is the client, not its organisation: the answer is given again only to the client the
register entry names as its recipient.

The row of an id is a reservation before it is an answer: the first attempt inserts it (the primary key lets only
one in), traces, and turns it into the answer in the transaction that writes the register entry, so that an answer
is kept exactly when its entry is. Another attempt meanwhile is told the request is in progress. An attempt that
fails before its entry is written releases the row, and a retry is traced as if new; a row whose release failed
too is taken over once it is older than ``stale_after`` (by then the first attempt's caller has had a 503), and the
first attempt, should it finish after all, finds the row no longer its own and writes nothing.

Nothing at rest is readable or linkable without the master key: the row's key is an HMAC of the client and the
request id, the body's hash an HMAC of the row's key and the body (the same request sent under two ids does not
show as such), and the answer, disclosure and all, is sealed (AES-256-GCM) under a key made from the row's key
and the body. That key is stored nowhere: an operator holding the master key and the database still cannot open an
answer without the request it answers, which only its requester has.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from api.storage.tables import request_ids
from matcher.protection.keys import MasterKey

_NONCE = 12
_INSERT_ATTEMPTS = 3  # a row released between an insert that met it and the read of it: insert again


class RetryState(StrEnum):
    RESERVED = "reserved"  # an attempt is being traced and answered
    ANSWERED = "answered"  # the answer is kept, sealed


class Retry(StrEnum):
    """What an attempt with a request id is, against the id's row."""

    FIRST = "first"  # no answer kept: this attempt is traced and answered (and its answer kept)
    REPLAY = "replay"  # answered before with the same body: that answer again
    CONFLICT = "conflict"  # the id was used with another body
    IN_PROGRESS = "in_progress"  # an attempt with the same id is being answered now


class RetryUnavailable(RuntimeError):
    """The database could not say what a request id was used for (or an answer kept did not authenticate)."""


class ReservationLost(RuntimeError):
    """An attempt's reservation was taken over (it was stale): its answer must not be written."""


@dataclass(frozen=True)
class Attempt:
    """One request with a request id, as the store keys it."""

    request_key: str  # HMAC of the client and the request id
    body_hash: str  # HMAC of the request key and the canonical body
    sealing_key: bytes = field(repr=False)  # opens the answer; made from the body, never stored
    holder: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass(frozen=True)
class Reservation:
    kind: Retry
    answer: dict | None = None  # for a replay: the answer kept, as JSON


class RetryKeys:
    """The keyed hashes and the sealing key of an attempt (subkeys of the master key)."""

    def __init__(self, key: MasterKey) -> None:
        self._request = key.derive("retries/request-key")
        self._body = key.derive("retries/body-hash")
        self._answer = key.derive("retries/answer-key")

    def attempt(self, client_id: int, request_id: str, body: bytes) -> Attempt:
        """``body``: the request in a canonical form (two sendings of one request give the same bytes)."""
        request_key = _mac(self._request, f"{client_id}\x1f{request_id}".encode())
        bound = request_key.encode() + b"\x1f" + body
        return Attempt(request_key, _mac(self._body, bound), hmac.digest(self._answer, bound, hashlib.sha256))


class RetryStore:
    def __init__(
        self,
        engine: Engine,
        window: dt.timedelta,
        stale_after: dt.timedelta,
        clock: Callable[[], dt.datetime],
    ) -> None:
        if window <= dt.timedelta(0) or stale_after <= dt.timedelta(0):
            raise ValueError("a retry window and a stale reservation's age must be positive")
        self.engine = engine
        self.window = window
        self.stale_after = stale_after
        self.clock = clock

    def reserve(self, attempts: list[Attempt]) -> list[Reservation]:
        """Each attempt against its id's row, in order, in one transaction: the first of an id reserves it (the
        later ones of the same id in ``attempts`` are in progress). Rows past the window are dropped first.
        Raises RetryUnavailable if the database cannot say."""
        if not attempts:
            return []
        now = self.clock()
        stamp, cutoff, stale = _stamp(now), _stamp(now - self.window), _stamp(now - self.stale_after)
        try:
            with self.engine.begin() as connection:
                connection.execute(delete(request_ids).where(request_ids.c.created_at < cutoff))
                return [self._reserve(connection, attempt, stamp, stale) for attempt in attempts]
        except (SQLAlchemyError, InvalidTag) as error:
            raise RetryUnavailable("the request ids could not be read") from error

    def _reserve(self, connection: Connection, attempt: Attempt, stamp: str, stale: str) -> Reservation:
        row = None
        for _ in range(_INSERT_ATTEMPTS):
            inserted = connection.execute(
                _insert(connection)
                .values(
                    request_key=attempt.request_key,
                    body_hash=attempt.body_hash,
                    state=RetryState.RESERVED.value,
                    holder=attempt.holder,
                    created_at=stamp,
                    reserved_at=stamp,
                )
                .on_conflict_do_nothing()
                .returning(request_ids.c.request_key)  # rowcount is not reliable here on every driver
            )
            if inserted.first() is not None:
                return Reservation(Retry.FIRST)
            row = connection.execute(
                select(request_ids).where(request_ids.c.request_key == attempt.request_key)
            ).first()
            if row is not None:
                break
        if row is None:
            raise RuntimeError("a request id's row could be neither inserted nor read")
        if not hmac.compare_digest(row.body_hash, attempt.body_hash):
            return Reservation(Retry.CONFLICT)
        if row.state == RetryState.ANSWERED:
            return Reservation(Retry.REPLAY, _open(attempt, row.sealed_answer))
        if row.reserved_at < stale and self._take_over(connection, attempt, row.holder, stamp):
            return Reservation(Retry.FIRST)
        return Reservation(Retry.IN_PROGRESS)

    @staticmethod
    def _take_over(connection: Connection, attempt: Attempt, holder: str, stamp: str) -> bool:
        """A stale reservation made this attempt's, unless another attempt took it first."""
        taken = connection.execute(
            update(request_ids)
            .where(request_ids.c.request_key == attempt.request_key, request_ids.c.holder == holder)
            .values(holder=attempt.holder, reserved_at=stamp)
        )
        return taken.rowcount == 1

    @staticmethod
    def keep(connection: Connection, answered: list[tuple[Attempt, dict]]) -> None:
        """The answers, sealed, in the caller's transaction (the one writing their register entries); raises
        ReservationLost, rolling it back, if a reservation is no longer the attempt's."""
        for attempt, answer in answered:
            kept = connection.execute(
                update(request_ids)
                .where(
                    request_ids.c.request_key == attempt.request_key,
                    request_ids.c.holder == attempt.holder,
                    request_ids.c.state == RetryState.RESERVED.value,
                )
                .values(state=RetryState.ANSWERED.value, sealed_answer=_seal(attempt, answer))
            )
            if kept.rowcount != 1:
                raise ReservationLost("a request id's reservation was taken over")

    def release(self, attempts: list[Attempt]) -> None:
        """The reservations of attempts that were not answered, so that a retry is traced as new. If the database
        cannot be reached, the rows stay until they are stale (a retry meanwhile is told: in progress)."""
        if not attempts:
            return
        try:
            with self.engine.begin() as connection:
                for attempt in attempts:
                    connection.execute(
                        delete(request_ids).where(
                            request_ids.c.request_key == attempt.request_key,
                            request_ids.c.holder == attempt.holder,
                            request_ids.c.state == RetryState.RESERVED.value,
                        )
                    )
        except SQLAlchemyError:
            pass


def _mac(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _seal(attempt: Attempt, answer: dict) -> bytes:
    nonce = os.urandom(_NONCE)
    plaintext = json.dumps(answer, separators=(",", ":")).encode()
    return nonce + AESGCM(attempt.sealing_key).encrypt(nonce, plaintext, attempt.request_key.encode())


def _open(attempt: Attempt, sealed: bytes) -> dict:
    """The answer kept; the body hash matched, so the body's key opens it (InvalidTag if the row was altered)."""
    nonce, ciphertext = sealed[:_NONCE], sealed[_NONCE:]
    return json.loads(AESGCM(attempt.sealing_key).decrypt(nonce, ciphertext, attempt.request_key.encode()))


def _insert(connection: Connection):
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(request_ids)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")
