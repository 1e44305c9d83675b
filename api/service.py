"""One approved-trace request, from grounds to answer: policy, then trace, then register, then the answer.

The order is the point. The policy in force on the day (UK time) judges the grounds; a refused request is never
matched. A match is disclosed only if it is certain, unrestricted and not held for review. The register entry is
written before the answer exists outside this function: if it cannot be written, RegisterUnavailable propagates
and no disclosure leaves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

from api.clients import Client
from api.grouping import Grouped
from api.models import Disclosure, RefusalModel, Status, TraceAnswer, TraceRequestBody
from api.policy import PolicyBook, PolicyDecision, PolicyVersion
from api.register import AuditRegister, EntryDraft, RegisterEntry, SubjectTokens
from matcher.decision import Outcome
from matcher.payload import DISCLOSURE_FIELDS
from matcher.request import TraceRequest
from matcher.tracer import Tracer, TraceResult

UK = ZoneInfo("Europe/London")
SMALLEST_BATCH = 4  # measured on the 1M index: 1.6 ms for one, 2.1 ms each for two, 1.0 for four, 0.6 for eight

_STATUS_OF_OUTCOME = {
    Outcome.MATCHED: Status.TRACED,
    Outcome.NO_MATCH: Status.NOT_FOUND,
    Outcome.AMBIGUOUS: Status.AMBIGUOUS,
    # A restricted record is never disclosed automatically; its answer is the same as any other held request's.
    Outcome.RESTRICTED: Status.PENDING_REVIEW,
}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TraceService:
    def __init__(
        self,
        tracer: Tracer,
        policies: PolicyBook,
        register: AuditRegister,
        subjects: SubjectTokens,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.tracer = tracer
        self.policies = policies
        self.register = register
        self.subjects = subjects
        self.clock = clock
        # Requests allowed at the same moment are matched together: the core's batch path is much cheaper per
        # request than one trace each, and the GIL would run them one after another anyway.
        self._traces: Grouped[TraceRequest, TraceResult] = Grouped(self._trace_batch, max_group=32)

    def policy_in_force(self) -> PolicyVersion:
        return self.policies.in_force(self.clock().astimezone(UK).date())

    def answer(self, client: Client, body: TraceRequestBody) -> TraceAnswer:
        now = self.clock()
        today = now.astimezone(UK).date()
        grounds = body.grounds()
        policy = self.policies.in_force(today)
        decision = policy.check(grounds, today)
        disclosure = None
        if not decision.allowed:
            status = Status.REFUSED
        else:
            status, disclosure = self._trace(body, decision)
        officers = body.officers
        draft = EntryDraft(
            trace_id=str(uuid.uuid4()),
            client_id=client.id,
            client_name=client.name,
            outcome=status.value,
            http_status=200,
            requesting_officer=officers.requesting.id,
            requesting_grade=officers.requesting.grade,
            authorising_officer=officers.authorising.id,
            authorising_grade=officers.authorising.grade,
            policy_version=decision.version,
            category=body.basis.category,
            offence=body.basis.offence,
            subject_token=self.subjects.token(
                body.subject.family_name, body.subject.date_of_birth, body.subject.given_name
            ),
            refusal_codes=tuple(r.code for r in decision.refusals),
            fields_disclosed=DISCLOSURE_FIELDS if disclosure is not None else (),
        )
        entry = self.register.append(draft, now)
        return TraceAnswer(
            trace_id=draft.trace_id,
            status=status,
            policy_version=decision.version,
            register_sequence=entry.sequence,
            refusals=[RefusalModel(code=r.code, message=r.message) for r in decision.refusals],
            disclosure=disclosure,
        )

    def record_failure(self, client: Client, outcome: str, http_status: int) -> RegisterEntry:
        """The register entry for a request that got no answer (wrong role, rate limited, malformed, failed)."""
        draft = EntryDraft(
            trace_id=str(uuid.uuid4()),
            client_id=client.id,
            client_name=client.name,
            outcome=outcome,
            http_status=http_status,
        )
        return self.register.append(draft, self.clock())

    def _trace_batch(self, requests: list[TraceRequest]) -> list[TraceResult]:
        # The core's batch path has a fixed cost of about 2.5 single traces: it pays from about four requests on.
        if len(requests) < SMALLEST_BATCH:
            return [result for request in requests for result in self.tracer.trace_many([request])]
        return self.tracer.trace_many(requests)

    def _trace(self, body: TraceRequestBody, decision: PolicyDecision) -> tuple[Status, Disclosure | None]:
        subject = body.subject
        request = TraceRequest(
            family_name=subject.family_name,
            date_of_birth=subject.date_of_birth.isoformat(),
            given_name=subject.given_name,
            other_given_names=subject.other_given_names,
            sex=subject.sex,
            postcode=subject.postcode,
            address_line_1=subject.address,
        )
        result = self._traces(request)
        status = _STATUS_OF_OUTCOME[result.outcome]
        if decision.requires_review:
            # A welfare concern goes to a clinician whatever the match; its answer looks like any other held one.
            return Status.PENDING_REVIEW, None
        if status is Status.TRACED:
            return status, Disclosure.from_payload(result.disclosure)
        return status, None
