"""A traceable index from a population file: the index, its model estimated from unlabelled requests, saved.

What ``python -m matcher build`` does, for any caller (``python -m api demo`` too), saying how long each step took.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from matcher.comparison.library import DEFAULT_COMPARISONS, comparisons_named, derived_columns_named
from matcher.contract.generator import NoGeneratorError, installed_generator
from matcher.estimation import FellegiSunterEstimator
from matcher.index import Index
from matcher.index.households import RELATION_COLUMNS, count_relations
from matcher.protection.keys import KeyConfigurationError, load_master_key
from matcher.protection.payload import TamperedPayloadError

BUILD_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    ValueError,
    KeyConfigurationError,
    TamperedPayloadError,
    NoGeneratorError,
)
"""What building (or loading) an index raises for its user to mend: a missing file or key, a bad value, no
generator. A command prints it and exits 2; anything else is a bug, and keeps its traceback."""


def build_index(
    population: Path,
    out: Path,
    training_requests: pa.Table | None = None,
    encoded: bool = False,
    comparisons: Sequence[str] = DEFAULT_COMPARISONS,
    report: Callable[[str], None] = print,
    households: bool = True,
) -> Index:
    """Index ``population`` under the deployment's key for the library's ``comparisons`` (by name: with the
    feature columns they read), fit their model on ``training_requests`` (by default the installed generator's
    unlabelled sample of that population), save to ``out``. A tracer of the saved index compares what it names.

    ``households=False`` declares a population whose records were drawn one at a time (FEBRL's): checked to have
    nobody sharing an address, its relatives' counts are kept with the model, and its tracers waive the
    protections against relatives it cannot hold (``matcher.decision.relations``). A ValueError if anyone does."""
    relations = None
    if not households:
        relations = count_relations(pq.read_table(population, columns=list(RELATION_COLUMNS)))
        if any(relations.counts.values()):
            raise ValueError(f"declared without households, but the population has relatives: {relations.counts}")
    start = time.perf_counter()
    features = derived_columns_named(comparisons)
    index = Index.build(population, load_master_key(), encoded=encoded, features=features)
    report(f"indexed {len(index):,} records in {time.perf_counter() - start:.1f} s")
    if training_requests is None:
        training_requests = installed_generator().training_requests(population)
    start = time.perf_counter()
    estimator = FellegiSunterEstimator(comparisons=comparisons_named(comparisons, index.tokeniser, index.encoded))
    model = estimator.fit(index, training_requests).model_
    report(
        f"trained on {training_requests.num_rows:,} unlabelled requests in {time.perf_counter() - start:.1f} s; "
        f"prior share in index {model.in_index:.3f}"
    )
    if relations is not None:
        report(f"no households: protections against relatives waived for {relations.records:,} records")
        model = replace(model, relations=dict(relations.counts))
    index = index.with_model(model)
    index.save(out)
    report(f"wrote {out}")
    return index
