"""Admission of trace requests: every POST /v1/traces, from the key presented to the answer, in this order.

    key     who asks (401, not recorded: no client is known)
    rate    the client's rate (429 with Retry-After), before its role: see ``api.usecases.gate``
    role    the requester role (403)
    body    is it a request (413 or 415 from reading it, 422 with the fields at fault, or a malformed X-Request-ID)
    retry   a request named by an X-Request-ID this client used within the window: with the same body, the answer
            the first attempt was given, again, nothing traced, counted or recorded; with another body, or while
            the first is being answered, a 409 (``api.access.retries``). Else the id is reserved for this attempt
    policy  the policy in force on the UK day of arrival judges the grounds; a refused request is never matched
    trace   the allowed requests are matched as one batch of the tracing core
    probe   each traced request is counted on the records it landed on, and, if not matched, on those it could
            be about under another date of birth (withheld records never), for its organisation
            (``api.access.probing``): one variant too many about a record is held (``probe_suspected``)
    hold    a probe, a welfare concern, an ambiguous or near-threshold match goes to a reviewer; a certain match
            to a restricted record or its household is answered not_found (recorded as ``withheld``)
    record  the register entries, written before anything is returned: the refusals in one transaction, the
            answers (with the held cases and the answers kept for their request ids) in another; a request id whose
            attempt was not answered is released, so that its retry is traced as new
    answer  only then the answers

Requests that arrived together (``api.http.dispatch``) go through each stage together: one query for their keys,
one batch through the core, one count of their probes, one transaction for their answers. A match is disclosed
only if it is certain, unrestricted and not held. Whatever a requester sends about a restricted person, the answer
is one an ordinary person's request could get: not_found for the certain match (as PDS answers nothing for a
restricted record), held for the same reasons as anyone's otherwise. If an entry cannot be written, its request is
answered 503 and nothing is disclosed. If the core fails on a batch, its requests are answered one by one, so that
only the one at fault gets a 500.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from api.access.clients import Client, Role
from api.access.probing import Probe, ProbeCounter, ProbeTokens
from api.access.retries import Attempt, ReservationLost, RetryStore
from api.audit.entry import RegisterEntry
from api.audit.outcomes import RegisterOutcome, Status
from api.policy.versions import PolicyDecision, PolicyVersion
from api.review.queue import ReviewReason
from api.usecases.cases import HeldRequest, review_cases
from api.usecases.denials import (
    Denied,
    database_unavailable,
    log_unexpected,
    register_unavailable,
    unauthenticated,
)
from api.usecases.gate import Gate
from api.usecases.recording import Recorder
from api.usecases.request import TraceApplication
from api.usecases.results import Answer, Disclosure
from api.usecases.retrying import Named, Retrying
from api.usecases.service import UK, TraceService
from matcher.contract.request import TraceRequest
from matcher.decision import OUTCOMES, Outcome
from matcher.tracer import TraceResult

# The core's batch path has a fixed cost of about 2.5 single traces: measured on the 1M index, 1.6 ms for one,
# 2.1 ms each for two, 1.0 for four, 0.6 for eight. Below four, one by one.
SMALLEST_BATCH = 4

_STATUS_OF_OUTCOME = {
    Outcome.MATCHED: Status.TRACED,
    Outcome.NO_MATCH: Status.NOT_FOUND,
    Outcome.AMBIGUOUS: Status.AMBIGUOUS,
}
_WITHHELD = OUTCOMES.index(Outcome.RESTRICTED)  # a record's standing when it, or its household, is restricted
_STATUS_OF_DEATH = {"deceased": Status.DECEASED, "not_found": Status.NOT_FOUND}


@dataclass(frozen=True)
class TraceCall:
    """One POST /v1/traces as the event loop hands it over: the key presented and the body, or why it could not
    be read; the X-Request-ID, if any, or why it is malformed."""

    key: str | None
    body: bytes | None
    unreadable: Denied | None
    request_id: str | None = None
    malformed_id: Denied | None = None


@dataclass(slots=True, eq=False)
class Arrival:
    """One request as it moves through the stages: each fills in its part, or turns the request away."""

    call: TraceCall
    client: Client | None = None
    request: TraceApplication | None = None
    trace_id: str = ""
    attempt: Attempt | None = None  # the request id reserved for this attempt, to keep its answer or release
    probe: Probe | None = None
    refusal: RegisterOutcome | None = None  # the outcome recorded for ``denied`` (none for a 401)
    denied: Denied | None = None
    decision: PolicyDecision | None = None
    result: TraceResult | None = None  # the core's, if the policy allowed the request
    hold: ReviewReason | None = None
    status: Status | None = None  # what the requester is answered
    recorded_as: RegisterOutcome | None = None  # what the register says of it (the status, or more)
    withheld_nearby: bool = False  # a withheld record is among those the request landed on
    disclosure: Disclosure | None = None
    answer: Answer | None = None

    @property
    def going(self) -> bool:
        return self.denied is None and self.answer is None  # an answer already: a retry's, given again

    def turn_away(self, denied: Denied, refusal: RegisterOutcome | None = None) -> None:
        self.denied, self.refusal = denied, refusal

    def outcome(self) -> Answer | Denied:
        return self.answer if self.answer is not None else self.denied


class Admission:
    def __init__(
        self,
        service: TraceService,
        gate: Gate,
        probes: ProbeCounter,
        tokens: ProbeTokens,
        recorder: Recorder,
        retries: RetryStore,
        retrying: Retrying,
    ) -> None:
        self.service = service
        self.gate = gate
        self.probes = probes
        self.tokens = tokens
        self.recorder = recorder
        self.retries = retries
        self.retrying = retrying

    def handle(self, calls: list[TraceCall]) -> list[Answer | Denied]:
        """Trace requests that arrived together, each answered or denied, in order."""
        arrivals = [Arrival(call) for call in calls]
        try:
            clients = self.gate.identify([call.key for call in calls])
        except Denied:  # no client is known, so nothing can be recorded
            return [database_unavailable() for _ in calls]
        for arrival, client in zip(arrivals, clients, strict=True):
            arrival.client = client
            if client is None:
                arrival.turn_away(unauthenticated())
        for stage in (self._rate_and_role, self._body):
            for arrival in arrivals:
                if arrival.going:
                    stage(arrival)
        self._retries([a for a in arrivals if a.going and a.call.request_id is not None])
        self._record_refusals([a for a in arrivals if a.refusal is not None])
        self._answer([a for a in arrivals if a.going])
        self.retries.release([a.attempt for a in arrivals if a.attempt is not None and a.answer is None])
        return [a.outcome() for a in arrivals]

    def _rate_and_role(self, arrival: Arrival) -> None:
        if refusal := self.gate.check(arrival.client, Role.REQUESTER):
            outcome, denied = refusal
            arrival.turn_away(denied, outcome)

    def _body(self, arrival: Arrival) -> None:
        if arrival.call.unreadable is not None:
            arrival.turn_away(arrival.call.unreadable, RegisterOutcome.INVALID)
            return
        if arrival.call.malformed_id is not None:
            arrival.turn_away(arrival.call.malformed_id, RegisterOutcome.INVALID)
            return
        try:
            arrival.request = self.service.requests.parse(arrival.call.body)
        except Denied as invalid:
            arrival.turn_away(invalid, RegisterOutcome.INVALID)
            return
        arrival.trace_id = str(uuid.uuid4())  # named now: a probe's entry names the first request of its group

    def _retries(self, named: list[Arrival]) -> None:
        """Each request with an id reserved for this attempt, answered again, or turned away (a 409, recorded)."""
        if not named:
            return
        calls = [Named(a.client.id, a.call.request_id, a.request) for a in named]
        for arrival, sorted_ in zip(named, self.retrying.sort(calls), strict=True):
            arrival.attempt, arrival.answer = sorted_.attempt, sorted_.answer
            if sorted_.refusal is not None:
                arrival.turn_away(*sorted_.refusal)

    def _record_refusals(self, refused: list[Arrival]) -> None:
        denials = self.recorder.refusals([(a.client, a.refusal, a.denied) for a in refused])
        for arrival, denied in zip(refused, denials, strict=True):
            arrival.denied = denied

    def _answer(self, admitted: list[Arrival]) -> None:
        """Policy, trace, hold, record and answer for the admitted requests; one failure fails only its own."""
        if not admitted:
            return
        try:
            self._judge_and_answer(admitted)
        except Denied:  # the register could not be written: nothing is disclosed
            for arrival in admitted:
                arrival.answer, arrival.denied = None, register_unavailable()
        except ReservationLost:  # a retry took over a stale request id: only this attempt's answer is not written
            if len(admitted) > 1:
                for arrival in admitted:
                    self._answer([arrival])
                return
            [arrival] = admitted
            arrival.answer, arrival.denied = None, register_unavailable()
        except Exception as error:
            if len(admitted) > 1:  # one request's fault must not fail the others: answer them one by one
                for arrival in admitted:
                    self._answer([arrival])
                return
            log_unexpected(error)
            [arrival] = admitted
            [arrival.denied] = self.recorder.refusals(
                [(arrival.client, RegisterOutcome.ERROR, Denied(500, "the trace could not be completed"))]
            )

    def _judge_and_answer(self, batch: list[Arrival]) -> None:
        service = self.service
        now = service.clock()
        today = now.astimezone(UK).date()
        policy = service.policies.in_force(today)
        self._judge(batch, policy, today)
        self._trace(batch)
        self._count_probes(batch)
        self._look_for_withheld(batch)
        self._hold(batch, policy)
        sequences = self._record(batch, policy, now)
        for arrival, sequence in zip(batch, sequences, strict=True):
            arrival.answer = _answer_of(arrival, sequence)

    @staticmethod
    def _judge(batch: list[Arrival], policy: PolicyVersion, today: dt.date) -> None:
        for arrival in batch:
            arrival.decision = policy.check(arrival.request.grounds, today)
            arrival.result = None  # until traced: a batch that failed is judged again one by one

    def _trace(self, batch: list[Arrival]) -> None:
        """The allowed requests through the core: as one batch if there are enough of them."""
        allowed = [a for a in batch if a.decision.allowed]
        results = self._trace_batch([a.request.subject.trace_request() for a in allowed])
        for arrival, result in zip(allowed, results, strict=True):
            arrival.result = result

    def _count_probes(self, batch: list[Arrival]) -> None:
        """Each traced request counted on the records it may be about (withheld ones never: a restricted person's
        requests are counted like a stranger's), for its organisation; a 503 if the count cannot be kept (a probe
        must not pass because the database failed)."""
        traced = [a for a in batch if a.result is not None]
        tracer = self.service.tracer
        requests = [a.request.subject.trace_request() for a in traced]
        about = tracer.records_about(requests, [a.result for a in traced])
        landings = [
            self.tokens.landing(
                arrival.client.organisation,
                arrival.trace_id,
                request,
                tracer.nhs_numbers(np.array(rows, dtype=np.int64)),
            )
            for arrival, request, rows in zip(traced, requests, about, strict=True)
        ]
        try:
            probes = self.probes.count(landings)
        except SQLAlchemyError:
            raise register_unavailable() from None
        for arrival in batch:
            arrival.probe = None
        for arrival, probe in zip(traced, probes, strict=True):
            arrival.probe = probe

    def _look_for_withheld(self, batch: list[Arrival]) -> None:
        """Whether each traced request landed near a withheld record. Only a match to someone else may then be
        answered: a hold for a near miss, an ambiguity, would tell that a restricted person is close to the details
        sent, where the exact details answer not_found."""
        traced = [a for a in batch if a.result is not None and a.result.nearest]
        for arrival in batch:
            arrival.withheld_nearby = False
        if not traced:
            return
        rows = np.array([r for a in traced for r in a.result.nearest], dtype=np.int64)
        withheld = self.service.tracer.index.standing_at(rows) == _WITHHELD
        start = 0
        for arrival in traced:
            end = start + len(arrival.result.nearest)
            arrival.withheld_nearby = bool(withheld[start:end].any())
            start = end

    def _trace_batch(self, requests: list[TraceRequest]) -> list[TraceResult]:
        tracer = self.service.tracer
        if len(requests) < SMALLEST_BATCH:
            return [result for request in requests for result in tracer.trace_many([request])]
        return tracer.trace_many(requests)

    @staticmethod
    def _hold(batch: list[Arrival], policy: PolicyVersion) -> None:
        """Held or not; if not, the status the match gives, and the disclosure only when traced."""
        for arrival in batch:
            result = arrival.result
            arrival.hold = None if result is None else _hold_reason(result, arrival, policy)
            arrival.disclosure = None
            recorded_as = None
            if result is None:
                arrival.status = Status.REFUSED
            elif arrival.hold is not None:
                arrival.status = Status.PENDING_REVIEW
                if arrival.hold is ReviewReason.ENUMERATION:
                    recorded_as = RegisterOutcome.PROBE_SUSPECTED
            elif _withheld(result, arrival):
                # Answered as if the index held no such person: a hold, a refusal or any answer of its own would
                # tell the requester that the person exists and is restricted. The auditor reads ``withheld``.
                arrival.status, recorded_as = Status.NOT_FOUND, RegisterOutcome.WITHHELD
            elif result.outcome is Outcome.DECEASED:
                arrival.status = _STATUS_OF_DEATH[policy.deceased_answer]  # nothing disclosed, whichever
            else:
                arrival.status = _STATUS_OF_OUTCOME[result.outcome]
                if arrival.status is Status.TRACED:
                    arrival.disclosure = Disclosure.from_payload(result.disclosure)
            arrival.recorded_as = recorded_as or RegisterOutcome(arrival.status)

    def _record(self, batch: list[Arrival], policy: PolicyVersion, now: dt.datetime) -> list[int]:
        """The answers' entries and the held cases in one transaction, after the first request under a new policy
        version records the switch; the entries' sequence numbers."""
        service = self.service
        drafts = [
            service.request_draft(
                a.client,
                a.request,
                a.trace_id,
                a.recorded_as,
                a.decision.version,
                tuple(r.code for r in a.decision.refusals),
                disclosed=a.disclosure is not None,
                concerns=a.probe.first_trace_id if a.probe is not None else None,
            )
            for a in batch
        ]
        holds = review_cases(
            service.tracer,
            [HeldRequest(a.trace_id, a.client, a.hold, a.request) for a in batch if a.hold is not None],
            policy,
        )
        switch = service.policy_switch(policy)

        def keep_answers(connection: Connection, written: list[RegisterEntry]) -> None:
            """The answers of requests with an id, kept for a retry with the entries that record them."""
            kept = [
                (a.attempt, _answer_of(a, entry.sequence).to_json())
                for a, entry in zip(batch, written[len(switch) :], strict=True)
                if a.attempt is not None
            ]
            self.retries.keep(connection, kept)

        entries = self.recorder.write(
            switch + drafts,
            also=lambda connection, at: service.reviews.insert(connection, holds, at),
            now=now,
            numbered=keep_answers,
        )[len(switch) :]
        service.mark_policy_recorded(policy)
        return [entry.sequence for entry in entries]


