"""What the use cases share: the tracer, the policies, the register, the review queue, subject tokens, the format
requests are read in, the clock.

The policy in force is the one of the day in UK time. The register notes which policy is in force at start and
with the first request under a new version. Past the policy's retention period after a review's decision, the
case loses its disclosures and the subject's details, each with an ``expired`` entry.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

from api.access.clients import Client, Role
from api.audit.entry import EntryDraft
from api.audit.outcomes import RegisterOutcome
from api.audit.register import AuditRegister
from api.audit.subjects import SubjectTokens
from api.policy.versions import PolicyBook, PolicyDecision, PolicyVersion
from api.review.queue import Case, ReviewStore
from api.storage.engine import database_answers
from api.usecases.denials import Denied
from api.usecases.request import RequestFormat, TraceApplication
from matcher.disclosure import DISCLOSURE_FIELDS
from matcher.tracer import Tracer

UK = ZoneInfo("Europe/London")
_log = logging.getLogger("api")
SERVICE = Client(0, "(service)", Role.AUDITOR, None)
"""Who the service's own entries (the policy in force, expiries) are recorded as."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TraceService:
    def __init__(
        self,
        tracer: Tracer | None,  # None where nothing is traced (``python -m api retention apply``)
        policies: PolicyBook,
        register: AuditRegister,
        subjects: SubjectTokens,
        reviews: ReviewStore,
        requests: RequestFormat,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.tracer = tracer
        self.policies = policies
        self.register = register
        self.subjects = subjects
        self.reviews = reviews
        self.requests = requests
        self._policy_recorded = register.latest_policy_recorded()
        self.clock = clock

    def policy_in_force(self) -> PolicyVersion:
        return self.policies.in_force(self.clock().astimezone(UK).date())

    def recheck(self, case: Case) -> PolicyDecision:
        """A held request's grounds under the policy in force now: a switch of policy while it waited applies."""
        today = self.clock().astimezone(UK).date()
        return self.policies.in_force(today).check(self.requests.read(case.request).grounds, today)

    def readiness(self) -> str:
        """The policy version in force, once the database answers (a 503 if it does not)."""
        if not database_answers(self.register.engine):
            raise Denied(503, "the database does not answer")
        return self.policy_in_force().version

    def retention_cutoff(self) -> str:
        """Reviews decided before this time (UTC text) are past the retention period of the policy in force."""
        now = self.clock()
        return (
            (now - dt.timedelta(days=self.policy_in_force().retention_days))
            .astimezone(dt.UTC)
            .isoformat(timespec="microseconds")
        )

    def apply_retention(self) -> list[str]:
        """Expire the cases the retention period has run out on, each with a register entry (``expired``) in the
        same transaction. The trace ids expired."""
        due, tampered = self.reviews.due(self.retention_cutoff())
        drafts = [self.draft(SERVICE, RegisterOutcome.EXPIRED, 0, concerns=trace_id) for trace_id in due]
        for trace_id in tampered:  # left as found, for an operator to restore: noted each time retention runs
            _log.error("review row %s fails its integrity check: not expired (changed outside the service)", trace_id)
            drafts.append(self.draft(SERVICE, RegisterOutcome.TAMPERING_DETECTED, 0, concerns=trace_id))
        if drafts:
            self.register.append_many(drafts, self.clock(), also=lambda c, at: self.reviews.expire(c, due, at))
        return due

    def level_agreements(self) -> dict[str, dict[str, str]]:
        """Per comparison of the tracer, each level's label and how strongly it agrees (exact, close, weak,
        none): what a reviewer is shown beside a candidate's levels. Empty where nothing is traced."""
        if self.tracer is None:
            return {}
        return {c.name: {lv.label: lv.agreement.value for lv in c.levels} for c in self.tracer.comparisons}

    def record_policy_in_force(self) -> None:
        """An entry saying which policy is in force, if the register does not already say so last."""
        policy = self.policy_in_force()
        drafts = self.policy_switch(policy)
        if drafts:
            self.register.append_many(drafts, self.clock())
            self.mark_policy_recorded(policy)

    def policy_switch(self, policy: PolicyVersion) -> list[EntryDraft]:
        """The entry to write with the first request under ``policy``, if it is not the one the register names."""
        if policy.version == self._policy_recorded:
            return []
        return [
            EntryDraft(
                str(uuid.uuid4()),
                SERVICE.id,
                SERVICE.name,
                RegisterOutcome.POLICY_IN_FORCE,
                0,
                policy_version=policy.version,
            )
        ]

    def mark_policy_recorded(self, policy: PolicyVersion) -> None:
        """The register now names ``policy`` as in force (its entry is committed)."""
        self._policy_recorded = policy.version

    @staticmethod
    def draft(
        client: Client,
        outcome: RegisterOutcome,
        http_status: int,
        concerns: str | None = None,
        fields: tuple[str, ...] = (),
        refusal_codes: tuple[str, ...] = (),
    ) -> EntryDraft:
        """The entry of a request that carries no trace request: a refusal, a read, a review step."""
        return EntryDraft(
            trace_id=str(uuid.uuid4()),
            client_id=client.id,
            client_name=client.name,
            outcome=outcome,
            http_status=http_status,
            fields_disclosed=fields,
            concerns=concerns,
            refusal_codes=refusal_codes,
        )

    def request_draft(
        self,
        client: Client,
        request: TraceApplication,
        trace_id: str,
        outcome: RegisterOutcome,
        policy_version: str | None = None,
        refusal_codes: tuple[str, ...] = (),
        disclosed: bool = False,
        http_status: int = 200,
        concerns: str | None = None,
    ) -> EntryDraft:
        """The entry of a trace request: who asked, on what grounds, about whom (the keyed token), with what
        outcome, and the names of the fields disclosed."""
        grounds, subject = request.grounds, request.subject
        return EntryDraft(
            trace_id=trace_id,
            client_id=client.id,
            client_name=client.name,
            outcome=outcome,
            http_status=http_status,
            requesting_officer=grounds.requesting.id,
            requesting_grade=grounds.requesting.grade,
            authorising_officer=grounds.authorising.id,
            authorising_grade=grounds.authorising.grade,
            policy_version=policy_version,
            category=int(grounds.basis.category),
            offence=grounds.basis.offence,
            subject_token=self.subjects.token(subject.family_name, subject.date_of_birth, subject.given_name),
            refusal_codes=refusal_codes,
            fields_disclosed=DISCLOSURE_FIELDS if disclosed else (),
            concerns=concerns,
        )
