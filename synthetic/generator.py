"""This generator as the tracing core asks for it (``matcher.contract.generator``), registered as an entry point."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from synthetic.population import write_population
from synthetic.profiles import PROFILES
from synthetic.requests import generate_requests, write_requests

NON_MEMBER_RATE = 0.3
TRAINING_REQUESTS = 20_000
TRAINING_SEED = 7_919  # a seed no evaluation set uses


class SyntheticGenerator:
    def write_population(self, path: Path, records: int, seed: int) -> None:
        write_population(path, records, seed=seed)

    def write_requests(self, population: Path, count: int, seed: int, requests: Path, truth: Path) -> None:
        request_set = generate_requests(population, count, PROFILES["typical"], NON_MEMBER_RATE, seed=seed)
        write_requests(request_set, requests, truth)

    def training_requests(self, population: Path) -> pa.Table:
        profile = PROFILES["typical"]
        return generate_requests(population, TRAINING_REQUESTS, profile, NON_MEMBER_RATE, seed=TRAINING_SEED).requests


GENERATOR = SyntheticGenerator()
