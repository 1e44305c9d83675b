"""The disclosure payload, sealed record by record.

Each record's personal fields (NHS number, first address line, postcode, registration date, and which entry of the
public reference lists its locality, town and GP practice are) are serialised and encrypted on their own with
AES-GCM under the index's payload subkey, with a fresh random 96-bit nonce and the record's row number and the
key id as associated data: a ciphertext moved to another row, altered, or opened under another key fails, and that
means no disclosure. Only the single record being disclosed is ever decrypted.

What stays in clear are the reference lists: town and locality names and the GP practices (code, name, address,
postcode), all public. They are stored once, sorted (an order of first appearance would say which rows come
first in which town), and a record refers to them by number, so a record's sealed payload (padded) is 124 bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from matcher.disclosure import DISCLOSURE_FIELDS, GP_PRACTICE_FIELDS
from matcher.protection.keys import IndexKeys, MasterKey, WrongKeyError

SOURCE_COLUMNS = ("nhs_number", *DISCLOSURE_FIELDS)
"""What each record's payload seals: its NHS number and what a trace may disclose."""
_NONCE = 12
_SLICE = 1 << 16  # rows sealed at a time
# Payloads are padded to a multiple of this many bytes: nearly all to one length, so that a payload's length, seen
# without its key, does not tell a long address from a short one.
_PADDED = 96
_EPOCH = dt.date(1970, 1, 1)


class TamperedPayloadError(Exception):
    """A sealed payload failed authentication: altered, moved to another row, or sealed under another key."""


@dataclass(frozen=True)
class ReferenceLists:
    """Public values records point to by number: localities, towns, GP practices."""

    localities: list[str | None]
    towns: list[str | None]
    practices: list[tuple[str | None, ...]]  # (code, name, address, postcode)

    def table(self) -> pa.Table:
        rows = max(len(self.localities), len(self.towns), len(self.practices))

        def pad(values: list) -> list:
            return values + [None] * (rows - len(values))

        columns = {"locality": pad(self.localities), "town": pad(self.towns)}
        for j, name in enumerate(GP_PRACTICE_FIELDS):
            columns[name] = pad([p[j] for p in self.practices])
        counts = {"localities": len(self.localities), "towns": len(self.towns), "practices": len(self.practices)}
        return pa.table(columns).replace_schema_metadata({"counts": json.dumps(counts)})

    @classmethod
    def from_table(cls, table: pa.Table) -> ReferenceLists:
        counts = json.loads(table.schema.metadata[b"counts"])
        columns = (table.column(n).to_pylist()[: counts["practices"]] for n in GP_PRACTICE_FIELDS)
        practices = list(zip(*columns, strict=True))
        return cls(
            localities=table.column("locality").to_pylist()[: counts["localities"]],
            towns=table.column("town").to_pylist()[: counts["towns"]],
            practices=[tuple(p) for p in practices],
        )


class PayloadCipher:
    """Seals and opens records' payloads under one index's payload subkey."""

    def __init__(self, keys: IndexKeys) -> None:
        self._aead = AESGCM(keys.payload)
        self.key_id = keys.key_id

    def _associated_data(self, row: int) -> bytes:
        return f"{self.key_id}:{row}".encode()

    def seal(self, source: pa.Table) -> tuple[pa.Array, ReferenceLists]:
        """One sealed payload per row of ``source`` (its columns: SOURCE_COLUMNS), and the reference lists."""
        localities = _distinct(source.column("address_line_2"))
        towns = _distinct(source.column("town"))
        practices = sorted({p for part in _slices(source) for p in _practice_rows(part)}, key=_sort_key)
        practice_position = {p: i for i, p in enumerate(practices)}
        # A slice at a time: a Python object per field per row, for ten million rows at once, is gigabytes.
        sealed = [
            self._seal_slice(part, start, localities, towns, practice_position)
            for start, part in zip(range(0, source.num_rows, _SLICE), _slices(source), strict=True)
        ]
        combined = pa.chunked_array(sealed, pa.binary()).combine_chunks() if sealed else pa.array([], pa.binary())
        return combined, ReferenceLists(localities, towns, practices)

    def _seal_slice(
        self, part: pa.Table, start: int, localities: list, towns: list, practice_position: dict
    ) -> pa.Array:
        locality_codes = _codes_in(part.column("address_line_2"), localities)
        town_codes = _codes_in(part.column("town"), towns)
        practice_codes = [practice_position[p] for p in _practice_rows(part)]
        registration = part.column("registration_date").cast(pa.int32()).to_pylist()
        nhs = part.column("nhs_number").to_pylist()
        line_1 = part.column("address_line_1").to_pylist()
        postcode = part.column("postcode").to_pylist()
        nonces = os.urandom(_NONCE * part.num_rows)
        encrypt = self._aead.encrypt
        sealed = []
        for row in range(part.num_rows):
            plain = json.dumps(
                [
                    nhs[row],
                    line_1[row],
                    locality_codes[row],
                    town_codes[row],
                    postcode[row],
                    registration[row],
                    practice_codes[row],
                ],
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode()
            plain = plain.ljust(-(-len(plain) // _PADDED) * _PADDED)  # JSON ignores trailing spaces
            nonce = nonces[row * _NONCE : (row + 1) * _NONCE]
            sealed.append(nonce + encrypt(nonce, plain, self._associated_data(start + row)))
        return pa.array(sealed, pa.binary())

    def open(self, sealed: bytes, row: int, reference: ReferenceLists) -> dict:
        """The record's NHS number and disclosable fields; TamperedPayloadError if it does not authenticate."""
        try:
            plain = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], self._associated_data(row))
        except InvalidTag as error:
            raise TamperedPayloadError(f"the sealed payload of row {row} does not authenticate") from error
        nhs, line_1, locality, town, postcode, registration, practice = json.loads(plain)
        code, name, address, practice_postcode = reference.practices[practice]
        return {
            "nhs_number": nhs,
            "address_line_1": line_1,
            "address_line_2": None if locality is None else reference.localities[locality],
            "town": None if town is None else reference.towns[town],
            "postcode": postcode,
            "registration_date": None if registration is None else _date(registration),
            "gp_practice_code": code,
            "gp_practice_name": name,
            "gp_practice_address": address,
            "gp_practice_postcode": practice_postcode,
        }


def check_key(expected_key_id: str, key: MasterKey) -> None:
    if key.key_id != expected_key_id:
        raise WrongKeyError(
            f"this index was made with key {expected_key_id}, not with the key given ({key.key_id}): "
            "use that deployment's key (or rotate the index to the new one)"
        )


def _distinct(column: pa.ChunkedArray) -> list[str]:
    """A column's distinct values, sorted (None left out)."""
    return sorted(v for v in pc.unique(column).to_pylist() if v is not None)


def _codes_in(column: pa.ChunkedArray, values: list[str]) -> list[int | None]:
    """Per row the value's number in ``values`` (None stays None)."""
    return pc.index_in(column, value_set=pa.array(values, column.type)).to_pylist()


def _slices(source: pa.Table) -> list[pa.Table]:
    return [source.slice(start, _SLICE) for start in range(0, source.num_rows, _SLICE)]


def _practice_rows(part: pa.Table) -> list[tuple]:
    return list(zip(*(part.column(n).to_pylist() for n in GP_PRACTICE_FIELDS), strict=True))


def _sort_key(values: tuple) -> tuple:
    return tuple((v is None, v or "") for v in values)


def _date(days: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=days)
