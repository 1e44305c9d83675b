"""The HTTP boundary's shapes: the trace request, the answer, and problem details (RFC 9457).

Validation messages name the field and what it expects, never the value received: an error must not echo a
subject's details back (see api.http.problems). The use cases answer with plain data (``api.usecases``); the
shapes here are made from it by attribute.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    create_model,
    field_validator,
    model_validator,
)

from api.audit.entry import RECORD_FIELDS
from api.audit.outcomes import Status
from api.policy.grounds import GRADES, OFFENCES, Basis, Category, Investigation, Officer, SeriousCrime, TraceGrounds
from api.usecases.results import Answer

# The policy's own lists, so that a grade or offence outside them is a 422 naming what is accepted.
Grade = Literal[GRADES]
Offence = Literal[tuple(OFFENCES)]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Identifiers in their own formats, so that no free text (a subject's name and date of birth, say) can ride in an
# identifier into the register, where auditors read it verbatim: an issuing office (2-4 letters), for an officer
# an optional grade code, then a number; a case reference is an office, a year from 2000 and a number.
OFFICER_ID_PATTERN = r"^[A-Z]{2,4}(-[A-Z0-9]{2,4})?-[0-9]{1,6}$"
CASE_REFERENCE_PATTERN = r"^[A-Z]{2,4}-20[0-9]{2}-[0-9]{1,8}$"
OfficerId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=OFFICER_ID_PATTERN)]
CaseReference = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CASE_REFERENCE_PATTERN)]
EARLIEST_DATE = dt.date(1900, 1, 1)

_STRICT = ConfigDict(extra="forbid")

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_text(value: object) -> object:
    """A date as the schema says, YYYY-MM-DD (or a date, from Python): pydantic would otherwise take 0 or "0" for
    1970-01-01 and "2020-01-01T00:00:00" for 2020-01-01, and trace someone for a value the schema rejects."""
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("must be a date, YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_date_text)]


class Subject(BaseModel):
    """The person to trace. Family name and date of birth are required."""

    model_config = _STRICT
    given_name: Name | None = None
    other_given_names: Name | None = None
    family_name: Name
    date_of_birth: IsoDate
    sex: Literal["female", "male", "unknown", "other"] | None = None
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=10)] | None = None
    address: ShortText | None = Field(None, description="first line of the last address the requester knows")
    town: ShortText | None = Field(None, description="town of the last address the requester knows")

    @field_validator("date_of_birth")
    @classmethod
    def _plausible_birth(cls, value: dt.date) -> dt.date:
        if value < EARLIEST_DATE or value > dt.date.today():
            raise ValueError(f"must be a date between {EARLIEST_DATE} and today")
        return value


class BasisModel(BaseModel):
    """Category 1: a suspected immigration offence; category 2: a welfare concern."""

    model_config = _STRICT
    category: Literal[1, 2]
    offence: Offence | None = Field(None, description="category 1: the offence under the Immigration Act 1971")
    serious_crime: SeriousCrime | None = Field(
        None, description="category 1 under mou-2018-05: which serious-crime ground applies"
    )
    welfare_description: ShortText | None = Field(None, description="category 2: the concern, in a sentence")


class InvestigationModel(BaseModel):
    model_config = _STRICT
    reference: CaseReference = Field(
        description="the Home Office case reference: office, year, number (HO-2026-004217)", examples=["HO-2026-004217"]
    )
    last_contact: IsoDate = Field(
        description="when the Home Office last had contact with the subject: from 1900, and not before their birth"
    )
    channels_tried: list[ShortText] = Field(max_length=20, description="other ways of finding them already tried")
    # Strict: an attestation is true or false, not 1, "yes" or "on" (which pydantic would otherwise take for true).
    no_known_explanation: StrictBool = Field(
        description="attestation: there is no known reasonable explanation for the lost contact"
    )


class OfficerModel(BaseModel):
    model_config = _STRICT
    id: OfficerId = Field(
        description="the officer's staff id: office, optional grade code, number (HO-EO-1182)", examples=["HO-EO-1182"]
    )
    grade: Grade


class Officers(BaseModel):
    model_config = _STRICT
    requesting: OfficerModel
    authorising: OfficerModel


class TraceRequestBody(BaseModel):
    model_config = _STRICT
    subject: Subject
    basis: BasisModel
    investigation: InvestigationModel
    officers: Officers

    @model_validator(mode="after")
    def _contact_after_birth(self) -> TraceRequestBody:
        last_contact = self.investigation.last_contact
        if last_contact < EARLIEST_DATE or last_contact < self.subject.date_of_birth:
            raise ValueError(f"investigation.last_contact must be from {EARLIEST_DATE}, not before the subject's birth")
        return self

    @model_validator(mode="after")
    def _category_fields(self) -> TraceRequestBody:
        if self.basis.category == 2 and (self.basis.offence or self.basis.serious_crime):
            raise ValueError("a welfare request (category 2) names no offence")
        return self

    def grounds(self) -> TraceGrounds:
        basis, investigation, officers = self.basis, self.investigation, self.officers
        return TraceGrounds(
            basis=Basis(
                category=Category(basis.category),
                offence=basis.offence,
                serious_crime=basis.serious_crime,
                welfare_description=basis.welfare_description,
            ),
            investigation=Investigation(
                reference=investigation.reference,
                last_contact=investigation.last_contact,
                channels_tried=tuple(investigation.channels_tried),
                no_known_explanation=investigation.no_known_explanation,
            ),
            requesting=Officer(officers.requesting.id, officers.requesting.grade),
            authorising=Officer(officers.authorising.id, officers.authorising.grade),
        )


class RefusalModel(BaseModel):
    code: str = Field(examples=["AUTHORISER_TOO_JUNIOR"])
    message: str


class LastKnownAddress(BaseModel):
    lines: list[str]
    town: str | None
    postcode: str | None


class GPPractice(BaseModel):
    code: str
    name: str
    address: str
    postcode: str


class Disclosure(BaseModel):
    """Everything a trace may disclose; nothing else ever leaves the service."""

    last_known_address: LastKnownAddress
    registration_date: dt.date | None = Field(description="when the person registered with their current GP practice")
    gp_practice: GPPractice


class TraceAnswer(BaseModel):
    trace_id: str = Field(description="this request's id in the audit register")
    status: Status
    policy_version: str | None = Field(description="the policy in force when the request arrived")
    register_sequence: int = Field(description="the sequence number of this request's audit register entry")
    refusals: list[RefusalModel] = Field(default_factory=list, description="when refused: every rule not met")
    disclosure: Disclosure | None = Field(None, description="only when traced")


class Problem(BaseModel):
    """RFC 9457 problem details. ``errors`` lists the fields at fault and why, never the values sent."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = None
    trace_id: str | None = None


