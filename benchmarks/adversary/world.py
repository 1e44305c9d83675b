"""The attacker's world: a synthetic population, its index built and trained as the service builds it, and the
people to attack (what the attacker knows of each, what the index holds of them).

Built with the project's own generator and ``matcher.build.build_index`` (what ``python -m api demo`` runs), cached
under ``out/adversary/pop{N}-seed{S}/``: a second run reuses the population and the index.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from matcher.comparison.library import DEFAULT_COMPARISONS, comparisons_named, derived_columns_named
from matcher.contract.generator import installed_generator
from matcher.estimation import FellegiSunterEstimator
from matcher.index import FORMAT_VERSION, Index
from matcher.index.households import shares_a_restricted_address
from matcher.protection.keys import MasterKey
from matcher.tracer import Tracer
from synthetic.population import write_population

CACHE = Path("out/adversary")
ADULT_YEARS = 16  # the generator's requests are about people of 16 or over; so are the attacker's


@dataclass(frozen=True)
class Person:
    """A population row as the attacker's targets and the truth it is judged by."""

    nhs_number: str
    given_name: str
    other_given_names: str | None
    family_name: str
    sex: str | None
    date_of_birth: dt.date
    postcode: str
    address_line_1: str

    @classmethod
    def of(cls, row: dict) -> Person:
        return cls(
            row["nhs_number"], row["given_name"], row["other_given_names"], row["family_name"],
            row["sex"] if row["sex"] in ("female", "male") else None, row["date_of_birth"], row["postcode"],
            row["address_line_1"],
        )


@dataclass(frozen=True)
class World:
    population_path: Path
    population: pa.Table
    tracer: Tracer
    key: MasterKey

    def group(self, name: str, count: int, seed: int) -> list[Person]:
        """``count`` people of a group, drawn at random (``seed``): ordinary, restricted, housemate, deceased."""
        rows = np.flatnonzero(_groups(self.population)[name])
        rng = np.random.default_rng([seed, len(name)])
        chosen = rng.choice(rows, size=min(count, len(rows)), replace=False)
        return [Person.of(r) for r in self.population.take(pa.array(np.sort(chosen))).to_pylist()]


def _groups(population: pa.Table) -> dict[str, np.ndarray]:
    as_of = _as_of(population)
    restricted = population.column("restricted").fill_null(False).to_numpy(zero_copy_only=False)
    dead = population.column("date_of_death").is_valid().to_numpy(zero_copy_only=False)
    born = population.column("date_of_birth").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    adult = born <= np.datetime64(as_of.replace(year=as_of.year - ADULT_YEARS))
    has_sex = pc.is_in(population.column("sex"), pa.array(["female", "male"])).to_numpy(zero_copy_only=False)
    housemate = shares_a_restricted_address(population) & ~restricted
    alive = ~dead & adult & has_sex
    return {
        "ordinary": alive & ~restricted & ~housemate,
        "restricted": alive & restricted,
        "housemate": alive & housemate,
        "deceased": dead & adult & has_sex & ~restricted & ~housemate,
    }


def _as_of(population: pa.Table) -> dt.date:
    value = (population.schema.metadata or {}).get(b"as_of")
    return dt.date.fromisoformat(value.decode()) if value else dt.date(2026, 1, 1)


def _current(index_dir: Path) -> bool:
    """Whether a cached index is there in the format this code reads (an older one is built again)."""
    manifest = index_dir / "manifest.json"
    return manifest.exists() and json.loads(manifest.read_text()).get("format_version") == FORMAT_VERSION


def build_world(records: int, key: MasterKey, seed: int = 7, cache: Path = CACHE) -> World:
    """The population and its trained index, from the cache if they are there (built under ``key``, as
    ``matcher.build.build_index`` builds one: the installed generator's training requests)."""
    folder = cache / f"pop{records}-seed{seed}-{key.key_id}"
    population_path, index_dir = folder / "population.parquet", folder / "index"
    if not population_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_population(population_path, records, seed=seed)
    if not _current(index_dir):
        shutil.rmtree(index_dir, ignore_errors=True)
        index = Index.build(pq.read_table(population_path), key, features=derived_columns_named(DEFAULT_COMPARISONS))
        training = installed_generator().training_requests(population_path)
        estimator = FellegiSunterEstimator(comparisons=comparisons_named(DEFAULT_COMPARISONS, index.tokeniser, False))
        index.with_model(estimator.fit(index, training).model_).save(index_dir)
    tracer = Tracer(Index.load(index_dir, key).warm())
    return World(population_path, pq.read_table(population_path), tracer, key)
