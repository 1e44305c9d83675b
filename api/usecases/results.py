"""What a trace request is answered with: plain data, which the HTTP layer maps to its shapes by attribute.

The field names are those of the answer a requester receives (``api.http.models.TraceAnswer``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from api.audit.outcomes import Status
from api.policy.versions import Refusal
from matcher.disclosure import GP_PRACTICE_FIELDS


@dataclass(frozen=True, slots=True)
class Address:
    lines: tuple[str, ...]
    town: str | None
    postcode: str | None


@dataclass(frozen=True, slots=True)
class Practice:
    code: str
    name: str
    address: str
    postcode: str


@dataclass(frozen=True, slots=True)
class Disclosure:
    """Everything a trace may disclose; nothing else ever leaves the service."""

    last_known_address: Address
    registration_date: dt.date | None  # when the person registered with their current GP practice
    gp_practice: Practice

    @classmethod
    def from_payload(cls, payload: dict) -> Disclosure:
        """The disclosure in a record's opened payload. Its fields are checked here, before the request's entry is
        written: once an entry says a disclosure was made, nothing may stop the answer that makes it."""
        lines = tuple(line for line in (payload["address_line_1"], payload["address_line_2"]) if line)
        town, postcode, registered = payload["town"], payload["postcode"], payload["registration_date"]
        practice = [payload[name] for name in GP_PRACTICE_FIELDS]
        if not (
            all(isinstance(value, str) for value in (*lines, *practice))
            and all(value is None or isinstance(value, str) for value in (town, postcode))
            and (registered is None or isinstance(registered, dt.date))
        ):
            raise ValueError("a disclosure's fields are text, and its registration date a date")
        return cls(Address(lines, town, postcode), registered, Practice(*practice))

    def to_json(self) -> dict:
        """As a held request keeps it, sealed, until the requester collects it."""
        address, practice = self.last_known_address, self.gp_practice
        return {
            "last_known_address": {"lines": list(address.lines), "town": address.town, "postcode": address.postcode},
            "registration_date": None if self.registration_date is None else self.registration_date.isoformat(),
            "gp_practice": {
                "code": practice.code,
                "name": practice.name,
                "address": practice.address,
                "postcode": practice.postcode,
            },
        }

    @classmethod
    def from_json(cls, value: dict) -> Disclosure:
        address, practice, registered = value["last_known_address"], value["gp_practice"], value["registration_date"]
        return cls(
            Address(tuple(address["lines"]), address["town"], address["postcode"]),
            None if registered is None else dt.date.fromisoformat(registered),
            Practice(practice["code"], practice["name"], practice["address"], practice["postcode"]),
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to a trace request, or to a requester's look at a held one."""

    trace_id: str
    status: Status
    policy_version: str | None  # the policy the request was judged under, if it was judged now
    register_sequence: int  # the entry that records this answer
    refusals: tuple[Refusal, ...] = ()
    disclosure: Disclosure | None = None  # only when traced

    def to_json(self) -> dict:
        """As a request id keeps it, sealed, for a retry (``api.access.retries``)."""
        return {
            "trace_id": self.trace_id,
            "status": self.status.value,
            "policy_version": self.policy_version,
            "register_sequence": self.register_sequence,
            "refusals": [{"code": r.code, "message": r.message} for r in self.refusals],
            "disclosure": None if self.disclosure is None else self.disclosure.to_json(),
        }

    @classmethod
    def from_json(cls, value: dict) -> Answer:
        disclosure = value["disclosure"]
        return cls(
            value["trace_id"],
            Status(value["status"]),
            value["policy_version"],
            value["register_sequence"],
            tuple(Refusal(r["code"], r["message"]) for r in value["refusals"]),
            None if disclosure is None else Disclosure.from_json(disclosure),
        )
