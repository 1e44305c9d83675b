"""An entry's keyed hash: HMAC-SHA256 of its stored fields as canonical JSON (sorted keys, no spaces, ASCII).

Written once per entry and read again for every entry at every start (``api.audit.register`` walks the whole chain),
so the JSON is put together here from the C string encoder rather than by ``json.dumps``, to the same bytes: a test
holds the two equal on any text, number and null.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Mapping

from sqlalchemy import Row

from api.audit.entry import LATER_FIELDS

_text = json.encoder.c_encode_basestring_ascii or json.encoder.py_encode_basestring_ascii  # what json.dumps uses


class EntryHasher:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def hash(self, row: Mapping[str, object]) -> str:
        """The hash of an entry as stored: every column but the hash itself, and a later field only when set (so
        that entries written before it existed still verify)."""
        return self._digest(canonical_json(tuple(row.keys()), tuple(row.values())))

    def authentic_row(self, row: Row) -> bool:
        """Whether a stored row's hash is the one the key gives its columns."""
        digest = self._digest(canonical_json(row._fields, tuple(row)))
        return hmac.compare_digest(digest, row.entry_hash)

    def _digest(self, message: str) -> str:
        return hmac.digest(self._key, message.encode(), hashlib.sha256).hex()


def canonical_json(keys: tuple[str, ...], values: tuple) -> str:
    """``json.dumps(content, sort_keys=True, separators=(",", ":"))`` of the hashed content, faster."""
    parts = []
    for at, prefix, later in _layout(keys):
        value = values[at]
        if value is None:
            if not later:
                parts.append(prefix + "null")
        elif type(value) is str:
            parts.append(prefix + _text(value))
        elif type(value) is int:
            parts.append(prefix + int.__repr__(value))
        else:  # nothing the register stores today
            parts.append(prefix + json.dumps(value, sort_keys=True, separators=(",", ":")))
    return "{" + ",".join(parts) + "}"


@functools.lru_cache(maxsize=16)
def _layout(keys: tuple[str, ...]) -> tuple[tuple[int, str, bool], ...]:
    """For the columns in this order: each hashed one's place, its JSON key, and whether it is a later field."""
    hashed = sorted((name, at) for at, name in enumerate(keys) if name != "entry_hash")
    return tuple((at, f"{_text(name)}:", name in LATER_FIELDS) for name, at in hashed)
