"""Subjects of trace requests as the register records them: a keyed token, never who they are.

The token is an HMAC (a subkey of the master key) of the normalised given name, family name and date of birth:
repeated requests about one person can be counted, by an auditor reading the register, without the register ever
holding who that person is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from matcher.contract.normalise import normalise_name
from matcher.protection.keys import MasterKey


class SubjectTokens:
    """Keyed tokens of trace subjects: equal for the same normalised given name, family name and date of birth."""

    def __init__(self, key: MasterKey) -> None:
        self._key = key.derive("audit-subject")

    def token(self, family_name: str, date_of_birth: dt.date, given_name: str | None) -> str:
        parts = (normalise_name(family_name) or "", date_of_birth.isoformat(), normalise_name(given_name) or "")
        return hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:32]
