"""A traceable index from a population file: the index, its model estimated from unlabelled requests, saved.

What ``python -m matcher build`` does, for any caller (``python -m api demo`` too), saying how long each step took.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from matcher.contract.generator import installed_generator
from matcher.estimation import FellegiSunterEstimator
from matcher.index import Index
from matcher.protection.keys import load_master_key


def build_index(
    population: Path,
    out: Path,
    training_requests: pa.Table | None = None,
    encoded: bool = False,
    report: Callable[[str], None] = print,
) -> Index:
    """Index ``population`` under the deployment's key, fit its model on ``training_requests`` (by default the
    installed generator's unlabelled sample of that population), save to ``out``."""
    start = time.perf_counter()
    index = Index.build(pq.read_table(population), load_master_key(), encoded=encoded)
    report(f"indexed {len(index):,} records in {time.perf_counter() - start:.1f} s")
    if training_requests is None:
        training_requests = installed_generator().training_requests(population)
    training = training_requests
    start = time.perf_counter()
    model = FellegiSunterEstimator().fit(index, training).model_
    report(
        f"trained on {training.num_rows:,} unlabelled requests in {time.perf_counter() - start:.1f} s; "
        f"prior share in index {model.in_index:.3f}"
    )
    index = index.with_model(model)
    index.save(out)
    report(f"wrote {out}")
    return index
