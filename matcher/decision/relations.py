"""Relatives a requirement guards against, and whether an index's population can hold them at all.

Fellegi-Sunter's independence fails for relatives: a twin shares surname, birthday and address, so those outweigh
a different first name. The requirements that protect against such a relative (``Requirement.guards``) are needed
where the population has them. Only a population declared at build to have no households (``matcher build
--no-households``: FEBRL's records, drawn one at a time), checked to have nobody sharing an address, and large
enough for that absence to mean something, rules the relatives out; its index waives those requirements. The data
alone cannot say so: a sample of a population with households, or one whose twins were held out, looks the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Relation(StrEnum):
    HOUSEMATE = "housemate"  # another record at the same address (first line and postcode)
    TWIN = "twin"  # another record with the same family name, address and date of birth
    SAME_NAME_HOUSEMATE = "same_name_housemate"  # the same given and family name at the same address


@dataclass(frozen=True)
class RelationCounts:
    """Per relation, how many of a population's records have such a relative in it; ``records``: how many there
    are. Built at index build (``matcher.index.households.count_relations``) and kept with the model."""

    records: int
    counts: Mapping[str, int]

    # Below this many records an absence says nothing: a UK population of 2,000 holds about five pairs of twins
    # (0.24 pairs a hundred people), and none at all one time in 150.
    MIN_RECORDS_TO_RULE_OUT = 2_000

    def rules_out(self, relation: Relation) -> bool:
        """True when the population is large enough and holds no record with this relative."""
        count = self.counts.get(relation.value)
        return count == 0 and self.records >= self.MIN_RECORDS_TO_RULE_OUT

    def ruled_out(self) -> frozenset[Relation]:
        """The relatives ruled out, only where nobody shares an address at all: twins and same-named housemates
        are housemates, and a population with housemates but no twins has lost them (a twin held out, a sample),
        not never had them."""
        if not self.rules_out(Relation.HOUSEMATE):
            return frozenset()
        return frozenset(r for r in Relation if self.rules_out(r))
