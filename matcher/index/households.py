"""Households of restricted people: records that share a restricted person's address are withheld like theirs.

A restricted record's whereabouts must not be given out; a trace of someone living with them would give out the
same address. So a record whose current address (first line and postcode, normalised) is a restricted person's is
never disclosed automatically either: its trace is held, and a held restricted trace releases nothing.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from matcher.contract.normalise import normalise_text, parse_postcode


def shares_a_restricted_address(population: pa.Table) -> np.ndarray:
    """Per row: not restricted, but at the current address of someone who is."""
    restricted = population.column("restricted").fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    # Only rows in a restricted person's postcode can share their address: the rest is array work.
    squeezed = pc.utf8_upper(pc.replace_substring(population.column("postcode").combine_chunks(), " ", ""))
    nearby = pc.is_in(squeezed, value_set=squeezed.filter(pa.array(restricted))).fill_null(False)
    rows = np.flatnonzero(nearby.to_numpy(zero_copy_only=False))
    lines = population.column("address_line_1").take(pa.array(rows)).to_pylist()
    postcodes = population.column("postcode").take(pa.array(rows)).to_pylist()
    addresses = [_address(line, postcode) for line, postcode in zip(lines, postcodes, strict=True)]
    withheld = {a for a, row in zip(addresses, rows.tolist(), strict=True) if a and restricted[row]}
    shares = np.zeros(len(restricted), dtype=bool)
    shares[rows] = [a in withheld for a in addresses]
    return shares & ~restricted


def _address(line: str | None, postcode: str | None) -> tuple[str, str] | None:
    parsed = parse_postcode(postcode)
    text = normalise_text(line)
    return (text, parsed.text) if text and parsed else None
