"""Replaying the register's review steps against the review rows: a row put back whole is not the newest.

A review row's keyed MAC (``api.review.integrity``) shows that the service wrote the row, not that it is the newest
row the service wrote: an operator without the key can put back an approved row from before its collection (its
disclosure waiting again), or keep a pending row as it was when a refusal was written. Every step of a case is an
entry in the hash-chained register, written in the transaction that changes the row: the held request's own entry
(``pending_review`` or ``probe_suspected``, its trace id the case's), then the steps naming it in ``concerns``
(``review_approved_once``, ``review_approved``, ``review_countersigned``, ``review_refused``, ``collected``,
``expired``). Folded in order they give what the row must be now, and since each step makes one version of a row
(pending, awaiting a second approval, approved, collected, expired), state, first approval, collection and expiry
tell every version apart.

``replay`` compares every row with the register at start (and in ``register verify``); ``recorded_case`` and
``disagrees`` do it for one case within a decision's or a collection's transaction, so that a row put back while
the service runs is refused too. Nothing deletes a review row (retention only drops the disclosures and the
subject's details, with an ``expired`` entry), so a held request whose row is gone is reported as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from api.access.tampering import UNVERIFIED, Finding, RowProblem
from api.audit.outcomes import RegisterOutcome
from api.audit.register import AuditRegister
from api.review.foureyes import ReviewState
from api.review.integrity import RowSeal
from api.storage.tables import register_entries, reviews

HELD = frozenset({RegisterOutcome.PENDING_REVIEW, RegisterOutcome.PROBE_SUSPECTED})
"""A held request's own entry: its trace id is the case's (a probe's ``concerns`` names another request)."""
_TO = {
    RegisterOutcome.REVIEW_FIRST_APPROVAL: ReviewState.AWAITING_SECOND,
    RegisterOutcome.REVIEW_APPROVED: ReviewState.APPROVED,
    RegisterOutcome.REVIEW_COUNTERSIGNED: ReviewState.APPROVED,
    RegisterOutcome.REVIEW_REFUSED: ReviewState.REFUSED,
}
STEPS = frozenset({*_TO, RegisterOutcome.COLLECTED, RegisterOutcome.EXPIRED})
"""The entries that change a case's row, each naming the case in ``concerns``. (Reads, refused steps and
``tampering_detected`` name it too and change nothing.)"""
_BATCH = 1_000


@dataclass
class Recorded:
    """A case as the register's entries leave it."""

    requester: str | None  # the held entry's client name; None: no held entry (the steps name a case never held)
    state: ReviewState = ReviewState.PENDING
    first_approved: bool = False
    collected: bool = False
    expired: bool = False

    def after(self, outcome: str) -> None:
        if outcome == RegisterOutcome.COLLECTED:
            self.collected = True
        elif outcome == RegisterOutcome.EXPIRED:
            self.expired = True  # two processes applying retention at once may each write one: one expiry
        else:
            self.state = _TO[RegisterOutcome(outcome)]
            self.first_approved |= self.state is ReviewState.AWAITING_SECOND


def disagrees(recorded: Recorded | None, row: Mapping) -> bool:
    """Whether a row that passes its MAC is not what the register's entries made it: another state, a first
    approval, collection or expiry the register has not (or lacks one it has), a disclosure waiting once collected,
    expired or never approved, or no held entry at all."""
    if recorded is None or recorded.requester is None:
        return True
    waiting = recorded.state is ReviewState.APPROVED and not (recorded.collected or recorded.expired)
    return (
        row["state"] != recorded.state.value
        or (row["first_approved_by"] is not None) != recorded.first_approved
        or (row["collected_at"] is not None) != recorded.collected
        or (row["expired_at"] is not None) != recorded.expired
        or (row["sealed_disclosure"] is not None and not waiting)
    )


def recorded_case(connection: Connection, trace_id: str, excluding: str) -> Recorded | None:
    """One case as the register says, read in the caller's transaction (two indexed look-ups: the held entry by its
    trace id, the steps by ``concerns``), leaving out the entry ``excluding`` names: the one the caller's
    transaction has just written. None if it was never held. Each entry's hash is not checked here: an entry
    forged without the key could only make a case refused, and the start's replay and verify check them."""
    held = connection.execute(
        select(register_entries.c.client_name).where(
            register_entries.c.trace_id == trace_id, register_entries.c.outcome.in_(_values(HELD))
        )
    ).first()
    if held is None:
        return None
    recorded = Recorded(held.client_name)
    steps = connection.execute(
        select(register_entries.c.outcome)
        .where(
            register_entries.c.concerns == trace_id,
            register_entries.c.outcome.in_(_values(STEPS)),
            register_entries.c.trace_id != excluding,
        )
        .order_by(register_entries.c.sequence)
    )
    for (outcome,) in steps:
        recorded.after(outcome)
    return recorded


def replay(engine: Engine, register: AuditRegister, seal: RowSeal) -> list[Finding]:
    """Every review row that fails its MAC or is not what the register's steps made it, every held request whose
    row is gone, and every review entry whose hash the key did not make. One pass over the register's review
    entries (in memory: a few dozen bytes a case) and one over the rows, a batch at a time."""
    findings: list[Finding] = []
    cases: dict[str, Recorded] = {}
    for entry in register.entries_of(HELD | STEPS):
        draft = entry.draft
        if not register.authentic(entry):
            findings.append(Finding("register", str(entry.sequence), "(entry)", RowProblem.ENTRY_FORGED))
            continue
        if draft.outcome in HELD:
            cases[draft.trace_id] = Recorded(draft.client_name)
        elif draft.concerns is not None:
            cases.setdefault(draft.concerns, Recorded(None)).after(draft.outcome)
    seen: set[str] = set()
    after = ""
    while True:
        query = select(reviews).where(reviews.c.trace_id > after).order_by(reviews.c.trace_id).limit(_BATCH)
        with engine.connect() as connection:
            rows = connection.execute(query).all()
        if not rows:
            break
        after = rows[-1].trace_id
        for row in rows:
            seen.add(row.trace_id)
            recorded = cases.get(row.trace_id)
            name = recorded.requester if recorded is not None and recorded.requester else UNVERIFIED
            if not seal.intact(row._mapping):
                problem = RowProblem.MAC_INVALID
            elif recorded is None or recorded.requester is None:
                problem = RowProblem.NOT_IN_REGISTER
            elif disagrees(recorded, row._mapping):
                problem = RowProblem.DIFFERS
            else:
                continue
            findings.append(Finding("reviews", row.trace_id, name, problem, row.row_mac))
    for trace_id, recorded in cases.items():
        if trace_id not in seen and recorded.requester is not None:
            findings.append(Finding("reviews", trace_id, recorded.requester, RowProblem.MISSING))
    return findings


def _values(outcomes: frozenset[RegisterOutcome]) -> list[str]:
    return sorted(o.value for o in outcomes)
