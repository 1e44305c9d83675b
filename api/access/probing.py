"""Enumeration detection: a client sending many near-identical requests is probing for a person.

A requester who does not know a subject's date of birth, or the spelling of their name, could send the variants
one after another until one is traced. Each variant is a lawful-looking request on its own; together they are a
search of the index. Two requests count as near-identical when they share a key: the same Soundex family name
and date of birth, the same Soundex given name and date of birth (the first two blocking rules of
``matcher.blocking``), or the same Metaphone family name and Soundex given name whatever the date of birth; a
request without a given name is keyed on its family name with its year of birth and with its day and month. A client
may send ``limit`` requests sharing a key within ``window`` seconds; the next is refused (429) before it is traced,
and recorded as ``probe_suspected`` with the trace id of the first request of the group, so that an auditor
sees the whole probe.

The keys are held as keyed hashes (a subkey of the master key), never as names or dates, and only for the window.
Like the rate limiter, the memory is this process's: a restart forgets it (the register does not). It holds about
1.1 KiB per request in the window (20,000 synthetic requests: 21.5 MiB), so at most clients x rate x window of
them: 3,600 requests an hour per client at the default rate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import jellyfish

from matcher.contract.normalise import normalise_name
from matcher.protection.keys import MasterKey


class Person(Protocol):
    """What the detector reads of a request's subject: the names and the date of birth, nothing else."""

    @property
    def family_name(self) -> str: ...

    @property
    def given_name(self) -> str | None: ...

    @property
    def date_of_birth(self) -> dt.date: ...


@dataclass(frozen=True)
class Probe:
    """A request one too many in a group of near-identical ones."""

    first_trace_id: str  # the oldest of the group's newest ``limit`` requests (the first of the probe, at first)
    retry_after: float  # seconds until that request leaves the window


class ProbeDetector:
    def __init__(
        self, key: MasterKey, limit: int, window: float, clock: Callable[[], float] = time.time
    ) -> None:
        """``window`` in seconds; ``clock`` gives seconds (the service passes its own clock's)."""
        if limit < 1 or window <= 0:
            raise ValueError("enumeration detection needs a limit of at least 1 and a positive window")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._key = key.derive("probe-keys")
        self._seen: dict[tuple[int, bytes], list[tuple[float, bytes]]] = {}
        self._next_sweep = clock() + window
        self._lock = threading.Lock()

    def observe(self, client_id: int, subject: Person, trace_id: str) -> Probe | None:
        """Count this request (refused ones too: a prober who carries on stays refused) and say whether it is one
        too many: None if not, else the group it belongs to."""
        now = self.clock()
        first: tuple[float, bytes] | None = None
        with self._lock:
            self._sweep(now)
            for key in self._keys(subject):
                # The newest ``limit`` requests of the group (time, trace id) are all that decide the next one.
                seen = self._seen.setdefault((client_id, key), [])
                while seen and seen[0][0] <= now - self.window:
                    del seen[0]
                if len(seen) >= self.limit and first is None:
                    first = seen[0]
                seen.append((now, uuid.UUID(trace_id).bytes))
                if len(seen) > self.limit:
                    del seen[0]
        if first is None:
            return None
        return Probe(str(uuid.UUID(bytes=first[1])), max(0.0, first[0] + self.window - now))

    @property
    def groups(self) -> int:
        """Groups of near-identical requests held now (each a keyed hash and its requests' times and trace ids)."""
        return len(self._seen)

    def _keys(self, subject: Person) -> list[bytes]:
        family = (normalise_name(subject.family_name) or "").replace("-", "")
        given = (normalise_name(subject.given_name) or "").replace("-", "")
        born = subject.date_of_birth.isoformat()
        family_sound = f"{jellyfish.metaphone(family)}" if family else ""
        keys = [f"family:{jellyfish.soundex(family)}:{born}"] if family else []
        if given:
            keys.append(f"given:{jellyfish.soundex(given)}:{born}")
            if family:  # any date of birth: probing for the date with the name fixed
                keys.append(f"names:{family_sound}:{jellyfish.soundex(given)}")
        elif family:  # no given name: the date is probed one part at a time
            keys += [f"year:{family_sound}:{born[:4]}", f"day:{family_sound}:{born[5:]}"]
        return [hmac.new(self._key, k.encode(), hashlib.sha256).digest()[:16] for k in keys]

    def _sweep(self, now: float) -> None:
        """Forget groups whose newest request has left the window, once a window: memory stays bounded by the
        requests of one window."""
        if now < self._next_sweep:
            return
        self._seen = {k: v for k, v in self._seen.items() if v and v[-1][0] > now - self.window}
        self._next_sweep = now + self.window
