"""Whether a trace request may be answered, under the policy version in force on the day it arrives.

Policies are data (``api/policy/policies/*.json``): an effective date, minimum officer grades, the minimum time
since the Home Office last had contact, the offences that qualify, and whether the serious-crime threshold of May
2018 applies. ``PolicyBook.in_force(day)`` picks the version; ``PolicyVersion.check`` returns every failed rule as a
stable refusal code with a plain message. A refused request is never matched against the index (the API's job).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from api.policy.grounds import GRADES, OFFENCES, Basis, Category, TraceGrounds

DECEASED_ANSWERS = ("deceased", "not_found")


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


@dataclass(frozen=True)
class PolicyDecision:
    version: str
    refusals: tuple[Refusal, ...]
    requires_review: bool  # a welfare concern goes to a clinician (the Caldicott Guardian) before any disclosure

    @property
    def allowed(self) -> bool:
        return not self.refusals


@dataclass(frozen=True)
class PolicyVersion:
    version: str
    title: str
    effective_from: dt.date
    minimum_requester_grade: str
    minimum_authoriser_grade: str
    minimum_days_since_last_contact: int
    minimum_channels_tried: int
    eligible_offences: tuple[str, ...]
    serious_crime_required: bool
    welfare_requires_clinician_review: bool
    # Review routes besides welfare (restricted records are always held: never configurable). A reviewer sees
    # ambiguous matches, and non-matches whose best candidate's probability reaches this floor.
    review_ambiguous: bool = True
    review_near_threshold: float | None = 0.9
    # Days after a review's decision that its disclosure and the subject's details are kept; the entries stay.
    retention_days: int = 30
    # What a certain match to someone who has died answers: "deceased" (that status, nothing disclosed) or
    # "not_found". Never their last address, as if they lived there.
    deceased_answer: str = "deceased"

    def __post_init__(self) -> None:
        if self.deceased_answer not in DECEASED_ANSWERS:
            raise ValueError(f"policy {self.version}: deceased_answer must be one of {DECEASED_ANSWERS}")

    @classmethod
    def from_json(cls, text: str) -> PolicyVersion:
        raw = json.loads(text)
        for grade in (raw["minimum_requester_grade"], raw["minimum_authoriser_grade"]):
            if grade not in GRADES:
                raise ValueError(f"policy {raw['version']}: unknown grade {grade!r}")
        floor = raw.get("review_near_threshold")
        if floor is not None and not 0.0 < floor < 1.0:
            raise ValueError(f"policy {raw['version']}: review_near_threshold must be between 0 and 1")
        unknown = set(raw["eligible_offences"]) - set(OFFENCES)
        if unknown:
            raise ValueError(f"policy {raw['version']}: unknown offences {sorted(unknown)}")
        return cls(
            **{
                **raw,
                "effective_from": dt.date.fromisoformat(raw["effective_from"]),
                "eligible_offences": tuple(raw["eligible_offences"]),
            }
        )

    def check(self, grounds: TraceGrounds, today: dt.date) -> PolicyDecision:
        refusals = [*self._officers(grounds), *self._basis(grounds.basis), *self._investigation(grounds, today)]
        review = grounds.basis.category is Category.WELFARE and self.welfare_requires_clinician_review
        return PolicyDecision(self.version, tuple(refusals), requires_review=review)

    def _officers(self, grounds: TraceGrounds) -> list[Refusal]:
        out = []
        requesting, authorising = grounds.requesting, grounds.authorising
        if requesting.id.strip().casefold() == authorising.id.strip().casefold():
            out.append(Refusal("SAME_OFFICER", "the authorising officer must not be the requesting officer"))
        for officer, role, minimum in (
            (requesting, "requesting", self.minimum_requester_grade),
            (authorising, "authorising", self.minimum_authoriser_grade),
        ):
            if officer.grade not in GRADES:
                out.append(Refusal("UNKNOWN_GRADE", f"the {role} officer's grade is not one of {', '.join(GRADES)}"))
            elif GRADES.index(officer.grade) < GRADES.index(minimum):
                code = "REQUESTER_TOO_JUNIOR" if role == "requesting" else "AUTHORISER_TOO_JUNIOR"
                out.append(Refusal(code, f"the {role} officer must be {minimum} or more senior under {self.version}"))
        return out

    def _basis(self, basis: Basis) -> list[Refusal]:
        if basis.category is Category.WELFARE:
            if not (basis.welfare_description or "").strip():
                return [Refusal("WELFARE_DESCRIPTION_MISSING", "a welfare request must describe the concern")]
            return []
        if not basis.offence:
            return [Refusal("OFFENCE_MISSING", "an immigration-offence request must name the offence")]
        out = []
        if basis.offence not in self.eligible_offences:
            out.append(Refusal("OFFENCE_NOT_ELIGIBLE", f"the offence does not qualify under {self.version}"))
        if self.serious_crime_required and basis.serious_crime is None:
            out.append(
                Refusal(
                    "SERIOUS_CRIME_NOT_SHOWN",
                    f"under {self.version} an immigration-offence trace needs a conviction for a serious criminal "
                    "offence with deportation under consideration, or presence non-conducive to the public good",
                )
            )
        return out

    def _investigation(self, grounds: TraceGrounds, today: dt.date) -> list[Refusal]:
        investigation = grounds.investigation
        out = []
        if not investigation.reference.strip():
            out.append(Refusal("REFERENCE_MISSING", "the Home Office reference is required"))
        if investigation.last_contact > today:
            out.append(Refusal("LAST_CONTACT_IN_FUTURE", "the date of last contact is after today"))
        elif (today - investigation.last_contact).days < self.minimum_days_since_last_contact:
            out.append(
                Refusal(
                    "INVESTIGATION_TOO_RECENT",
                    f"contact must have been lost for at least {self.minimum_days_since_last_contact} days",
                )
            )
        tried = [c for c in investigation.channels_tried if c.strip()]
        if len(tried) < self.minimum_channels_tried:
            out.append(Refusal("NO_CHANNELS_TRIED", "the other channels already tried must be listed"))
        if not investigation.no_known_explanation:
            out.append(
                Refusal(
                    "NO_ATTESTATION", "the requester must attest there is no known explanation for the lost contact"
                )
            )
        return out


class NoPolicyInForce(LookupError):
    pass


@dataclass(frozen=True)
class PolicyBook:
    versions: tuple[PolicyVersion, ...]  # by effective date

    @classmethod
    def load(cls, directory: Path | None = None) -> PolicyBook:
        """The policies shipped in api/policy/policies, or those in ``directory``."""
        files = (
            sorted(Path(directory).glob("*.json"))
            if directory
            else sorted(
                (f for f in resources.files("api.policy").joinpath("policies").iterdir() if f.name.endswith(".json")),
                key=lambda f: f.name,
            )
        )
        versions = sorted((PolicyVersion.from_json(f.read_text()) for f in files), key=lambda v: v.effective_from)
        if len({v.effective_from for v in versions}) != len(versions):
            raise ValueError("two policy versions take effect on the same day")
        return cls(tuple(versions))

    def in_force(self, day: dt.date) -> PolicyVersion:
        current = [v for v in self.versions if v.effective_from <= day]
        if not current:
            raise NoPolicyInForce(f"no policy was in force on {day.isoformat()}")
        return current[-1]
