"""Ages as the UK has them: the mid-2022 age pyramid (ONS) by single year, and draws from it."""

from __future__ import annotations

import numpy as np

DAYS_PER_YEAR = 365.25

# UK population mid-2022 (ONS), thousands, by five-year band 0-4 ... 85-89, then 90+.
UK_AGE_BANDS_THOUSANDS = (
    3860,
    4090,
    4170,
    4000,
    4150,
    4440,
    4620,
    4510,
    4330,
    4210,
    4650,
    4620,
    4140,
    3540,
    3360,
    2650,
    1800,
    1080,
    600,
)
MAX_AGE = 105


def single_year_age_weights() -> np.ndarray:
    weights = np.zeros(MAX_AGE + 1)
    for band, thousands in enumerate(UK_AGE_BANDS_THOUSANDS[:-1]):
        weights[band * 5 : band * 5 + 5] = thousands / 5
    tail = 0.78 ** np.arange(MAX_AGE - 89)
    weights[90:] = UK_AGE_BANDS_THOUSANDS[-1] * tail / tail.sum()
    return weights / weights.sum()


AGE_WEIGHTS = single_year_age_weights()


def birth_years(date_of_birth: np.ndarray) -> np.ndarray:
    """Calendar year of each date given as days since 1970-01-01 (floor, so dates before 1970 are right)."""
    return np.asarray(date_of_birth, dtype="datetime64[D]").astype("datetime64[Y]").astype(int) + 1970


def sample_ages(count: int, rng: np.random.Generator, low: int = 0, high: int = MAX_AGE) -> np.ndarray:
    weights = AGE_WEIGHTS[low : high + 1]
    return low + rng.choice(len(weights), size=count, p=weights / weights.sum())
