"""What the core asks of a synthetic data generator, for its demo and for a default training sample.

The core never imports a generator: one registers itself under the entry point group ``tracing_service.generator``
(``synthetic`` does, in pyproject.toml), so ``matcher`` works, and is tested, on any data of its contract.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

import pyarrow as pa

ENTRY_POINT_GROUP = "tracing_service.generator"


class Generator(Protocol):
    def write_population(self, path: Path, records: int, seed: int) -> None:
        """A population extract of POPULATION_SCHEMA."""

    def write_requests(self, population: Path, count: int, seed: int, requests: Path, truth: Path) -> None:
        """Typical trace requests about that population (REQUEST_SCHEMA) and their truth (TRUTH_SCHEMA)."""

    def training_requests(self, population: Path) -> pa.Table:
        """Unlabelled requests to estimate a model from: the default when a build is given none."""


class NoGeneratorError(LookupError):
    """No generator is installed: the message says what to give instead."""


def installed_generator() -> Generator:
    """The generator installed beside the core; NoGeneratorError if there is none."""
    found = list(entry_points(group=ENTRY_POINT_GROUP))
    if not found:
        raise NoGeneratorError(
            f"no synthetic data generator is installed (entry point group {ENTRY_POINT_GROUP}): "
            "give --training-requests, or install the project with its synthetic package"
        )
    return found[0].load()