class SummaryRowModel(BaseModel):
    month: str = Field(examples=["2026-11"])
    organisation: str = Field(description="the requesting organisation (for reviews: the reviewing one)")
    category: int | None = Field(description="1 immigration offence, 2 welfare; null if rejected before judgement")
    requests: int
    traced: int
    not_found: int
    ambiguous: int
    pending_review: int
    deceased: int = Field(description="certain matches to someone who has died, answered without an address")
    refused: int
    rejected: int = Field(description="malformed, wrong role, over the rate, or failed: never judged")
    probe_suspected: int = Field(
        description="held for review: one variant too many of an organisation's requests about one record (a "
        "suspected probe); answered pending_review"
    )
    reviewed: int
    rights_changed: int = Field(
        description="changes of who may do what: the organisation or its clients added, revoked, their role or rate "
        "changed (not requests)"
    )
    tampering_detected: int = Field(
        description="clients or organisations rows found edited outside the service, and refused (not requests)"
    )
    refused_by_reason: dict[str, int]


class RegisterSummary(BaseModel):
    start: dt.date | None = Field(alias="from")
    end: dt.date | None = Field(alias="to")
    rows: list[SummaryRowModel]

    model_config = ConfigDict(populate_by_name=True)


def _entry_model() -> type[BaseModel]:
    """The register entry as auditors read it, field by field from its one definition (``api.audit.entry``); a
    field added to the register later is optional, as entries written before it have none."""
    shapes = {
        f.name: (f.annotation, Field(None if f.later else ..., description=f.description)) for f in RECORD_FIELDS
    }
    return create_model("RegisterEntryModel", **shapes)


RegisterEntryModel = _entry_model()


class RegisterPage(BaseModel):
    entries: list[RegisterEntryModel]
    next_after: int | None = Field(description="pass as `after` for the next page; null at the end")


class PendingReview(BaseModel):
    trace_id: str
    state: str = Field(description="pending, or awaiting_second: approved once, waiting for a second approval")
    reason: str = Field(description="welfare, restricted, ambiguous, near_threshold or enumeration")
    organisation: str = Field(description="the requesting organisation")
    policy_version: str
    created_at: str


