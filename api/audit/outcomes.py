"""What came of a request, as the register records it: one vocabulary for the whole service.

Every entry's ``outcome`` is a ``RegisterOutcome``. A trace answer's ``status`` is one of the outcomes that answer
a request (``Status``), and the transparency summary's groupings (answered, rejected, reads, reviewed) are sets of
outcomes defined here, beside the outcomes themselves.
"""

from __future__ import annotations

from enum import StrEnum


class RegisterOutcome(StrEnum):
    # A trace request judged and answered.
    TRACED = "traced"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"
    REFUSED = "refused"  # by the policy (or, when collected, by the reviewer)
    PENDING_REVIEW = "pending_review"
    DECEASED = "deceased"  # the person has died: nothing disclosed (when the policy answers so)
    # Answered not_found: a certain match to a restricted record, or to someone at a restricted person's address.
    WITHHELD = "withheld"
    # Held for review (answered pending_review): one variant too many about one record from one organisation.
    # (Before the count moved to the records, such requests were refused untraced with a 429.)
    PROBE_SUSPECTED = "probe_suspected"
    # Turned away before the policy judged it, or failed.
    RATE_LIMITED = "rate_limited"
    FORBIDDEN = "forbidden"
    INVALID = "invalid"
    ERROR = "error"
    # An X-Request-ID sent again with another body (409), or while its first attempt is being answered (409).
    RETRY_CONFLICT = "retry_conflict"
    RETRY_IN_PROGRESS = "retry_in_progress"
    # Reads of the register, the queue and held requests, and the service's own notes.
    REGISTER_READ = "register_read"
    REVIEWS_LISTED = "reviews_listed"
    REVIEW_READ = "review_read"
    STATUS_READ = "status_read"
    COLLECTED = "collected"
    POLICY_IN_FORCE = "policy_in_force"
    EXPIRED = "expired"
    # An operator adopted the register's head as it stands (``register adopt-head``): its head file was missing,
    # failed its check or disagreed; the entry's refusal code says which.
    HEAD_ADOPTED = "head_adopted"
    # A reviewer's decision on a held request.
    REVIEW_APPROVED = "review_approved"
    REVIEW_REFUSED = "review_refused"
    # A change of who may do what, written by the operator's commands in the change's own transaction.
    ORGANISATION_ADDED = "organisation_added"
    CLIENT_ADDED = "client_added"
    CLIENT_REVOKED = "client_revoked"
    CLIENT_CHANGED = "client_changed"  # its role or its rate
    # Four eyes: an approval that needs a second (a welfare release, a candidate short of the requirements) waits
    # for one of another organisation, which releases the disclosure.
    REVIEW_FIRST_APPROVAL = "review_approved_once"  # the column holds 20 characters
    REVIEW_COUNTERSIGNED = "review_countersigned"
    # A row the service trusts failed its keyed MAC, or differs from what the register's changes made it.
    TAMPERING_DETECTED = "tampering_detected"


# The status of a trace answer: the outcomes that answer a request. No docstring: it would become the OpenAPI
# document's description of the schema.
class Status(StrEnum):
    TRACED = RegisterOutcome.TRACED.value
    NOT_FOUND = RegisterOutcome.NOT_FOUND.value
    AMBIGUOUS = RegisterOutcome.AMBIGUOUS.value
    REFUSED = RegisterOutcome.REFUSED.value
    PENDING_REVIEW = RegisterOutcome.PENDING_REVIEW.value
    DECEASED = RegisterOutcome.DECEASED.value


ANSWERED = frozenset(RegisterOutcome(status) for status in Status) | {RegisterOutcome.WITHHELD}
REJECTED = frozenset(
    {
        RegisterOutcome.INVALID,
        RegisterOutcome.FORBIDDEN,
        RegisterOutcome.RATE_LIMITED,
        RegisterOutcome.ERROR,
        RegisterOutcome.RETRY_CONFLICT,
        RegisterOutcome.RETRY_IN_PROGRESS,
    }
)
"""Requests turned away before the policy judged them (malformed, wrong role, over the rate, a request id reused
or in progress) or that failed."""
PROBED = frozenset({RegisterOutcome.PROBE_SUSPECTED})
"""Requests held as one variant too many of an organisation's requests about one record."""
ANSWERED_AS = {RegisterOutcome.WITHHELD: RegisterOutcome.NOT_FOUND}
"""What the requester was answered, where the register records more: the published summary counts what was
answered, so that it tells no one how many restricted people were asked about."""
REVIEWED = frozenset(
    {
        RegisterOutcome.REVIEW_APPROVED,
        RegisterOutcome.REVIEW_REFUSED,
        RegisterOutcome.REVIEW_FIRST_APPROVAL,
        RegisterOutcome.REVIEW_COUNTERSIGNED,
    }
)
"""A reviewing client's decisions: each of a four-eyes case's two approvals counts for its own organisation."""
READS = frozenset(
    {
        RegisterOutcome.REGISTER_READ,
        RegisterOutcome.REVIEWS_LISTED,
        RegisterOutcome.REVIEW_READ,
        RegisterOutcome.STATUS_READ,
        RegisterOutcome.COLLECTED,
        RegisterOutcome.POLICY_IN_FORCE,
        RegisterOutcome.EXPIRED,
        RegisterOutcome.HEAD_ADOPTED,
    }
)
"""Entries of the register's and the queue's readers, requesters' looks at held requests and the service's notes:
not trace requests."""
RIGHTS = frozenset(
    {
        RegisterOutcome.ORGANISATION_ADDED,
        RegisterOutcome.CLIENT_ADDED,
        RegisterOutcome.CLIENT_REVOKED,
        RegisterOutcome.CLIENT_CHANGED,
    }
)
"""Changes of who may do what: replayed against the clients and organisations tables (``api.access.replay``)."""
TAMPERING = frozenset({RegisterOutcome.TAMPERING_DETECTED})
"""Rows found edited outside the service: not requests."""

# A new outcome must be given a group, or the summary would count it as a rejected request.
if set(RegisterOutcome) != ANSWERED | REJECTED | PROBED | REVIEWED | READS | RIGHTS | TAMPERING:
    raise AssertionError("every register outcome belongs to one of the summary's groups")
