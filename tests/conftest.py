from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthetic.population import DEFAULT_AS_OF, write_population
from synthetic.profiles import PROFILES
from synthetic.requests import RequestSet, generate_requests

SAMPLE_SIZE = 200_000


@pytest.fixture(scope="session", autouse=True)
def master_key():
    """A key made for this test session, in the environment so that CLI subprocesses find it; the developer's
    own key file is never read."""
    from matcher.keys import KEY_ENVIRONMENT_VARIABLE, MasterKey

    key = MasterKey.generate()
    saved = os.environ.get(KEY_ENVIRONMENT_VARIABLE)
    os.environ[KEY_ENVIRONMENT_VARIABLE] = key.text()
    yield key
    if saved is None:
        del os.environ[KEY_ENVIRONMENT_VARIABLE]
    else:
        os.environ[KEY_ENVIRONMENT_VARIABLE] = saved


@pytest.fixture(scope="session")
def population_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("population") / "population.parquet"
    write_population(path, SAMPLE_SIZE, seed=11)
    return path


@pytest.fixture(scope="session")
def population(population_path: Path) -> pa.Table:
    return pq.read_table(population_path)


@pytest.fixture(scope="session")
def ages(population: pa.Table) -> np.ndarray:
    dob = population.column("date_of_birth").cast(pa.int32()).to_numpy()
    return ((DEFAULT_AS_OF - dt.date(1970, 1, 1)).days - dob) / 365.25


@pytest.fixture(scope="session")
def request_sets(population_path: Path) -> dict[str, RequestSet]:
    return {
        name: generate_requests(population_path, 20_000, profile, 0.3, seed=5) for name, profile in PROFILES.items()
    }


@pytest.fixture(scope="session")
def trained_index(population: pa.Table, population_path: Path, master_key):
    """The 200k sample indexed and trained on unlabelled requests of another seed than any test's."""
    from matcher.index import Index
    from matcher.training import fit_model

    index = Index.build(population, master_key)
    training = generate_requests(population_path, 10_000, PROFILES["typical"], 0.3, seed=99).requests
    return index.with_model(fit_model(index, training, u_pairs=500_000))


@pytest.fixture(scope="session")
def tracer(trained_index):
    from matcher.tracer import Tracer

    return Tracer(trained_index)


PUBLIC_REFERENCE_COLUMNS = {
    "locality",
    "town",
    "gp_practice_code",
    "gp_practice_name",
    "gp_practice_address",
    "gp_practice_postcode",
}


def index_files_but_public_lists(index_dir: Path) -> bytes:
    """Every file of a saved index but the public reference lists, whose columns are checked to be just those: a
    practice at "11 RICHMOND ROAD, LEEDS" contains a patient's "1 RICHMOND ROAD" without revealing it."""
    import pyarrow.ipc

    reference = pyarrow.ipc.open_file(index_dir / "reference.arrow").read_all()
    assert set(reference.column_names) == PUBLIC_REFERENCE_COLUMNS
    return b"".join(f.read_bytes() for f in sorted(index_dir.rglob("*")) if f.is_file() and f.name != "reference.arrow")
