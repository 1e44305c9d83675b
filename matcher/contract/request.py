"""A trace request as the tracer receives it: one person to find."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

REQUEST_FIELDS = (
    "given_name",
    "other_given_names",
    "family_name",
    "date_of_birth",
    "sex",
    "postcode",
    "address_line_1",
    "town",
    "nhs_number",
)
"""What a request may say about the person (the columns of REQUEST_SCHEMA but its id)."""


@dataclass(frozen=True)
class TraceRequest:
    """One person to find. Family name and date of birth are required; everything else may be None."""

    family_name: str
    date_of_birth: str
    given_name: str | None = None
    other_given_names: str | None = None
    sex: str | None = None
    postcode: str | None = None
    address_line_1: str | None = None
    town: str | None = None
    nhs_number: str | None = None
    request_id: str | None = None


Requests = Sequence[TraceRequest | dict] | pa.Table
"""Requests as objects, as dicts with the same keys, or as a table of REQUEST_SCHEMA's columns."""
