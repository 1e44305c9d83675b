"""Name frequency tables: surnames with real UK frequencies, given names by sex and birth decade."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa

# Share of births taking one of the decade's 30 top names (ONS: names grew more diverse over time).
_TOP30_SHARE = {
    1914: 0.62,
    1924: 0.60,
    1934: 0.58,
    1944: 0.55,
    1954: 0.50,
    1964: 0.46,
    1974: 0.42,
    1984: 0.38,
    1994: 0.34,
    2004: 0.30,
    2014: 0.27,
    2024: 0.25,
}
# Order in which the given-name tail is drawn on (weighted shuffle by origin).
_POOL_GROUP_WEIGHT = {
    "british_irish": 6.0,
    "american": 3.0,
    "south_asian": 2.0,
    "european": 1.0,
    "african": 1.0,
    "other": 0.5,
}
_POOL_SEED = 1904


def _read_csv(name: str) -> list[dict[str, str]]:
    with resources.files("synthetic.reference").joinpath(name).open(newline="") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class GivenNameDistribution:
    """Indices into ``NameTables.given_names`` and their probabilities for one sex and birth decade."""

    indices: np.ndarray
    probabilities: np.ndarray


@dataclass(frozen=True)
class NameTables:
    surnames: pa.StringArray
    surname_probabilities: np.ndarray
    given_names: pa.StringArray
    # (anchor_year, "male" | "female") -> distribution; anchor years end in 4 (1914 ... 2024).
    given_by_decade: dict[tuple[int, str], GivenNameDistribution]

    @property
    def anchor_years(self) -> np.ndarray:
        return np.array(sorted({year for year, _ in self.given_by_decade}), dtype=np.int32)

    def anchor_for_birth_years(self, years: np.ndarray) -> np.ndarray:
        anchors = self.anchor_years
        position = np.clip(np.searchsorted(anchors - 5, years, side="right") - 1, 0, len(anchors) - 1)
        return anchors[position]

    def sample_surnames(self, count: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(len(self.surnames), size=count, p=self.surname_probabilities)

    def sample_given(self, birth_years: np.ndarray, is_male: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Given-name indices for people of the given birth years and sexes."""
        anchors = self.anchor_for_birth_years(birth_years)
        out = np.empty(len(birth_years), dtype=np.int32)
        for (anchor, sex), dist in self.given_by_decade.items():
            mask = (anchors == anchor) & (is_male == (sex == "male"))
            n = int(mask.sum())
            if n:
                out[mask] = dist.indices[rng.choice(len(dist.indices), size=n, p=dist.probabilities)]
        return out


def power_law_tail(ranks: np.ndarray, anchor: int, anchor_weight: float, total: float) -> np.ndarray:
    """Weights ``anchor_weight * (anchor / rank) ** s`` continuing a ranked list, with s chosen to sum to ``total``."""
    low, high = 0.05, 4.0
    for _ in range(60):
        exponent = (low + high) / 2
        weights = anchor_weight * (anchor / ranks) ** exponent
        low, high = (exponent, high) if weights.sum() > total else (low, exponent)
    return weights * (total / weights.sum())


def _zipf(count: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1, dtype=float) ** exponent
    return weights / weights.sum()


@cache
def load_name_tables() -> NameTables:
    surname_rows = _read_csv("surnames.csv")
    surnames = pa.array([r["family_name"] for r in surname_rows], pa.string())
    weights = np.array([float(r["percent"]) for r in surname_rows])

    decade_rows = _read_csv("given_names_by_decade.csv")
    pool_rows = _read_csv("given_name_pool.csv")
    vocabulary: dict[str, int] = {}
    for name in [r["given_name"] for r in decade_rows] + [r["given_name"] for r in pool_rows]:
        vocabulary.setdefault(name, len(vocabulary))

    rng = np.random.default_rng(_POOL_SEED)
    tail_order: dict[str, np.ndarray] = {}
    for sex in ("male", "female"):
        rows = [r for r in pool_rows if r["sex"] == sex]
        keys = rng.random(len(rows)) ** (1.0 / np.array([_POOL_GROUP_WEIGHT[r["source"]] for r in rows]))
        tail_order[sex] = np.array([vocabulary[rows[i]["given_name"]] for i in np.argsort(-keys)])

    tops = {(int(r["anchor_year"]), r["sex"]): [] for r in decade_rows}
    for r in decade_rows:
        tops[(int(r["anchor_year"]), r["sex"])].append(vocabulary[r["given_name"]])
    by_decade: dict[tuple[int, str], GivenNameDistribution] = {}
    for anchor, top_share in _TOP30_SHARE.items():
        for sex in ("male", "female"):
            top = tops[(anchor, sex)]
            # Names popular in nearby decades come next, then the wider pool of names.
            nearby = [i for other in sorted(_TOP30_SHARE, key=lambda a: abs(a - anchor)) for i in tops[(other, sex)]]
            order = list(dict.fromkeys(top + nearby + tail_order[sex].tolist()))
            top_weights = top_share * _zipf(len(top), 0.7)
            ranks = np.arange(len(top) + 1, len(order) + 1, dtype=float)
            tail_weights = power_law_tail(ranks, len(top), top_weights[-1], 1 - top_share)
            probabilities = np.concatenate([top_weights, tail_weights])
            by_decade[(anchor, sex)] = GivenNameDistribution(
                np.array(order, dtype=np.int32), probabilities / probabilities.sum()
            )

    return NameTables(
        surnames=surnames,
        surname_probabilities=weights / weights.sum(),
        given_names=pa.array(list(vocabulary), pa.string()),
        given_by_decade=by_decade,
    )
