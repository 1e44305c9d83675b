"""The review queue: requests held for a person to decide, sealed at rest.

A held request's case (the request as sent, the policy it was judged under, and per candidate the comparison
levels that made its score, never the record) and what each candidate's disclosure would be are sealed with
AES-GCM under a subkey of the master key, bound to the trace id. A reviewer reads the case and approves (naming
the candidate) or refuses with a written reason; an approval that needs four eyes (``api.review.foureyes``) waits
for a second; the requester then collects the outcome once. Every row carries a keyed MAC of what the service
wrote (``api.review.integrity``), checked on every read: an edited row is refused (``ReviewTampered``). A decision
or a collection is written only if the row is also what the register's steps made it, and a row found at start to
differ is closed (``ReviewDisputed``, ``api.review.replay``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, Row, insert, select, update

from api.access.clients import Client
from api.audit.register import AuditRegister
from api.review.foureyes import (
    ALREADY_DECIDED,
    FirstApproval,
    ReviewError,
    ReviewState,
    Standing,
    Transition,
    transition,
)
from api.review.integrity import ReviewDisputed, ReviewTampered, RowSeal
from api.review.replay import disagrees, recorded_case
from api.storage.tables import reviews
from matcher.protection.keys import MasterKey

# The queue's words, defined with the rules and the integrity checks.
__all__ = ["ALREADY_DECIDED", "ReviewDisputed", "ReviewError", "ReviewState", "ReviewTampered"]

_NONCE = 12
_UNDECIDED = (
    "decided_at",
    "decided_by",
    "first_approved_at",
    "first_approved_by",
    "first_approved_organisation",
    "sealed_disclosure",
    "collected_at",
    "expired_at",
)
"""The columns a held request's row starts without (each is in its MAC, so each is set, if only to None)."""


class ReviewReason(StrEnum):
    WELFARE = "welfare"  # a welfare concern goes to a clinician (the Caldicott Guardian)
    RESTRICTED = "restricted"  # held before restricted records were answered not_found (older cases only)
    AMBIGUOUS = "ambiguous"  # more than one candidate could be the person
    NEAR_THRESHOLD = "near_threshold"  # the best candidate scored just under the threshold
    ENUMERATION = "enumeration"  # one variant too many about one record from one organisation (a probe)


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
    state: ReviewState  # pending, or awaiting a second approval
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
    decided_by: int | None
    request: dict
    candidates: list[dict]
    decision_reason: str | None
    decision_refusals: list[dict]  # when the policy in force at the decision refused what the reviewer approved
    first_approval: FirstApproval | None
    candidate: int | None  # the candidate approved (on a four-eyes case, the one the first approver named)
    releasable: tuple[bool, ...]  # per candidate: whether approval could release anything (never shown)

    @property
    def standing(self) -> Standing:
        basis = self.request.get("basis") or {}
        return Standing(
            state=self.state,
            organisation=self.organisation,
            category=basis.get("category"),
            reason=self.reason.value,
            meets_requirements=tuple(bool(c.get("meets_requirements")) for c in self.candidates),
            releasable=self.releasable,
            first=self.first_approval,
        )


