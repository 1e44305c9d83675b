"""Blocking-key dictionary attack: dates of birth out of the blocking index, with the code's public functions.

A blocking key folds its components' values with ``combine`` (SplitMix64, unkeyed) under a public salt (1000 + the
rule's number). Names enter as stored tokens (``names.soundex`` and the like, per name position), but the date of
birth, its year and its month-and-day enter as raw integers. So for a record whose name tokens are stored, every
candidate year (a hundred-odd) and then every month and day (372) can be folded into a key and looked up: the key
that the index holds *for that record's row* is its date of birth. The index's 56-bit key prefixes (bucket +
residual) beside each row are all that is needed.

Once some dates are known, the per-record date tokens of format 4's encoded mode (``records.date_of_birth_tokens``:
year, month, day) are a dictionary too: a token seen with a recovered year is that year wherever it appears.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmarks.attacks.guesses import AttackResult
from benchmarks.attacks.views import View, array, records_count
from matcher.blocking.rules import DEFAULT_RULES
from matcher.protection.tokens import MISSING, combine, splitmix64

YEARS = np.arange(1890, 2031, dtype=np.uint64)
MONTH_DAYS = np.array([m * 100 + d for m in range(1, 13) for d in range(1, 32)], dtype=np.uint64)
_CHUNK = 1 << 21  # candidate keys hashed per step: bounds memory on large indexes


def _rule(components: tuple[str, ...]) -> int | None:
    """The salt of the default rule with these components (the attacker reads them from the code or manifest)."""
    for i, rule in enumerate(DEFAULT_RULES):
        if rule.components == components:
            return 1000 + i
    return None


def fold(salt: int, columns: Sequence[np.ndarray]) -> np.ndarray:
    """A blocking key as ``matcher.blocking.keys.rule_keys`` folds it: left to right, one column at a time."""
    key = combine(salt, [columns[0]])
    for column in columns[1:]:
        key = combine(salt, [key, column])
    return key


class KeyRowSet:
    """Which (key, row) pairs the stored blocking index holds, as sorted 64-bit hashes of (key prefix, row)."""

    def __init__(self, directory: np.ndarray, residuals: np.ndarray, rows: np.ndarray) -> None:
        self.bits = (len(directory) - 1).bit_length() - 1
        counts = np.diff(directory.astype(np.int64))
        bucket = np.repeat(np.arange(len(counts), dtype=np.uint64), counts)
        prefix = (bucket << np.uint64(32)) | residuals.astype(np.uint64)
        self.hashes = np.sort(self._hash(prefix, rows.astype(np.uint64)))

    @staticmethod
    def _hash(prefix: np.ndarray, rows: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return splitmix64(prefix ^ splitmix64(rows + np.uint64(0x5851F42D4C957F2D)))

    def contains(self, keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
        prefix = keys >> np.uint64(32 - self.bits)
        h = self._hash(prefix, rows.astype(np.uint64))
        at = np.minimum(np.searchsorted(self.hashes, h), len(self.hashes) - 1)
        return (self.hashes[at] == h) & (keys != MISSING)


def _search(
    held: KeyRowSet, rows: np.ndarray, fixed: list[np.ndarray], salt: int, candidates: np.ndarray, last: bool = True
) -> np.ndarray:
    """Per row, the candidate value whose key (fixed per-row tokens, then the candidate; or the candidate first
    when not ``last``) the index holds for that row; -1 where none does."""
    out = np.full(len(rows), -1, dtype=np.int64)
    step = max(1, _CHUNK // len(candidates))
    for start in range(0, len(rows), step):
        part = slice(start, start + step)
        r = np.repeat(rows[part], len(candidates))
        value = np.tile(candidates, len(rows[part]))
        columns = [np.repeat(f[part], len(candidates)) for f in fixed]
        key = fold(salt, [*columns, value] if last else [value, *columns])
        hit = held.contains(key, r)
        which = np.flatnonzero(hit)
        out[start + which // len(candidates)] = value[which].astype(np.int64)
    return out


def blocking_dictionary(view: View) -> AttackResult:
    result = AttackResult("blocking_dictionary")
    n = records_count(view)
    parts = {k: array(view, k, ndim=1) for k in ("blocking.directory", "blocking.residuals", "blocking.rows")}
    names = {k: array(view, f"names.{k}", "u", 1) for k in ("soundex", "metaphone")}
    family, given = array(view, "records.family", "i", 1), array(view, "records.given", "i", 1)
    if n is None or any(v is None for v in (*parts.values(), *names.values(), family, given)):
        result.notes.append("skipped: blocking index or name tokens not readable")
        return result
    held = KeyRowSet(*parts.values())
    soundex, metaphone = names["soundex"], names["metaphone"]
    salts = {
        c: _rule(c)
        for c in [
            ("family_metaphone", "given_soundex", "year_of_birth"),
            ("family_soundex", "date_of_birth"),
            ("given_soundex", "date_of_birth"),
        ]
    }
    # Years: family Metaphone + given Soundex + year, for records with both names.
    year = np.full(n, -1, dtype=np.int64)
    both = np.flatnonzero((family >= 0) & (given >= 0))
    salt = salts[("family_metaphone", "given_soundex", "year_of_birth")]
    if salt is not None:
        year[both] = _search(held, both, [metaphone[family[both]], soundex[given[both]]], salt, YEARS)
    # Months and days, with the year known: Soundex of the family name (else the given name) + date of birth.
    dob = np.full(n, -1, dtype=np.int64)
    for name_rows, component in ((family, "family_soundex"), (given, "given_soundex")):
        salt = salts[(component, "date_of_birth")]
        rows = np.flatnonzero((year > 0) & (dob < 0) & (name_rows >= 0))
        if salt is None or not len(rows):
            continue
        tokens = soundex[name_rows[rows]]
        found = np.full(len(rows), -1, dtype=np.int64)
        for y in np.unique(year[rows]):
            at = np.flatnonzero(year[rows] == y)
            dates = MONTH_DAYS + np.uint64(y * 10_000)
            found[at] = _search(held, rows[at], [tokens[at]], salt, dates)
        dob[rows] = found
    recovered = dob > 0
    result.guess("date_of_birth", n)[recovered] = dob[recovered].tolist()
    result.notes.append(f"years for {int((year > 0).sum()):,} records, full dates for {int(recovered.sum()):,}")
    _date_token_dictionary(view, n, dob, result)
    return result


def _date_token_dictionary(view: View, n: int, dob: np.ndarray, result: AttackResult) -> None:
    """Encoded mode: year, month and day tokens learnt from the records already recovered, applied to the rest."""
    tokens = array(view, "records.date_of_birth_tokens", "u", 2)
    if tokens is None or tokens.shape != (n, 3):
        return
    known = dob > 0
    parts = [dob // 10_000, (dob // 100) % 100, dob % 100]
    decoded = np.full((n, 3), -1, dtype=np.int64)
    for j in range(3):
        learnt = dict(zip(tokens[known, j].tolist(), parts[j][known].tolist(), strict=True))
        decoded[:, j] = [learnt.get(t, -1) for t in tokens[:, j].tolist()]
    full = (decoded >= 0).all(axis=1) & ~known
    column = result.guess("date_of_birth", n)
    column[full] = (decoded[full, 0] * 10_000 + decoded[full, 1] * 100 + decoded[full, 2]).tolist()
    result.notes.append(f"date tokens decoded for {int(full.sum()):,} more records")
