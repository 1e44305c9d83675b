"""A trace request as the use cases take it: whom it is about, on what grounds, and the request as it was sent.

The HTTP layer reads a body into this (a ``RequestFormat``: ``api.http.formats``), so that nothing here depends on
the wire format. The request as sent is kept, sealed, with a held case, and read back through the same format when
its grounds are judged again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from api.policy.grounds import TraceGrounds
from matcher.contract.request import TraceRequest


@dataclass(frozen=True, slots=True)
class Subject:
    """The person to trace, as the requester knows them."""

    family_name: str
    date_of_birth: dt.date
    given_name: str | None = None
    other_given_names: str | None = None
    sex: str | None = None
    postcode: str | None = None
    address: str | None = None  # the first line of the last address the requester knows
    town: str | None = None  # that address's town

    def trace_request(self) -> TraceRequest:
        """What the tracing core matches."""
        return TraceRequest(
            family_name=self.family_name,
            date_of_birth=self.date_of_birth.isoformat(),
            given_name=self.given_name,
            other_given_names=self.other_given_names,
            sex=self.sex,
            postcode=self.postcode,
            address_line_1=self.address,
            town=self.town,
        )


@dataclass(frozen=True, slots=True)
class TraceApplication:
    subject: Subject
    grounds: TraceGrounds
    as_sent: Callable[[], dict]  # the request as received, as JSON: what a reviewer of a held request reads


class RequestFormat(Protocol):
    """How trace requests are read (the service is given one at wiring)."""

    def parse(self, body: bytes) -> TraceApplication:
        """The request in ``body``; Denied (422, the fields at fault) if it is not one."""
        ...

    def read(self, request: dict) -> TraceApplication:
        """A held request as it was sent (``TraceApplication.as_sent``)."""
        ...
