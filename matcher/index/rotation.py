"""Key rotation: an index re-keyed from the population it was built from."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from matcher.comparison.library import DEFAULT_COMPARISONS, derived_columns_named
from matcher.contract.normalise import normalise_nhs_number
from matcher.index.index import Index
from matcher.protection.keys import MasterKey
from matcher.records.entities import FeatureBuilder, nhs_number_tokens


def rotate_index(
    index: Index, population: pa.Table, new_key: MasterKey, features: Sequence[FeatureBuilder] | None = None
) -> Index:
    """The index re-keyed: every token recomputed from ``population`` (keyed hashes cannot be re-keyed from
    themselves, which is their point) and every payload sealed again, under ``new_key``; the model is kept, as it
    does not depend on the key. Refuses a population other than the one the index was built from. ``features``:
    the derived feature columns to build again; by default those its model's comparisons read."""
    if features is None:
        # An index without a model yet: the columns it was built with, those of the default comparisons.
        names = [parameters.name for parameters in index.model.comparisons] if index.model else DEFAULT_COMPARISONS
        features = derived_columns_named(names)
    lost = sorted(set(index.records.features) - {feature.name for feature in features})
    if lost:
        raise ValueError(f"the index has the derived feature columns {lost}: give the columns that build them")
    if population.num_rows != len(index):
        raise ValueError(f"the population has {population.num_rows:,} records, the index {len(index):,}")
    nhs = nhs_number_tokens(
        [normalise_nhs_number(v) for v in population.column("nhs_number").to_pylist()], index.tokeniser
    )
    # Rows are shuffled at build: the same people, in whatever order.
    if not np.array_equal(np.sort(nhs), np.sort(index.records.nhs_number)):
        raise ValueError("this population is not the one the index was built from (NHS numbers differ)")
    rotated = Index.build(population, new_key, index.rules, encoded=index.encoded, features=features)
    return rotated.with_model(index.model) if index.model is not None else rotated
