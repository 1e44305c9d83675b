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

import numpy as np

from api.access.clients import Client, Role
from api.audit.register import AuditRegister, EntryDraft, RegisterEntry, SubjectTokens
from api.http.models import Disclosure, RefusalModel, Status, TraceAnswer, TraceRequestBody
from api.policy.versions import PolicyBook, PolicyDecision, PolicyVersion
from api.review.queue import Hold, ReviewReason, ReviewStore
from matcher.decision import Outcome
from matcher.payload import DISCLOSURE_FIELDS
from matcher.request import TraceRequest
from matcher.tracer import Tracer, TraceResult

UK = ZoneInfo("Europe/London")
# The core's batch path has a fixed cost of about 2.5 single traces: measured on the 1M index, 1.6 ms for one,
# 2.1 ms each for two, 1.0 for four, 0.6 for eight. Below four, one by one.
SMALLEST_BATCH = 4

_STATUS_OF_OUTCOME = {
    Outcome.MATCHED: Status.TRACED,
    Outcome.NO_MATCH: Status.NOT_FOUND,
    Outcome.AMBIGUOUS: Status.AMBIGUOUS,
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
        reviews: ReviewStore,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.tracer = tracer
        self.policies = policies
        self.register = register
        self.subjects = subjects
        self.reviews = reviews
        self._policy_recorded = register.latest_policy_recorded()
        self.clock = clock

    def policy_in_force(self) -> PolicyVersion:
        return self.policies.in_force(self.clock().astimezone(UK).date())

    def recheck(self, body: TraceRequestBody) -> PolicyDecision:
        """A held request's grounds under the policy in force now: a switch of policy while it waited applies."""
        today = self.clock().astimezone(UK).date()
        return self.policies.in_force(today).check(body.grounds(), today)

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
        due = self.reviews.due(self.retention_cutoff())
        if due:
            service = Client(0, "(service)", Role.AUDITOR, None)
            drafts = [self.draft(service, "expired", 0, concerns=trace_id) for trace_id in due]
            self.register.append_many(drafts, self.clock(), also=lambda c, at: self.reviews.expire(c, due, at))
        return due

    def record_policy_in_force(self) -> None:
        """An entry saying which policy is in force, if the register does not already say so last."""
        policy = self.policy_in_force()
        drafts = self._policy_switch(policy)
        if drafts:
            self.register.append_many(drafts, self.clock())
            self._policy_recorded = policy.version

    def _policy_switch(self, policy: PolicyVersion) -> list[EntryDraft]:
        if policy.version == self._policy_recorded:
            return []
        return [EntryDraft(str(uuid.uuid4()), 0, "(service)", "policy_in_force", 0, policy_version=policy.version)]

    def answer_many(
        self, calls: list[tuple[Client, TraceRequestBody]], trace_ids: list[str] | None = None
    ) -> list[TraceAnswer]:
        """Answers to requests that arrived together: judged one by one, the allowed ones matched as one batch
        (the core's batch path costs a fraction of a single trace per request), all entries written in one
        transaction, and only then the answers. ``trace_ids``: given when the caller named the requests already
        (the enumeration detector did); new ones otherwise."""
        trace_ids = trace_ids or [str(uuid.uuid4()) for _ in calls]
        now = self.clock()
        today = now.astimezone(UK).date()
        policy = self.policies.in_force(today)
        decisions = [policy.check(body.grounds(), today) for _, body in calls]
        allowed = [i for i, decision in enumerate(decisions) if decision.allowed]
        results = dict(zip(allowed, self._trace_batch([_trace_request(calls[i][1]) for i in allowed]), strict=True))
        held = {i: reason for i in allowed if (reason := _hold_reason(results[i], decisions[i], policy))}
        outcomes = [
            (Status.REFUSED, None)
            if i not in results
            else (Status.PENDING_REVIEW, None)
            if i in held
            else _outcome(results[i])
            for i in range(len(calls))
        ]
        drafts = [
            self._draft(
                client,
                body,
                trace_id,
                status.value,
                decision.version,
                tuple(r.code for r in decision.refusals),
                disclosed=disclosure is not None,
            )
            for (client, body), trace_id, decision, (status, disclosure) in zip(
                calls, trace_ids, decisions, outcomes, strict=True
            )
        ]
        # Built before the entries are written, so that nothing can fail once they are: a committed entry is
        # always answered.
        answers = [
            TraceAnswer(
                trace_id=draft.trace_id,
                status=status,
                policy_version=decision.version,
                register_sequence=0,
                refusals=[RefusalModel(code=r.code, message=r.message) for r in decision.refusals],
                disclosure=disclosure,
            )
            for draft, decision, (status, disclosure) in zip(drafts, decisions, outcomes, strict=True)
        ]
        holds = self._holds(calls, drafts, held, policy)
        switch = self._policy_switch(policy)  # the first request under a new policy version records the switch
        entries = self.register.append_many(switch + drafts, now, also=lambda c, at: self.reviews.insert(c, holds, at))[
            len(switch) :
        ]
        self._policy_recorded = policy.version
        return [a.model_copy(update={"register_sequence": e.sequence}) for a, e in zip(answers, entries, strict=True)]

    def record_probes(self, probes: list[tuple[Client, TraceRequestBody, str, str]]) -> list[RegisterEntry]:
        """Entries, in one transaction, for requests refused untraced as one too many of a group of near-identical
        ones (client, body, trace id, the group's first trace id): who asked, on what grounds, about whom (the
        keyed token), and which request began the probe."""
        drafts = [
            self._draft(client, body, trace_id, "probe_suspected", http_status=429, concerns=first)
            for client, body, trace_id, first in probes
        ]
        return self.register.append_many(drafts, self.clock())

    def _draft(
        self,
        client: Client,
        body: TraceRequestBody,
        trace_id: str,
        outcome: str,
        policy_version: str | None = None,
        refusal_codes: tuple[str, ...] = (),
        disclosed: bool = False,
        http_status: int = 200,
        concerns: str | None = None,
    ) -> EntryDraft:
        officers, subject = body.officers, body.subject
        return EntryDraft(
            trace_id=trace_id,
            client_id=client.id,
            client_name=client.name,
            outcome=outcome,
            http_status=http_status,
            requesting_officer=officers.requesting.id,
            requesting_grade=officers.requesting.grade,
            authorising_officer=officers.authorising.id,
            authorising_grade=officers.authorising.grade,
            policy_version=policy_version,
            category=body.basis.category,
            offence=body.basis.offence,
            subject_token=self.subjects.token(subject.family_name, subject.date_of_birth, subject.given_name),
            refusal_codes=refusal_codes,
            fields_disclosed=DISCLOSURE_FIELDS if disclosed else (),
            concerns=concerns,
        )

    def record(self, requests: list[tuple[Client, str, int]], concerns: str | None = None) -> list[RegisterEntry]:
        """Register entries, in one transaction, for requests that got no trace answer: (client, outcome, HTTP
        status); the outcome one of rate_limited, forbidden, invalid, error, or a read (register_read,
        reviews_listed, review_read). ``concerns``: the trace a review step is about."""
        drafts = [self.draft(client, outcome, status, concerns) for client, outcome, status in requests]
        return self.register.append_many(drafts, self.clock())

    @staticmethod
    def draft(
        client: Client, outcome: str, http_status: int, concerns: str | None = None, fields: tuple[str, ...] = ()
    ) -> EntryDraft:
        return EntryDraft(
            trace_id=str(uuid.uuid4()),
            client_id=client.id,
            client_name=client.name,
            outcome=outcome,
            http_status=http_status,
            fields_disclosed=fields,
            concerns=concerns,
        )

    def _trace_batch(self, requests: list[TraceRequest]) -> list[TraceResult]:
        if len(requests) < SMALLEST_BATCH:
            return [result for request in requests for result in self.tracer.trace_many([request])]
        return self.tracer.trace_many(requests)

    def _holds(
        self,
        calls: list[tuple[Client, TraceRequestBody]],
        drafts: list[EntryDraft],
        held: dict[int, ReviewReason],
        policy: PolicyVersion,
    ) -> list[Hold]:
        """What the reviewer of each held request will see: its top candidates traced again with their
        explanations (rare enough that the second trace costs nothing that matters)."""
        if not held:
            return []
        order = list(held)
        explained = self.tracer.trace_many([_trace_request(calls[i][1]) for i in order], explain=True)
        holds = []
        for i, result in zip(order, explained, strict=True):
            candidates = result.explanation
            payloads = self.tracer.disclosures(np.array([c.record for c in candidates], dtype=np.int64))
            if None in payloads:
                # A restricted candidate (never opened): the others may be its household, whose address is its
                # whereabouts, so nothing in this request is ever released.
                payloads = [None] * len(payloads)
            holds.append(
                Hold(
                    trace_id=drafts[i].trace_id,
                    client=calls[i][0],
                    reason=held[i],
                    policy_version=policy.version,
                    request=calls[i][1].model_dump(mode="json"),
                    candidates=[
                        {
                            "match_weight": c.match_weight,
                            "meets_requirements": c.eligible,
                            "comparisons": [
                                {"comparison": x.comparison, "level": x.level, "weight": x.weight}
                                for x in c.comparisons
                            ],
                        }
                        for c in candidates
                    ],
                    disclosures=[None if p is None else _disclosure_json(p) for p in payloads],
                )
            )
        return holds


def _hold_reason(result: TraceResult, decision: PolicyDecision, policy: PolicyVersion) -> ReviewReason | None:
    """Why a request is held for review instead of answered, or None (the routes are the policy's)."""
    if decision.requires_review:
        return ReviewReason.WELFARE  # whatever the match: a clinician decides
    if result.outcome is Outcome.RESTRICTED:
        return ReviewReason.RESTRICTED  # always: a restricted record is never disclosed automatically
    if result.outcome is Outcome.AMBIGUOUS and policy.review_ambiguous:
        return ReviewReason.AMBIGUOUS
    floor = policy.review_near_threshold
    if result.outcome is Outcome.NO_MATCH and floor is not None and result.probability >= floor:
        return ReviewReason.NEAR_THRESHOLD
    return None


def _disclosure_json(payload: dict) -> dict:
    return Disclosure.from_payload(payload).model_dump(mode="json")


def _outcome(result: TraceResult) -> tuple[Status, Disclosure | None]:
    status = _STATUS_OF_OUTCOME[result.outcome]
    if status is Status.TRACED:
        return status, Disclosure.from_payload(result.disclosure)
    return status, None


def _trace_request(body: TraceRequestBody) -> TraceRequest:
    subject = body.subject
    return TraceRequest(
        family_name=subject.family_name,
        date_of_birth=subject.date_of_birth.isoformat(),
        given_name=subject.given_name,
        other_given_names=subject.other_given_names,
        sex=subject.sex,
        postcode=subject.postcode,
        address_line_1=subject.address,
    )
