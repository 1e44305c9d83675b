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

The steps must follow the rules' order, and each entry used must carry the hash the key makes of it; else the case
is broken and agrees with no row: entries made up or edited without the key can add findings, never hide one. The
start reads review entries by outcome, so an entry edited to another outcome is found by ``register verify`` (which
reads every link) and by the next decision or collection (which reads every entry naming the case), not at start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, or_, select

from api.access.tampering import UNVERIFIED, Finding, RowProblem
from api.audit.entry import RegisterEntry, entry_from_row
from api.audit.outcomes import RegisterOutcome
from api.audit.register import AuditRegister
from api.review.foureyes import ReviewState
from api.review.integrity import RowSeal
from api.storage.tables import register_entries, reviews

HELD = frozenset({RegisterOutcome.PENDING_REVIEW, RegisterOutcome.PROBE_SUSPECTED})
"""A held request's own entry: its trace id is the case's (a probe's ``concerns`` names another request)."""
_PENDING, _AWAITING = (ReviewState.PENDING,), (ReviewState.AWAITING_SECOND,)
_TO = {  # each decision: the states it is made from, the state it leaves (``api.review.foureyes``)
    RegisterOutcome.REVIEW_FIRST_APPROVAL: (_PENDING, ReviewState.AWAITING_SECOND),
    RegisterOutcome.REVIEW_APPROVED: (_PENDING, ReviewState.APPROVED),
    RegisterOutcome.REVIEW_COUNTERSIGNED: (_AWAITING, ReviewState.APPROVED),
    RegisterOutcome.REVIEW_REFUSED: ((*_PENDING, *_AWAITING), ReviewState.REFUSED),
}
_DECIDED = (ReviewState.APPROVED, ReviewState.REFUSED)
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
    # A step the service could not have written after the ones before it (a refusal approved again, a second
    # collection): the entries were edited or forged. The case then agrees with no row, so that entries made up
    # without the key can only add findings, never make a put-back row look current.
    broken: bool = False

    def after(self, outcome: str) -> None:
        if outcome == RegisterOutcome.COLLECTED:
            self.broken |= self.state is not ReviewState.APPROVED or self.collected or self.expired
            self.collected = True
        elif outcome == RegisterOutcome.EXPIRED:
            # Two processes applying retention at once may each write one: one expiry.
            self.broken |= self.state not in _DECIDED
            self.expired = True
        else:
            sources, to = _TO[RegisterOutcome(outcome)]
            self.broken |= self.state not in sources or self.expired
            self.state = to
            self.first_approved |= to is ReviewState.AWAITING_SECOND


def disagrees(recorded: Recorded | None, row: Mapping) -> bool:
    """Whether a row that passes its MAC is not what the register's entries made it: another state, a first
    approval, collection or expiry the register has not (or lacks one it has), a disclosure waiting once collected,
    expired or never approved, no held entry at all, or steps out of the rules' order."""
    if recorded is None or recorded.requester is None or recorded.broken:
        return True
    waiting = recorded.state is ReviewState.APPROVED and not (recorded.collected or recorded.expired)
    return (
        row["state"] != recorded.state.value
        or (row["first_approved_by"] is not None) != recorded.first_approved
        or (row["collected_at"] is not None) != recorded.collected
        or (row["expired_at"] is not None) != recorded.expired
        or (row["sealed_disclosure"] is not None and not waiting)
    )


def recorded_case(
    connection: Connection, trace_id: str, excluding: str, authentic: Callable[[RegisterEntry], bool]
) -> Recorded | None:
    """One case as the register says, read in the caller's transaction (two indexed look-ups: the held entry by its
    trace id, every entry naming it by ``concerns``), leaving out the entry ``excluding`` names: the one the
    caller's transaction has just written. None if it was never held. An entry about it whose hash the key did not
    make (``authentic``: an edited outcome, say) breaks the case: it then agrees with no row."""
    query = (
        select(register_entries)
        .where(
            or_(register_entries.c.trace_id == trace_id, register_entries.c.concerns == trace_id),
            register_entries.c.trace_id != excluding,
        )
        .order_by(register_entries.c.sequence)
    )
    recorded = None
    for row in connection.execute(query):
        entry = entry_from_row(row._asdict())
        draft = entry.draft
        if draft.trace_id == trace_id and draft.outcome in HELD:
            recorded = Recorded(draft.client_name, broken=not authentic(entry))
        elif recorded is None:
            continue  # nothing the service writes names a case before it is held
        elif not authentic(entry):
            recorded.broken = True
        elif draft.outcome in STEPS:
            recorded.after(draft.outcome)
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
            for named in {draft.trace_id, draft.concerns} & cases.keys():  # what it says of them is not the key's
                cases[named].broken = True
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
