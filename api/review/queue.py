"""The review queue: requests held for a person to decide, sealed at rest.

A held request's case (the request as sent, the policy it was judged under, and per candidate the comparison
levels that made its score, never the record) and what each candidate's disclosure would be are sealed with
AES-GCM under a subkey of the master key, bound to the trace id. A reviewer reads the case and approves (naming
the candidate) or refuses with a written reason; the requester then collects the outcome once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from enum import StrEnum

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, insert, select, update

from api.access.clients import Client
from api.storage.tables import reviews
from matcher.protection.keys import MasterKey

_NONCE = 12


class ReviewReason(StrEnum):
    WELFARE = "welfare"  # a welfare concern goes to a clinician (the Caldicott Guardian)
    RESTRICTED = "restricted"  # held before restricted records were answered not_found (older cases only)
    AMBIGUOUS = "ambiguous"  # more than one candidate could be the person
    NEAR_THRESHOLD = "near_threshold"  # the best candidate scored just under the threshold
    ENUMERATION = "enumeration"  # one variant too many about one record from one organisation (a probe)


class ReviewState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


ALREADY_DECIDED = "this request has already been decided"


class ReviewError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class Hold:
    """A request to hold: what the reviewer will see, and what approval could disclose."""

    trace_id: str
    client: Client
    reason: ReviewReason
    policy_version: str
    request: dict  # the request as received (subject, basis, investigation, officers)
    candidates: list[dict]  # per candidate: match weight, whether it met the requirements, comparison levels
    disclosures: list[dict | None]  # per candidate: the disclosure approval would release; never shown


@dataclass(frozen=True)
class Pending:
    """A held request in the queue, as the queue lists it: no case detail."""

    trace_id: str
    reason: ReviewReason
    organisation: str  # the requesting organisation
    policy_version: str
    created_at: str


@dataclass(frozen=True)
class Case:
    trace_id: str
    state: ReviewState
    reason: ReviewReason
    organisation: str
    client_id: int
    policy_version: str
    created_at: str
    decided_at: str | None
    request: dict
    candidates: list[dict]
    decision_reason: str | None
    decision_refusals: list[dict]  # when the policy in force at the decision refused what the reviewer approved


class ReviewStore:
    def __init__(self, engine: Engine, key: MasterKey) -> None:
        self.engine = engine
        self._aead = AESGCM(key.derive("review-cases"))

    def insert(self, connection: Connection, holds: list[Hold], created_at: str) -> None:
        """Within the caller's transaction (the one that writes the requests' register entries)."""
        if not holds:
            return
        rows = [
            {
                "trace_id": hold.trace_id,
                "client_id": hold.client.id,
                "organisation": hold.client.organisation,
                "reason": hold.reason.value,
                "policy_version": hold.policy_version,
                "created_at": created_at,
                "sealed_case": self._seal(
                    hold.trace_id,
                    "case",
                    {"request": hold.request, "candidates": hold.candidates, "disclosures": hold.disclosures},
                ),
                "state": ReviewState.PENDING.value,
            }
            for hold in holds
        ]
        connection.execute(insert(reviews), rows)

    def pending(self, limit: int = 100) -> list[Pending]:
        """The oldest pending requests first: id, reason, organisation, policy, when held. No case detail."""
        columns = [reviews.c[f.name] for f in fields(Pending)]
        query = select(*columns).where(reviews.c.state == ReviewState.PENDING.value).order_by(reviews.c.created_at)
        with self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit)).all()
        return [Pending(**{**row._asdict(), "reason": ReviewReason(row.reason)}) for row in rows]

    def case(self, trace_id: str) -> Case:
        with self.engine.connect() as connection:
            row = connection.execute(select(reviews).where(reviews.c.trace_id == trace_id)).first()
        if row is None:
            raise ReviewError(404, "no held request has this id")
        sealed = self._open(trace_id, "case", row.sealed_case)
        return Case(
            trace_id=row.trace_id,
            state=ReviewState(row.state),
            reason=ReviewReason(row.reason),
            organisation=row.organisation,
            client_id=row.client_id,
            policy_version=row.policy_version,
            created_at=row.created_at,
            decided_at=row.decided_at,
            request=sealed["request"],
            candidates=sealed["candidates"],
            decision_reason=sealed.get("decision_reason"),
            decision_refusals=sealed.get("decision_refusals", []),
        )

    def decide(
        self,
        connection: Connection,
        trace_id: str,
        reviewer: Client,
        approve: bool,
        candidate: int | None,
        reason: str,
        refusals: list[dict],
        now: str,
    ) -> ReviewState:
        """Record the decision within the caller's transaction; approval releases the chosen candidate's
        disclosure for the requester to collect (none if there was no candidate: the answer is then not found)."""
        row = connection.execute(select(reviews).where(reviews.c.trace_id == trace_id)).first()
        if row is None:
            raise ReviewError(404, "no held request has this id")
        if row.organisation == reviewer.organisation:
            raise ReviewError(403, "a reviewer may not decide a request of their own organisation")
        if row.state != ReviewState.PENDING.value:
            raise ReviewError(409, ALREADY_DECIDED)
        disclosure = None
        case = self._open(trace_id, "case", row.sealed_case)
        if approve:
            disclosures = case["disclosures"]
            if candidate is not None and not 0 <= candidate < len(disclosures):
                raise ReviewError(422, f"candidate must be between 0 and {len(disclosures) - 1}")
            if disclosures:
                disclosure = disclosures[candidate or 0]
                if disclosure is None:
                    raise ReviewError(
                        409,
                        "that candidate's record is never disclosed (restricted, at a restricted person's address, "
                        "or of someone who has died); with a restricted one, nothing in the request is",
                    )
        state = ReviewState.APPROVED if approve else ReviewState.REFUSED
        connection.execute(
            update(reviews)
            .where(reviews.c.trace_id == trace_id, reviews.c.state == ReviewState.PENDING.value)
            .values(
                state=state.value,
                decided_at=now,
                decided_by=reviewer.id,
                sealed_case=self._seal(
                    trace_id,
                    "case",
                    {**case, "decision_reason": reason, "decision_refusals": refusals, "found": disclosure is not None},
                ),
                sealed_disclosure=None if disclosure is None else self._seal(trace_id, "disclosure", disclosure),
            )
        )
        return state

    def peek(self, trace_id: str, requester: Client, expired_if_decided_before: str) -> tuple[ReviewState, bool, bool]:
        """For the requester who made the request: its state, whether a disclosure waits to be collected (never
        once past retention, purged yet or not), and whether approval found the person."""
        with self.engine.connect() as connection:
            row = connection.execute(select(reviews).where(reviews.c.trace_id == trace_id)).first()
        if row is None or row.client_id != requester.id:
            raise ReviewError(404, "no held request of this client has this id")
        expired = row.expired_at is not None or (
            row.decided_at is not None and row.decided_at < expired_if_decided_before
        )
        waiting = row.sealed_disclosure is not None and not expired
        found = row.state == ReviewState.APPROVED.value and self._open(trace_id, "case", row.sealed_case).get("found")
        return ReviewState(row.state), waiting, bool(found)

    def collect(self, connection: Connection, trace_id: str, now: str) -> dict:
        """The waiting disclosure, emptied as it is read (within the caller's transaction)."""
        row = connection.execute(select(reviews.c.sealed_disclosure).where(reviews.c.trace_id == trace_id)).first()
        if row is None or row.sealed_disclosure is None:
            raise ReviewError(409, "the disclosure was collected already")
        done = connection.execute(
            update(reviews)
            .where(reviews.c.trace_id == trace_id, reviews.c.sealed_disclosure.is_not(None))
            .values(sealed_disclosure=None, collected_at=now)
        )
        if done.rowcount != 1:
            raise ReviewError(409, "the disclosure was collected already")
        return self._open(trace_id, "disclosure", row.sealed_disclosure)

    def due(self, decided_before: str) -> list[str]:
        """The cases decided before ``decided_before`` and not yet expired."""
        query = select(reviews.c.trace_id).where(reviews.c.decided_at < decided_before, reviews.c.expired_at.is_(None))
        with self.engine.connect() as connection:
            return list(connection.execute(query.order_by(reviews.c.decided_at)).scalars())

    def expire(self, connection: Connection, trace_ids: list[str], now: str) -> None:
        """Drop the disclosures and the subject's details from these cases; what stays is the reason, the policy,
        the candidates' comparison levels and the decision."""
        query = select(reviews.c.trace_id, reviews.c.sealed_case).where(
            reviews.c.trace_id.in_(trace_ids), reviews.c.expired_at.is_(None)
        )
        for row in connection.execute(query).all():
            case = self._open(row.trace_id, "case", row.sealed_case)
            kept = {
                "request": {k: v for k, v in case["request"].items() if k != "subject"},
                "candidates": case["candidates"],
                "disclosures": [],
                "decision_reason": case.get("decision_reason"),
                "decision_refusals": case.get("decision_refusals", []),
                "found": case.get("found", False),
            }
            connection.execute(
                update(reviews)
                .where(reviews.c.trace_id == row.trace_id)
                .values(sealed_case=self._seal(row.trace_id, "case", kept), sealed_disclosure=None, expired_at=now)
            )

    def _seal(self, trace_id: str, purpose: str, value: object) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, json.dumps(value).encode(), f"{purpose}:{trace_id}".encode())

    def _open(self, trace_id: str, purpose: str, sealed: bytes) -> dict:
        plain = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], f"{purpose}:{trace_id}".encode())
        return json.loads(plain)
