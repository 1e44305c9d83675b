"""Disclosure: what a trace may give out about the person it found, and the rule no path around it skips.

A trace discloses the last known address, the GP registration date and the GP practice: never the NHS number, a
score or another candidate. The fields come from the record's sealed payload (``matcher.protection.payload``),
opened only for the record being disclosed. A restricted record's payload is never opened at all, nor that of
anyone at a restricted person's address (``matcher.index.households``), so nothing that leaves the core carries a
restricted person's details, whichever caller asks; nor that of someone who has died, whose last address is not
where they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from matcher.decision.decide import OUTCOMES, Outcome

if TYPE_CHECKING:
    from matcher.index import Index

DISCLOSURE_FIELDS = (
    "address_line_1",
    "address_line_2",
    "town",
    "postcode",
    "registration_date",
    "gp_practice_code",
    "gp_practice_name",
    "gp_practice_address",
    "gp_practice_postcode",
)
"""What a trace may disclose, by the names of the population's columns."""
GP_PRACTICE_FIELDS = DISCLOSURE_FIELDS[5:]
"""The GP practice's part of it: code, name, address, postcode."""


def disclose(index: Index, records: np.ndarray) -> list[dict | None]:
    """The disclosable fields of these index rows, each payload decrypted on its own; None for a record withheld
    (restricted, or in a restricted person's household) or of someone who has died, whose payload is not opened."""
    records = np.asarray(records, dtype=np.int64)
    withheld = index.standing_at(records) != OUTCOMES.index(Outcome.MATCHED)
    opened = iter(index.open_payloads(records[~withheld]))
    return [
        None if is_withheld else {f: v for f, v in next(opened).items() if f in DISCLOSURE_FIELDS}
        for is_withheld in withheld.tolist()
    ]
