"""A trace request as the tracer receives it, and its conversion to the normalised columnar form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import pyarrow as pa

from matcher.encoding import BloomEncoder
from matcher.entities import Entities
from matcher.tokens import Tokeniser

REQUEST_FIELDS = (
    "given_name",
    "other_given_names",
    "family_name",
    "date_of_birth",
    "sex",
    "postcode",
    "address_line_1",
    "nhs_number",
)


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
    nhs_number: str | None = None
    request_id: str | None = None


Requests = Sequence[TraceRequest | dict] | pa.Table


def to_entities(
    requests: Requests, tokeniser: Tokeniser, encoder: BloomEncoder | None = None
) -> tuple[Entities, list[str | None]]:
    """Normalised requests and their ids (None where a request has none); with an encoder (encoded mode), names
    are encoded at this boundary too."""
    if isinstance(requests, pa.Table):
        columns = {f: _column(requests, f) for f in (*REQUEST_FIELDS, "request_id")}
    else:
        rows = [asdict(r) if isinstance(r, TraceRequest) else r for r in requests]
        columns = {f: [row.get(f) for row in rows] for f in (*REQUEST_FIELDS, "request_id")}
    ids = columns.pop("request_id")
    columns.pop("address_line_1")
    return Entities.from_columns(tokeniser, **columns, encoder=encoder), ids


def _column(table: pa.Table, name: str) -> list:
    if name not in table.column_names:
        return [None] * table.num_rows
    return table.column(name).to_pylist()
