"""Households: records that share a restricted person's address are withheld like theirs; relatives counted.

A restricted record's whereabouts must not be given out; a trace of someone living with them would give out the
same address. So a record whose current address (first line and postcode, normalised) is a restricted person's is
never disclosed automatically either: its trace is held, and a held restricted trace releases nothing.

The relatives a population holds (twins, same-named housemates) say which protections its index needs
(``matcher.decision.relations``).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from matcher.contract.normalise import normalise_name, normalise_text, parse_postcode
from matcher.decision.relations import Relation, RelationCounts


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


RELATION_COLUMNS = ("given_name", "family_name", "date_of_birth", "address_line_1", "postcode")


def count_relations(population: pa.Table) -> RelationCounts:
    """How many records have a housemate (the address shared), a twin (family name, address and date of birth
    shared) or a same-named housemate (given and family name and address shared) in ``population``: what tells an
    index whose people live in households from one whose records were drawn one at a time."""
    family = [normalise_name(v) for v in population.column("family_name").to_pylist()]
    given = [normalise_name(v) for v in population.column("given_name").to_pylist()]
    born = population.column("date_of_birth").to_pylist()
    addresses = [
        _address(line, postcode)
        for line, postcode in zip(
            population.column("address_line_1").to_pylist(), population.column("postcode").to_pylist(), strict=True
        )
    ]
    keys = {
        Relation.HOUSEMATE: addresses,
        Relation.TWIN: [(f, a, b) if f and a and b else None for f, a, b in zip(family, addresses, born, strict=True)],
        Relation.SAME_NAME_HOUSEMATE: [
            (g, f, a) if g and f and a else None for g, f, a in zip(given, family, addresses, strict=True)
        ],
    }
    counts = {}
    for relation, values in keys.items():
        seen = Counter(v for v in values if v is not None)
        counts[relation.value] = sum(n for n in seen.values() if n > 1)
    return RelationCounts(records=population.num_rows, counts=counts)
