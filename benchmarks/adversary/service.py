"""The real service, in-process: the app ``python -m api serve`` runs (FastAPI through its TestClient), on a SQLite
file of its own, with the shipped settings, for clients of one organisation, on a simulated clock.

Simulated time is what lets a day of 1,000 requests run in seconds: the service's clock (policy day, probe window)
and the rate limiter's clock both read it, and each request moves it on by the attacker's spacing (86.4 s at 1,000
a day, well inside the shipped 60 a minute). Nothing else differs from the shipped defaults but the response floor,
which only delays an answer (``floor_ms``; the timing strategy runs with the shipped 25 ms).
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.http.app import create_app
from api.http.examples import IMMIGRATION_REQUEST, WELFARE_REQUEST
from api.settings import Settings
from api.storage.tables import register_entries
from api.wiring import Components, build_components
from benchmarks.adversary.world import Person, World

DAY = dt.timedelta(days=1)
ORGANISATION = "HO-ICE"


@dataclass
class SimulatedClock:
    now: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC))

    def __call__(self) -> dt.datetime:
        return self.now

    def monotonic(self) -> float:
        return self.now.timestamp()


@dataclass(frozen=True)
class Observation:
    """Everything the requester sees of one answer."""

    http_status: int
    status: str  # the answer's status, or "problem:<http status>"
    postcode: str | None  # the disclosed address's postcode, if anything was disclosed
    address_line: str | None
    body_size: int
    headers: tuple[str, ...]  # the header names, sorted
    seconds: float
    trace_id: str | None

    @property
    def disclosed(self) -> bool:
        return self.postcode is not None or self.address_line is not None


@dataclass
class Subject:
    """What one request says about its person (None: left out)."""

    given_name: str | None
    family_name: str
    date_of_birth: dt.date
    sex: str | None = None
    postcode: str | None = None
    other_given_names: str | None = None
    address: str | None = None

    @classmethod
    def known(cls, person: Person, **changes) -> Subject:
        subject = cls(person.given_name, person.family_name, person.date_of_birth, person.sex)
        for name, value in changes.items():
            setattr(subject, name, value)
        return subject


def body(subject: Subject, welfare: bool = False) -> dict:
    """A request the policy in force allows, about ``subject``: the OpenAPI example's grounds."""
    out = copy.deepcopy(WELFARE_REQUEST if welfare else IMMIGRATION_REQUEST)
    fields = {
        "given_name": subject.given_name,
        "other_given_names": subject.other_given_names,
        "family_name": subject.family_name,
        "date_of_birth": subject.date_of_birth.isoformat(),
        "sex": subject.sex,
        "postcode": subject.postcode,
        "address": subject.address,
    }
    out["subject"] = {k: v for k, v in fields.items() if v is not None}
    # Contact cannot have been lost before the person was born (a 422).
    out["investigation"]["last_contact"] = max(out["investigation"]["last_contact"], subject.date_of_birth.isoformat())
    return out


class Service:
    """The app on a database file, restartable (a new app on the same database), with clients of one
    organisation; every request is spaced ``spacing`` apart on the simulated clock."""

    def __init__(self, world: World, database: Path, floor_ms: int = 0, per_day: int = 1_000) -> None:
        self.world = world
        self.clock = SimulatedClock()
        self.spacing = DAY / per_day
        self.settings = Settings(database_url=f"sqlite:///{database}", response_floor_ms=floor_ms)
        self._components: Components | None = None
        self._http: TestClient | None = None
        self.restarts = 0
        self.start()

    def start(self) -> None:
        self._components = build_components(self.settings, key=self.world.key, tracer=self.world.tracer,
                                            clock=self.clock)
        self._components.limiter.clock = self.clock.monotonic  # the shipped rate, in simulated time
        self._http = TestClient(create_app(self._components), raise_server_exceptions=False)

    def restart(self) -> None:
        """Stop the app and start a new one on the same database: what a deployment or a crash does."""
        self.stop()
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http.app.state.dispatcher.close()
            self._components.engine.dispose()
            self._http = self._components = None

    def client(self, name: str) -> str:
        """A new requester client of the attacking organisation: its API key."""
        clients = self._components.clients
        return clients.add(name, "requester", organisation=clients.organisations.ensure(ORGANISATION).id)[1]

    def next_day(self) -> None:
        """Past the probe window: a target attacked on a day of its own."""
        self.clock.now += DAY + dt.timedelta(minutes=5)

    def trace(self, key: str, subject: Subject, welfare: bool = False) -> Observation:
        self.clock.now += self.spacing
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {key}"}
        response = self._http.post("/v1/traces", json=body(subject, welfare), headers=headers)
        seconds = time.perf_counter() - started
        answer = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        status = answer.get("status", f"problem:{response.status_code}") if response.status_code == 200 else \
            f"problem:{response.status_code}"
        address = (answer.get("disclosure") or {}).get("last_known_address") or {}
        lines = address.get("lines") or []
        return Observation(
            response.status_code, status, address.get("postcode"), lines[0] if lines else None,
            len(response.content), tuple(sorted(response.headers.keys())), seconds, answer.get("trace_id"),
        )

    def recorded_as(self, observation: Observation) -> str | None:
        """What the register says of an answer (``probe_suspected`` for a hold past the probe limit): the
        benchmark's view, not the attacker's."""
        if observation.trace_id is None:
            return None
        with self._components.engine.connect() as connection:
            return connection.execute(
                select(register_entries.c.outcome).where(register_entries.c.trace_id == observation.trace_id)
            ).scalar()
