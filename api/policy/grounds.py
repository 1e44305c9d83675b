"""What a trace request claims as its grounds: the legal basis, the investigation so far, the two officers.

The grades and offences are the policy's own lists: the HTTP models accept nothing outside them, so that a grade
or offence the policy does not know is a 422 naming what is accepted, and ``api.policy.versions`` judges the rest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum, StrEnum

GRADES = ("AA", "AO", "EO", "HEO", "SEO", "G7", "G6", "SCS")
"""Civil-service grades, most junior first."""

OFFENCES = {
    "s24(1)(a)": "entering the UK without leave or in breach of a deportation order (Immigration Act 1971 s.24(1)(a))",
    "s24(1)(b)(i)": "remaining beyond the time limited by leave (s.24(1)(b)(i))",
    "s24(1)(b)(ii)": "failing to observe a condition of leave (s.24(1)(b)(ii))",
    "s24(1)(c)": "remaining without leave beyond the time allowed by s.8(1) (s.24(1)(c))",
    "s24(1)(d)": "failing to comply with a requirement to report to a medical officer (s.24(1)(d))",
    "s24(1)(e)": "failing to observe restrictions on residence, reporting or employment (s.24(1)(e))",
    "s24(1)(f)": "disembarking in breach of a restriction (s.24(1)(f))",
    "s24(1)(g)": "embarking in breach of a restriction (s.24(1)(g))",
    "s24A(1)(a)": "obtaining or seeking leave to enter or remain by deception (s.24A(1)(a))",
    "s24A(1)(b)": "avoiding or delaying enforcement action by deception (s.24A(1)(b))",
}


class Category(IntEnum):
    IMMIGRATION_OFFENCE = 1
    WELFARE = 2


class SeriousCrime(StrEnum):
    """What the May 2018 threshold accepts for an immigration-offence trace."""

    CONVICTION_DEPORTATION_CONSIDERED = "conviction_deportation_considered"
    NON_CONDUCIVE_TO_PUBLIC_GOOD = "non_conducive_to_public_good"


@dataclass(frozen=True)
class Officer:
    id: str
    grade: str


@dataclass(frozen=True)
class Basis:
    category: Category
    offence: str | None = None  # category 1: a key of OFFENCES
    serious_crime: SeriousCrime | None = None  # category 1, when the policy requires it
    welfare_description: str | None = None  # category 2


@dataclass(frozen=True)
class Investigation:
    reference: str
    last_contact: dt.date
    channels_tried: tuple[str, ...]
    no_known_explanation: bool  # attested: no known reasonable explanation for the lost contact


@dataclass(frozen=True)
class TraceGrounds:
    """Everything about a request but its subject: what the policy judges."""

    basis: Basis
    investigation: Investigation
    requesting: Officer
    authorising: Officer