def _answer_of(arrival: Arrival, sequence: int) -> Answer:
    decision = arrival.decision
    return Answer(arrival.trace_id, arrival.status, decision.version, sequence, decision.refusals, arrival.disclosure)


def _hold_reason(result: TraceResult, arrival: Arrival, policy: PolicyVersion) -> ReviewReason | None:
    """Why a request is held for review instead of answered, or None (the routes are the policy's)."""
    if arrival.probe is not None:
        # Whatever the core found, deceased and restricted alike: past the limit, every variant gets the same.
        return ReviewReason.ENUMERATION
    if result.outcome is Outcome.DECEASED:
        return None  # answered as the policy says, with nothing to disclose: there is nothing for a reviewer to do
    if arrival.decision.requires_review:
        return ReviewReason.WELFARE  # whatever the match: a clinician decides
    if _withheld(result, arrival):
        return None  # answered not_found: a restricted record is never disclosed, so there is nothing to review
    if result.outcome is Outcome.AMBIGUOUS and policy.review_ambiguous:
        return ReviewReason.AMBIGUOUS
    floor = policy.review_near_threshold
    # Near the threshold is about a candidate that met the decision's requirements: one a requirement blocked
    # (its probability is still the model's) is no near miss for a reviewer to settle, or a sweep of dates of birth
    # would reach a reviewer with the person it is looking for.
    near = result.outcome is Outcome.NO_MATCH and result.blocked_by is None
    if near and floor is not None and result.probability >= floor:
        return ReviewReason.NEAR_THRESHOLD
    return None


def _withheld(result: TraceResult, arrival: Arrival) -> bool:
    """A certain match to a withheld record, or any answer but a match to someone else near one."""
    return result.outcome is Outcome.RESTRICTED or (arrival.withheld_nearby and result.outcome is not Outcome.MATCHED)
