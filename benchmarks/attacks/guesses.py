"""What an attack returns and how guesses are scored against the ground truth.

An attack guesses per record (row -> value or None) for some fields; it never sees the truth. Scoring is apart so
that no attack can peek: the truth is the population the index was built from, row for row, normalised as the
index normalises it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from matcher.contract.normalise import normalise_name, normalise_nhs_number, normalise_sex, parse_postcode

FIELDS = ("family", "given", "date_of_birth", "postcode", "nhs_number", "sex", "restricted")


@dataclass
class AttackResult:
    """Per field, an object array of guesses (None: no guess); ``found`` holds distinct values seen without a row
    (raw bytes); ``notes`` what the attack could or could not read."""

    attack: str
    guesses: dict[str, np.ndarray] = field(default_factory=dict)
    found: dict[str, set] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def guess(self, name: str, n: int) -> np.ndarray:
        """The guess column for a field, made on first use."""
        if name not in self.guesses:
            self.guesses[name] = np.full(n, None, dtype=object)
        return self.guesses[name]


@dataclass
class Truth:
    columns: dict[str, np.ndarray]  # field -> object array, normalised as the index normalises
    nhs_number: np.ndarray  # the NHS number text per row (linkage's ground truth)

    def __len__(self) -> int:
        return len(self.nhs_number)


def load_truth(path: Path | str) -> Truth:
    table = pq.read_table(
        path, columns=["nhs_number", "given_name", "family_name", "date_of_birth", "postcode", "sex", "restricted"]
    )
    dob = table.column("date_of_birth").to_pylist()
    columns = {
        "family": [normalise_name(v) for v in table.column("family_name").to_pylist()],
        "given": [normalise_name(v) for v in table.column("given_name").to_pylist()],
        "date_of_birth": [None if d is None else d.year * 10_000 + d.month * 100 + d.day for d in dob],
        "postcode": [(p.text if (p := parse_postcode(v)) else None) for v in table.column("postcode").to_pylist()],
        "nhs_number": [normalise_nhs_number(v) for v in table.column("nhs_number").to_pylist()],
        "sex": [normalise_sex(v) or None for v in table.column("sex").to_pylist()],
        "restricted": [bool(v) for v in table.column("restricted").fill_null(False).to_pylist()],
    }
    return Truth(
        {k: np.array(v, dtype=object) for k, v in columns.items()},
        np.array(table.column("nhs_number").to_pylist(), dtype=object),
    )


def aligned_to_index(truth: Truth, directory: Path | str, key: object) -> Truth:
    """The truth in the index's row order: an index shuffles its rows at build, so its row i is found by the
    person's NHS number token (the scorer holds the key; the attacks never see it)."""
    from matcher.index import Index
    from matcher.records.entities import nhs_number_tokens

    index = Index.load(directory, key)
    tokens = nhs_number_tokens(list(truth.columns["nhs_number"]), index.tokeniser)
    stored = index.records.nhs_number
    if len(np.unique(stored)) != len(stored):
        raise ValueError("records without a unique NHS number cannot be put in the index's order")
    order = np.argsort(tokens)
    at = order[np.minimum(np.searchsorted(tokens, stored, sorter=order), len(order) - 1)]
    if not (tokens[at] == stored).all():
        raise ValueError("the population is not the index's: some record's NHS number is not in it")
    return Truth({k: v[at] for k, v in truth.columns.items()}, truth.nhs_number[at])


@dataclass
class FieldScore:
    attack: str
    field: str
    recovered: int  # records whose guess is right
    wrong: int  # records with a wrong guess
    records: int
    distinct_recovered: int  # distinct true values the attacker holds (attached to a row, or seen anywhere)
    distinct: int

    @property
    def recovered_share(self) -> float:
        return self.recovered / max(self.records, 1)

    @property
    def distinct_share(self) -> float:
        return self.distinct_recovered / max(self.distinct, 1)


def score(result: AttackResult, truth: Truth) -> list[FieldScore]:
    out = []
    for name in FIELDS:
        guesses = result.guesses.get(name)
        found = result.found.get(name)
        if guesses is None and not found:
            continue
        true = truth.columns[name]
        distinct_true = {v for v in true if v is not None}
        if guesses is None:
            right = np.zeros(len(true), dtype=bool)
            wrong = 0
        else:
            right, wrong_mask = compare(guesses, true)
            wrong = int(wrong_mask.sum())
        held = {v for v in true[right]} | ((found or set()) & distinct_true)
        out.append(FieldScore(result.attack, name, int(right.sum()), wrong, len(true), len(held), len(distinct_true)))
    return out


def compare(guesses: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right, wrong) masks: a guess is right when made and equal to a known true value."""
    made = np.array([g is not None for g in guesses], dtype=bool)
    equal = np.array([g is not None and g == t for g, t in zip(guesses, true, strict=True)], dtype=bool)
    return equal, made & ~equal


def combine(results: list[AttackResult], n: int) -> AttackResult:
    """Every attack's guesses folded into one per field: the first attack (in the order given) that guesses a
    record wins, as an attacker ranks his methods by how much he trusts them, never by the truth."""
    out = AttackResult("combined")
    for result in results:
        for name, guesses in result.guesses.items():
            column = out.guess(name, n)
            empty = np.array([g is None for g in column], dtype=bool)
            column[empty] = guesses[empty]
        for name, values in result.found.items():
            out.found.setdefault(name, set()).update(values)
    return out
