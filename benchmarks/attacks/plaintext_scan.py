"""Plaintext scan: values in clear, wherever they are. The first thing a thief tries, and the check that nothing
personal is written as text or as a date array.

Per record, a value counts when it is attached to the record: a per-record column holding it at the record's row,
or a column of distinct values the record points to by position. In raw bytes a value counts as present (a
distinct value found) without a row. Name runs in raw bytes are taken only from five letters up, so that random
ciphertext bytes do not read as short names.
"""

from __future__ import annotations

import re

import numpy as np

from benchmarks.attacks.guesses import AttackResult
from benchmarks.attacks.views import View, array, raw_files, records_count, strings

_NAME = re.compile(rb"(?<![A-Z])[A-Z][A-Z-]{3,}[A-Z](?![A-Z])")
_ISO_DATE = re.compile(rb"(?<!\d)(1[89]\d\d|20[0-3]\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\d)")
_DIGITS_DATE = re.compile(rb"(?<!\d)(1[89]\d\d|20[0-3]\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")
_NHS = re.compile(rb"(?<!\d)\d{3} ?\d{3} ?\d{4}(?!\d)")
_POSTCODE = re.compile(rb"(?<![A-Z0-9])[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}(?![A-Z0-9])")
_DATE_RANGE = (18_000_101, 20_391_231)


def plaintext_scan(view: View) -> AttackResult:
    result = AttackResult("plaintext_scan")
    n = records_count(view)
    if n is None:
        result.notes.append("no per-record array readable")
    else:
        _name_columns(view, n, result)
        _date_arrays(view, n, result)
        _record_string_columns(view, n, result)
    _raw_bytes(view, result)
    return result


def _name_columns(view: View, n: int, result: AttackResult) -> None:
    """A list of distinct names (``names.value``) and the records' positions into it."""
    for column in [k for k, v in view.items() if isinstance(v, list) and not k.startswith("reference.")]:
        values = strings(view, column)
        if values is None or len(values) == n:
            continue
        table = np.array([*values, None], dtype=object)  # position -1: missing
        for field, positions in (("family", "records.family"), ("given", "records.given")):
            result.found.setdefault(field, set()).update(v for v in values if v)  # in clear, if attached to no row
            rows = array(view, positions, ndim=1)
            if rows is None or len(rows) != n or rows.astype(np.int64).max(initial=-1) >= len(values):
                continue
            result.guess(field, n)[:] = table[rows]
            result.notes.append(f"{field} names in clear: {column} at {positions}")


def _date_arrays(view: View, n: int, result: AttackResult) -> None:
    """Any per-record integer array whose values read as YYYYMMDD dates."""
    for name, value in view.items():
        values = array(view, name, ndim=1) if isinstance(value, np.ndarray) else None
        if values is None or len(values) != n or values.dtype.kind not in "iu":
            continue
        plausible = (values >= _DATE_RANGE[0]) & (values <= _DATE_RANGE[1])
        if plausible.mean() < 0.5:
            continue
        column = result.guess("date_of_birth", n)
        column[plausible] = values[plausible].astype(np.int64).tolist()
        result.notes.append(f"dates of birth as YYYYMMDD integers: {name}")


def _record_string_columns(view: View, n: int, result: AttackResult) -> None:
    """Per-record string columns, classified by what their values look like."""
    for name, value in view.items():
        if not isinstance(value, list) or len(value) != n or name.startswith("reference."):
            continue
        values = strings(view, name)
        if values is None:
            continue
        sample = [v for v in values[:1000] if v]
        if not sample:
            continue
        kind = _kind(sample)
        if kind is None:
            continue
        column = result.guess(kind, n)
        column[:] = np.array([_value(kind, v) for v in values], dtype=object)
        result.notes.append(f"{kind} in clear per record: {name}")


def _kind(sample: list[str]) -> str | None:
    joined = [s.encode() for s in sample]
    for kind, pattern in (("nhs_number", _NHS), ("postcode", _POSTCODE), ("date_of_birth", _ISO_DATE)):
        if sum(bool(pattern.fullmatch(s)) for s in joined) > 0.8 * len(joined):
            return kind
    return None


def _value(kind: str, text: str | None) -> object:
    if text is None:
        return None
    if kind == "date_of_birth":
        return int(text.replace("-", ""))
    return text.replace(" ", "") if kind == "nhs_number" else text


def _raw_bytes(view: View, result: AttackResult) -> None:
    """Distinct values present as text in any file's bytes, or in any bytes column (sealed payloads)."""
    blobs = list(raw_files(view).values())
    for value in view.values():
        if isinstance(value, list) and value and isinstance(value[0], bytes):
            blobs.append(b"\n".join(value))
    found: dict[str, set] = {k: set() for k in ("family", "given", "date_of_birth", "nhs_number", "postcode")}
    for blob in blobs:
        names = {m.decode() for m in _NAME.findall(blob)}
        found["family"] |= names
        found["given"] |= names
        for pattern in (_ISO_DATE, _DIGITS_DATE):
            found["date_of_birth"] |= {int(y + m + d) for y, m, d in pattern.findall(blob)}
        found["nhs_number"] |= {m.replace(b" ", b"").decode() for m in _NHS.findall(blob)}
        found["postcode"] |= {m.decode() for m in _POSTCODE.findall(blob)}
    for field, values in found.items():
        if values:
            result.found.setdefault(field, set()).update(values)
    result.notes.append(f"scanned {len(blobs)} byte blobs, {sum(map(len, blobs)):,} bytes")
