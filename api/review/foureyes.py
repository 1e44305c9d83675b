"""Who may decide a held request, and whether one approval is enough (four eyes).

A welfare (category 2) request is decided by a guardian (``Role.GUARDIAN``, a Caldicott Guardian's part): a plain
reviewer may read it, but neither approve nor refuse it. A refusal ends the request as surely as an approval
releases it, and whether a welfare concern justifies a disclosure about someone at risk is the clinician's call;
letting any reviewer refuse would let one person end such a request with no one else looking.

An approval needs a second, by a reviewer (for a welfare request, a guardian) of an organisation other than the
first approver's and the requester's, and never the same client, when it would release a welfare request, or a
candidate that does not meet the decision's requirements (or when no candidate meets them), or any candidate of a
request held because the core was not certain who the person is (ambiguous, near the threshold). One approval is
enough for a request held as a probe (the core was certain; the pattern of requests was not) whose candidate meets
the requirements, and for a case with no candidate (its approval releases nothing). The second approver names the
same candidate: the two approve one disclosure, not one each; one who thinks another candidate is the person
refuses, and the request can be made again. A second refusal refuses. The first approval releases nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from api.access.clients import Client, Role
from api.policy.grounds import Category


class ReviewState(StrEnum):
    PENDING = "pending"
    AWAITING_SECOND = "awaiting_second"  # approved once; nothing released until a second approval
    APPROVED = "approved"
    REFUSED = "refused"


OPEN = (ReviewState.PENDING, ReviewState.AWAITING_SECOND)
ALREADY_DECIDED = "this request has already been decided"


class ReviewError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class FirstApproval:
    client_id: int
    organisation: str
    approved_at: str
    candidate: int | None  # None: the case had no candidate (its approval answers not_found)
    reason: str  # sealed with the case, never in the register


@dataclass(frozen=True)
class Standing:
    """What the rules read of a case: its state, the requester, what each candidate is, any first approval."""

    state: ReviewState
    organisation: str  # the requester's
    category: int | None  # of the request's basis (None if unreadable: treated as welfare)
    reason: str  # why it was held (a ReviewReason's value)
    meets_requirements: tuple[bool, ...]  # per candidate
    releasable: tuple[bool, ...]  # per candidate: whether approval could release anything of it
    first: FirstApproval | None


@dataclass(frozen=True)
class Transition:
    to: ReviewState
    candidate: int | None  # on approval: the candidate released (None: no candidate, answered not_found)
    countersigns: bool  # the second of two approvals


def welfare(standing: Standing) -> bool:
    return standing.category != Category.IMMIGRATION_OFFENCE


UNCERTAIN = frozenset({"ambiguous", "near_threshold"})
"""Holds the core made because it was not certain who the person is, whatever the candidates' requirements say."""


def needs_second(standing: Standing, candidate: int | None) -> bool:
    """Whether approving ``candidate`` needs a second approval. Approving a case with no candidate answers
    not_found and releases nothing, so one approval ends it (else it could never be completed)."""
    meets = standing.meets_requirements
    if candidate is None:
        return False
    return welfare(standing) or standing.reason in UNCERTAIN or not meets[candidate] or not any(meets)


def transition(standing: Standing, reviewer: Client, approve: bool, candidate: int | None) -> Transition:
    """What ``reviewer``'s decision does to the case, or the ``ReviewError`` that refuses it."""
    if standing.organisation == reviewer.organisation:
        raise ReviewError(403, "a reviewer may not decide a request of their own organisation")
    if standing.state not in OPEN:
        raise ReviewError(409, ALREADY_DECIDED)
    if welfare(standing) and reviewer.role is not Role.GUARDIAN:
        raise ReviewError(403, "a welfare (category 2) request is decided by a guardian; a reviewer may only read it")
    first = standing.first
    if standing.state is ReviewState.AWAITING_SECOND:
        if first is None:  # a row that says awaiting_second without its first approval: never trusted
            raise ReviewError(409, "this request's first approval is missing")
        if reviewer.id == first.client_id:
            raise ReviewError(403, "the second approval must be another client's than the first")
        if reviewer.organisation == first.organisation:
            raise ReviewError(403, "the second approval must be of another organisation than the first approver's")
    if not approve:
        return Transition(ReviewState.REFUSED, None, countersigns=False)
    if standing.state is ReviewState.AWAITING_SECOND:
        if candidate is None:
            raise ReviewError(422, "a second approval names the candidate it approves")
        if candidate != first.candidate:
            raise ReviewError(
                409, "a second approval names the candidate the first approved; refuse if another is the person"
            )
        return Transition(ReviewState.APPROVED, candidate, countersigns=True)
    count = len(standing.releasable)
    if candidate is not None and not 0 <= candidate < max(count, 1):
        raise ReviewError(422, f"candidate must be between 0 and {max(count - 1, 0)}")
    chosen = (candidate or 0) if count else None
    if chosen is not None and not standing.releasable[chosen]:
        raise ReviewError(
            409,
            "that candidate's record is never disclosed (restricted, at a restricted person's address, "
            "or of someone who has died); with a restricted one, nothing in the request is",
        )
    if needs_second(standing, chosen):
        return Transition(ReviewState.AWAITING_SECOND, chosen, countersigns=False)
    return Transition(ReviewState.APPROVED, chosen, countersigns=False)