class ReviewStore:
    def __init__(self, engine: Engine, key: MasterKey) -> None:
        self.engine = engine
        self._aead = AESGCM(key.derive("review-cases"))
        self.seal = RowSeal(key)
        self._entries = AuditRegister(engine, key)  # a reader, for the hashes of a case's steps (never appends)
        # Cases whose rows differ from the register, found at start (``close``) or by a decision or collection:
        # refused for the rest of this process; the next start finds them again while their rows stay so.
        self._disputed: set[str] = set()

    def insert(self, connection: Connection, holds: list[Hold], created_at: str) -> None:
        """Within the caller's transaction (the one that writes the requests' register entries)."""
        if not holds:
            return
        rows = [
            self._sealed_row(
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
                    **dict.fromkeys(_UNDECIDED, None),
                }
            )
            for hold in holds
        ]
        connection.execute(insert(reviews), rows)

    def pending(self, limit: int = 100) -> list[Pending]:
        """The oldest open requests first (pending, or awaiting a second approval), but rows that fail their MAC."""
        return self.open_cases(limit)[0]

    def open_cases(self, limit: int = 100) -> tuple[list[Pending], list[str]]:
        """The oldest open requests first (pending, or awaiting a second approval): id, reason, organisation,
        policy, when held; no case detail. And the trace ids of rows that failed their MAC, left out."""
        open_states = [ReviewState.PENDING.value, ReviewState.AWAITING_SECOND.value]
        query = select(reviews).where(reviews.c.state.in_(open_states)).order_by(reviews.c.created_at)
        with self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit)).all()
        rows = [r for r in rows if r.trace_id not in self._disputed]  # closed, and recorded when found
        intact = [r for r in rows if self.seal.intact(r._mapping)]
        tampered = [r.trace_id for r in rows if not self.seal.intact(r._mapping)]
        listed = [
            Pending(
                **{f.name: getattr(r, f.name) for f in fields(Pending)}
                | {"reason": ReviewReason(r.reason), "state": ReviewState(r.state)}
            )
            for r in intact
        ]
        return listed, tampered

    def case(self, trace_id: str) -> Case:
        with self.engine.connect() as connection:
            row = self._row(connection, trace_id)
        return self._case(row)

    def decide(
        self,
        connection: Connection,
        trace_id: str,
        reviewer: Client,
        expected: Transition,
        candidate: int | None,
        reason: str,
        refusals: list[dict],
        now: str,
        entry: str,
    ) -> ReviewState:
        """Record the decision within the caller's transaction, if the rules give ``expected`` on the row as it is
        now (a decision made meanwhile is a 409) and the row is what the register's steps made it (``entry``: the
        trace id of the entry this transaction records the decision with). A final approval releases the chosen
        candidate's disclosure for the requester to collect (none if there was no candidate: the answer is then not
        found); a first approval of two releases nothing."""
        row = self._agreed_row(connection, trace_id, entry)
        case = self._case(row)
        done = transition(case.standing, reviewer, expected.to is not ReviewState.REFUSED, candidate)
        if done != expected:
            raise ReviewError(409, "this request was decided meanwhile; read it again")
        sealed = self._open(trace_id, "case", row.sealed_case)
        changes: dict = {}
        if done.to is ReviewState.AWAITING_SECOND:
            sealed["first_approval"] = {"candidate": done.candidate, "reason": reason}
            changes = {
                "first_approved_at": now,
                "first_approved_by": reviewer.id,
                "first_approved_organisation": reviewer.organisation,
            }
        else:
            disclosure = None
            if done.to is ReviewState.APPROVED and done.candidate is not None:
                disclosure = sealed["disclosures"][done.candidate]
            sealed |= {
                "decision_reason": reason,
                "decision_refusals": refusals,
                "found": disclosure is not None,
                "candidate": done.candidate,
            }
            changes = {
                "decided_at": now,
                "decided_by": reviewer.id,
                "sealed_disclosure": None if disclosure is None else self._seal(trace_id, "disclosure", disclosure),
            }
        changes |= {"state": done.to.value, "sealed_case": self._seal(trace_id, "case", sealed)}
        if not self._update(connection, row, changes):
            raise ReviewError(409, "this request was decided meanwhile; read it again")
        return done.to

    def peek(self, trace_id: str, requester: Client, expired_if_decided_before: str) -> tuple[ReviewState, bool, bool]:
        """For the requester who made the request: its state, whether a disclosure waits to be collected (never
        once past retention, purged yet or not), and whether approval found the person."""
        with self.engine.connect() as connection:
            row = connection.execute(select(reviews).where(reviews.c.trace_id == trace_id)).first()
        if row is not None and not self.seal.intact(row._mapping):
            raise ReviewTampered(trace_id)
        if row is None or row.client_id != requester.id:
            raise ReviewError(404, "no held request of this client has this id")
        if row.trace_id in self._disputed:  # its MAC holds: the requester is the one who asked
            raise ReviewDisputed(trace_id)
        expired = row.expired_at is not None or (
            row.decided_at is not None and row.decided_at < expired_if_decided_before
        )
        waiting = row.state == ReviewState.APPROVED.value and row.sealed_disclosure is not None and not expired
        found = row.state == ReviewState.APPROVED.value and self._open(trace_id, "case", row.sealed_case).get("found")
        return ReviewState(row.state), waiting, bool(found)

    def collect(self, connection: Connection, trace_id: str, now: str, entry: str) -> dict:
        """The waiting disclosure, emptied as it is read (within the caller's transaction, whose ``collected``
        entry ``entry`` names), if the register has no collection of it yet (a row put back from before one)."""
        row = self._agreed_row(connection, trace_id, entry)
        if row.state != ReviewState.APPROVED.value or row.sealed_disclosure is None:
            raise ReviewError(409, "the disclosure was collected already")
        if not self._update(connection, row, {"sealed_disclosure": None, "collected_at": now}):
            raise ReviewError(409, "the disclosure was collected already")
        return self._open(trace_id, "disclosure", row.sealed_disclosure)

    def due(self, decided_before: str) -> tuple[list[str], list[str]]:
        """The cases decided before ``decided_before`` and not yet expired; and those of them whose rows failed
        their MAC, which are not expired (expiring would seal them again, and launder the edit)."""
        query = select(reviews).where(reviews.c.decided_at < decided_before, reviews.c.expired_at.is_(None))
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(reviews.c.decided_at)).all()
        due = [r.trace_id for r in rows if self.seal.intact(r._mapping)]
        return due, [r.trace_id for r in rows if not self.seal.intact(r._mapping)]

    def expire(self, connection: Connection, trace_ids: list[str], now: str) -> None:
        """Drop the disclosures and the subject's details from these cases; what stays is the reason, the policy,
        the candidates' comparison levels and the decisions. A row changed since ``due`` read it is left."""
        query = select(reviews).where(reviews.c.trace_id.in_(trace_ids), reviews.c.expired_at.is_(None))
        for row in connection.execute(query).all():
            if not self.seal.intact(row._mapping):
                continue
            case = self._open(row.trace_id, "case", row.sealed_case)
            kept = {
                "request": {k: v for k, v in case["request"].items() if k != "subject"},
                "candidates": case["candidates"],
                "disclosures": [],
                **{k: case[k] for k in ("decision_reason", "first_approval", "candidate") if k in case},
                "decision_refusals": case.get("decision_refusals", []),
                "found": case.get("found", False),
            }
            changes = {"sealed_case": self._seal(row.trace_id, "case", kept), "sealed_disclosure": None}
            self._update(connection, row, changes | {"expired_at": now})

    def close(self, trace_ids: set[str]) -> None:
        """Refuse these cases from now on in this process: their rows differ from the register (found at start)."""
        self._disputed |= trace_ids

    def _row(self, connection: Connection, trace_id: str) -> Row:
        """The row, if the service wrote it as it is: 404 if there is none, ``ReviewTampered`` if it fails,
        ``ReviewDisputed`` if it was found to differ from the register."""
        row = connection.execute(select(reviews).where(reviews.c.trace_id == trace_id)).first()
        if row is None:
            raise ReviewError(404, "no held request has this id")
        if not self.seal.intact(row._mapping):
            raise ReviewTampered(trace_id)
        if trace_id in self._disputed:
            raise ReviewDisputed(trace_id)
        return row

    def _agreed_row(self, connection: Connection, trace_id: str, entry: str) -> Row:
        """The row, as ``_row`` gives it, if it is also what the register's steps made it: checked in the
        transaction that writes the next step, under the register's lock, so no step lands between the two."""
        row = self._row(connection, trace_id)
        recorded = recorded_case(connection, trace_id, entry, self._entries.authentic)
        if disagrees(recorded, row._mapping):
            self._disputed.add(trace_id)
            raise ReviewDisputed(trace_id)
        return row

    def _sealed_row(self, values: Mapping) -> dict:
        return {**values, "row_mac": self.seal.mac(values)}

    def _update(self, connection: Connection, row: Row, changes: dict) -> bool:
        """Change the row, with its new MAC, if it is still the row read (its MAC is the one read)."""
        values = self._sealed_row({**row._asdict(), **changes})
        done = connection.execute(
            update(reviews)
            .where(reviews.c.trace_id == row.trace_id, reviews.c.row_mac == row.row_mac)
            .values(**{k: values[k] for k in (*changes, "row_mac")})
        )
        return done.rowcount == 1

    def _case(self, row: Row) -> Case:
        sealed = self._open(row.trace_id, "case", row.sealed_case)
        first = None
        if row.first_approved_by is not None:
            approval = sealed.get("first_approval") or {}
            first = FirstApproval(
                client_id=row.first_approved_by,
                organisation=row.first_approved_organisation,
                approved_at=row.first_approved_at,
                candidate=approval.get("candidate"),
                reason=approval.get("reason", ""),
            )
        return Case(
            trace_id=row.trace_id,
            state=ReviewState(row.state),
            reason=ReviewReason(row.reason),
            organisation=row.organisation,
            client_id=row.client_id,
            policy_version=row.policy_version,
            created_at=row.created_at,
            decided_at=row.decided_at,
            decided_by=row.decided_by,
            request=sealed["request"],
            candidates=sealed["candidates"],
            decision_reason=sealed.get("decision_reason"),
            decision_refusals=sealed.get("decision_refusals", []),
            first_approval=first,
            candidate=sealed.get("candidate", first.candidate if first else None),
            releasable=tuple(d is not None for d in sealed.get("disclosures", [])),
        )

    def _seal(self, trace_id: str, purpose: str, value: object) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, json.dumps(value).encode(), f"{purpose}:{trace_id}".encode())

    def _open(self, trace_id: str, purpose: str, sealed: bytes) -> dict:
        plain = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], f"{purpose}:{trace_id}".encode())
        return json.loads(plain)
