from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from synthetic.population import DEFAULT_AS_OF


@pytest.fixture(scope="session")
def ages(population: pa.Table) -> np.ndarray:
    dob = population.column("date_of_birth").cast(pa.int32()).to_numpy()
    return ((DEFAULT_AS_OF - dt.date(1970, 1, 1)).days - dob) / 365.25
