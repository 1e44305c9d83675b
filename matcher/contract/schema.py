"""The tracing core's input contract: Arrow schemas of the population extract an index is built from, of trace
request files, and of the truth an evaluation reads. The synthetic generator writes them; any other data must match.

Columns may be added; the ones here are never renamed or retyped.
"""

from __future__ import annotations

import pyarrow as pa

PREVIOUS_ADDRESS = pa.struct(
    [
        ("address_line_1", pa.string()),
        ("town", pa.string()),
        ("postcode", pa.string()),
        ("moved_out", pa.date32()),
    ]
)

POPULATION_SCHEMA = pa.schema(
    [
        ("nhs_number", pa.string()),
        ("given_name", pa.string()),
        ("other_given_names", pa.string()),
        ("family_name", pa.string()),
        ("previous_family_names", pa.list_(pa.string())),
        ("sex", pa.string()),
        ("date_of_birth", pa.date32()),
        ("date_of_death", pa.date32()),
        ("address_line_1", pa.string()),
        ("address_line_2", pa.string()),
        ("town", pa.string()),
        ("postcode", pa.string()),
        ("previous_addresses", pa.list_(PREVIOUS_ADDRESS)),
        ("gp_practice_code", pa.string()),
        ("gp_practice_name", pa.string()),
        ("gp_practice_address", pa.string()),
        ("gp_practice_postcode", pa.string()),
        ("registration_date", pa.date32()),
        ("restricted", pa.bool_()),
    ]
)

REQUEST_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("given_name", pa.string()),
        ("other_given_names", pa.string()),
        ("family_name", pa.string()),
        ("sex", pa.string()),
        ("postcode", pa.string()),
        ("address_line_1", pa.string()),
        # Added in format 9: the town of that address (optional, as every field but the family name and date).
        ("town", pa.string()),
        ("nhs_number", pa.string()),
        # As typed by a caseworker: "YYYY-MM-DD", possibly an impossible date after corruption.
        ("date_of_birth", pa.string()),
    ]
)

TRUTH_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        # The true person; null when the person is not in the population.
        ("nhs_number", pa.string()),
        # "field:kind" for every corruption that actually changed a value.
        ("corruptions", pa.list_(pa.string())),
        # Extra, not part of the contract: how a non-member was made ("independent", "twin_like", ...).
        ("non_member_kind", pa.string()),
    ]
)

SEXES = ("male", "female", "other", "unknown")
