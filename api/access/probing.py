"""Enumeration detection: an organisation sending many variants of a request about one person is searching.

A requester who lacks a subject's date of birth or the spelling of their name could send variants one after
another until one is traced; each is a lawful-looking request, together they search the index. Spellings are no
way to tell: any respelling the core still traces is a fresh probe. So requests are counted on what the core found:
each traced request lands on its best-scoring candidate records, matched or not (``Tracer.nearest``), and also
falls in the spelling groups of a name searched with any date of birth (below), so that a search for someone the
index does not hold is counted like a search for someone it does. A group is counted per organisation, whichever
of its clients asks, and per distinct variant: the same details sent again are not a new variant.

Past ``limit`` variants in a group within ``window``, every request in it is held for review rather than refused
(``ReviewReason.ENUMERATION``): an honest caseworker's next try reaches a person, and an attacker gets the same
``pending_review`` whatever the variant, so the answers say nothing more of the person.

The state is in the database (``probe_records``, ``probe_variants``), shared by every client and process and kept
across restarts, as keyed tokens only (a subkey of the master key): never a name, a date or an NHS number. Two
processes counting requests about one record at once are counted one after the other: each locks the record's row
before counting its variants.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jellyfish
from sqlalchemy import Connection, Engine, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from api.storage.tables import probe_records, probe_variants
from matcher.contract.normalise import normalise_name
from matcher.contract.request import TraceRequest
from matcher.protection.keys import MasterKey


@dataclass(frozen=True)
class Landing:
    """What one traced request is counted as."""

    organisation: str
    trace_id: str
    variant: str  # keyed token of the request's details
    groups: tuple[str, ...]  # keyed tokens: the records it landed on, its spelling groups


@dataclass(frozen=True)
class Probe:
    """A request one variant too many in a group."""

    first_trace_id: str  # the group's oldest request in the window: where an auditor starts reading the probe


class ProbeTokens:
    """Keyed tokens (HMAC-SHA-256 under a subkey of the master key, 128 bits) of requests and records."""

    def __init__(self, key: MasterKey) -> None:
        self._key = key.derive("probe-tokens")

    def landing(
        self, organisation: str, trace_id: str, request: TraceRequest, nhs_numbers: Sequence[str]
    ) -> Landing:
        """``nhs_numbers``: of the records the request landed on."""
        groups = [f"record:{n}" for n in nhs_numbers] + _spelling_groups(request)
        return Landing(organisation, trace_id, self._token(_variant(request)), tuple(map(self._token, groups)))

    def _token(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:32]


def _variant(request: TraceRequest) -> str:
    """The details that make one request another's variant (normalised: case and spacing are not a variant)."""
    fields = (
        normalise_name(request.family_name),
        normalise_name(request.given_name),
        normalise_name(request.other_given_names),
        request.date_of_birth,
        (request.sex or "").lower(),
        "".join((request.postcode or "").upper().split()),
        " ".join((request.address_line_1 or "").upper().split()),
    )
    return "variant:" + "\x1f".join(f or "" for f in fields)


def _spelling_groups(request: TraceRequest) -> list[str]:
    """A name searched with any date of birth: the family name's Metaphone with the given name's Soundex; without
    a given name, the family name's Metaphone with the year of birth."""
    family = (normalise_name(request.family_name) or "").replace("-", "").replace(" ", "")
    given = (normalise_name(request.given_name) or "").replace("-", "").replace(" ", "")
    if not family:
        return []
    if not given:
        return [f"family:{jellyfish.metaphone(family)}:{request.date_of_birth[:4]}"]
    return [f"names:{jellyfish.metaphone(family)}:{jellyfish.soundex(given)}"]


class ProbeCounter:
    def __init__(
        self, engine: Engine, limit: int, window: dt.timedelta, clock: Callable[[], dt.datetime]
    ) -> None:
        if limit < 1 or window <= dt.timedelta(0):
            raise ValueError("enumeration detection needs a limit of at least 1 and a positive window")
        self.engine = engine
        self.limit = limit
        self.window = window
        self.clock = clock

    def count(self, landings: list[Landing]) -> list[Probe | None]:
        """Count these requests (in order, as if one after another) and say of each whether it is one variant too
        many in any of its groups. Raises SQLAlchemyError if the database cannot count them."""
        if not landings:
            return []
        now = self.clock()
        seen_at, cutoff = _stamp(now), _stamp(now - self.window)
        groups = sorted({(landing.organisation, group) for landing in landings for group in landing.groups})
        with self.engine.begin() as connection:
            connection.execute(delete(probe_variants).where(probe_variants.c.seen_at < cutoff))
            connection.execute(delete(probe_records).where(probe_records.c.seen_at < cutoff))
            if groups:
                self._lock(connection, groups, seen_at)
            earlier = self._variants(connection, groups, cutoff)
            probes = self._judge(landings, earlier)
            rows = [
                {"organisation": landing.organisation, "record_token": group, "variant_token": landing.variant,
                 "trace_id": landing.trace_id, "seen_at": seen_at}
                for landing in landings
                for group in landing.groups
            ]
            if rows:
                connection.execute(_insert(connection, probe_variants).on_conflict_do_nothing(), rows)
        return probes

    def _judge(
        self, landings: list[Landing], earlier: dict[tuple[str, str], tuple[set[str], str]]
    ) -> list[Probe | None]:
        """Each request against its groups' variants so far: the window's, then this batch's before it."""
        groups = {key: (set(variants), first) for key, (variants, first) in earlier.items()}
        probes: list[Probe | None] = []
        for landing in landings:
            probe = None
            for group in landing.groups:
                variants, first = groups.setdefault((landing.organisation, group), (set(), landing.trace_id))
                variants.add(landing.variant)
                if len(variants) > self.limit and probe is None:
                    probe = Probe(first)
            probes.append(probe)
        return probes

    @staticmethod
    def _lock(connection: Connection, groups: list[tuple[str, str]], seen_at: str) -> None:
        """Touch each group's row, in one order (no deadlock): a concurrent count of the same group waits for
        this one's commit, then sees its variants."""
        statement = _insert(connection, probe_records)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[probe_records.c.organisation, probe_records.c.record_token],
                set_={"seen_at": statement.excluded.seen_at},
            ),
            [{"organisation": o, "record_token": g, "seen_at": seen_at} for o, g in groups],
        )

    @staticmethod
    def _variants(
        connection: Connection, groups: list[tuple[str, str]], cutoff: str
    ) -> dict[tuple[str, str], tuple[set[str], str]]:
        """Per group, the variants seen in the window and the trace id of its oldest request."""
        out: dict[tuple[str, str], tuple[set[str], str]] = {}
        key = tuple_(probe_variants.c.organisation, probe_variants.c.record_token)
        for start in range(0, len(groups), 400):  # bound the statement's parameters (SQLite: 32,766)
            rows = connection.execute(
                select(probe_variants.c.organisation, probe_variants.c.record_token,
                       probe_variants.c.variant_token, probe_variants.c.trace_id)
                .where(key.in_(groups[start : start + 400]), probe_variants.c.seen_at >= cutoff)
                .order_by(probe_variants.c.seen_at)
            )
            for organisation, group, variant, trace_id in rows:
                variants, _ = out.setdefault((organisation, group), (set(), trace_id))
                variants.add(variant)
        return out


def _insert(connection: Connection, table):
    """An INSERT that can say what to do on conflict, in this database's dialect."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")