class ReviewQueue(BaseModel):
    pending: list[PendingReview]


class FirstApprovalModel(BaseModel):
    client_id: int = Field(description="the first approver (a reviewer or guardian client)")
    organisation: str = Field(description="the first approver's: the second approver must be of another")
    approved_at: str
    candidate: int | None = Field(description="the candidate the first approver named: a second names the same")
    reason: str = Field(description="the first approver's written reason (sealed with the case)")


class ComparisonAcrossModel(BaseModel):
    """One comparison across the candidates: levels only, never a value of the request or a record."""

    comparison: str = Field(examples=["date_of_birth"])
    levels: list[str] = Field(description="per candidate, in the case's order", examples=[["exact", "year_only"]])
    agreements: list[str] = Field(description="per candidate: exact, close, weak, none, or unknown (no value)")
    candidates_differ: bool = Field(description="whether the candidates' levels differ")
    exact_for: list[int] = Field(description="the candidates whose level agrees exactly with the request")
    summary: str = Field(examples=["date_of_birth: exact for candidate 0; candidate 1 year_only"])


class CandidateStandingModel(BaseModel):
    candidate: int
    match_weight: float
    meets_requirements: bool = Field(description="whether the core's decision requirements hold for it")
    weight_gap_to_next: float | None = Field(description="its weight less the next lower candidate's")
    differs_from_request: list[str] = Field(
        description="the comparisons where it does not agree exactly (a value missing on a side aside)"
    )


class DifferencesModel(BaseModel):
    """What tells the candidates apart, and warnings: made from the comparison levels only."""

    comparisons: list[ComparisonAcrossModel]
    candidates: list[CandidateStandingModel]
    disagreements: list[str] = Field(description="the comparisons where the candidates' levels differ")
    warnings: list[str] = Field(description="e.g. a candidate that does not meet the requirements")


class ReviewCase(BaseModel):
    """What a reviewer decides on: the request as sent, the policy it was judged under, per candidate the
    comparison levels behind its score, and what differs between the candidates. Never the candidate's record."""

    trace_id: str
    state: str = Field(description="pending, awaiting_second, approved or refused")
    reason: str
    organisation: str
    policy_version: str
    created_at: str
    decided_at: str | None = Field(description="the final decision's time (the second approval's, if one was needed)")
    decided_by: int | None = Field(None, description="the client of the final decision")
    request: dict
    candidates: list[dict]
    differences: DifferencesModel
    decided_by_role: str = Field(
        description="who decides: guardian for a welfare (category 2) request, else reviewer (or guardian)"
    )
    approvals_needed: dict[str, int] = Field(
        description="per candidate (as text), how many approvals releasing it needs: 1, or 2 (four eyes)"
    )
    first_approval: FirstApprovalModel | None = Field(None, description="once approved once, awaiting a second")
    candidate: int | None = Field(None, description="the candidate approved, once decided")
    decision_reason: str | None = Field(None, description="the final decision's written reason, once decided")
    policy_checks: list[RefusalModel] = Field(
        description="the request's grounds judged again under the policy in force now: empty if they pass"
    )
    policy_in_force: str


class ReviewDecision(BaseModel):
    model_config = _STRICT
    decision: Literal["approve", "refuse"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)] = Field(
        description="the reviewer's written reason (kept sealed with the case, never in the register)"
    )
    candidate: int | None = Field(
        None,
        ge=0,
        description="on approval: which candidate is the person (default 0); a second approval must name the "
        "first approval's candidate",
    )


class ReviewOutcome(BaseModel):
    trace_id: str
    state: str = Field(description="approved, refused, or awaiting_second (approved once: nothing released yet)")
    register_sequence: int
    refusals: list[RefusalModel] = Field(
        default_factory=list, description="if the policy in force now refuses what was approved: why"
    )
    warnings: list[str] = Field(
        default_factory=list, description="e.g. the candidate approved does not meet the decision's requirements"
    )


def trace_answer(answer: Answer) -> TraceAnswer:
    """The answer's shape, made once from the use case's answer by attribute (in pydantic-core: cheaper than
    ``model_construct``, which is Python). It cannot fail on what the use case made: the disclosure's fields were
    checked before its entry was written."""
    return TraceAnswer.model_validate(answer, from_attributes=True)
