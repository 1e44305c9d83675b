"""PostgreSQL going away under a running service: 503 without disclosing, and back by itself when it returns.

The service reaches PostgreSQL through a TCP relay that the test cuts (every open connection dropped, new ones
refused, as when the server stops) and restores. Stopping this machine's PostgreSQL itself would stop every other
test's database too; the relay gives the service the same view of an outage: connections that end and
connections that are refused.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
from sqlalchemy.engine import make_url

from tests.support.api import ApiHarness, trace_body


class Relay:
    """A TCP relay to ``upstream`` on a free loopback port; ``cut()`` drops every connection and refuses new ones
    until ``restore()``; ``freeze()`` holds everything sent either way, connections open, until ``thaw()`` (a
    database that hangs rather than fails)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._flowing = threading.Event()
        self._flowing.set()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            with contextlib.suppress(OSError):  # wakes the accepting thread (a bare close would not, on Linux)
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # cut: the listener is closed
                return
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._open.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self._flowing.wait()
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@pytest.fixture
def relayed(database_url, tracer, master_key):
    url = make_url(database_url)
    relay = Relay((url.host, url.port or 5432))
    harness = ApiHarness(
        url.set(port=relay.port).render_as_string(hide_password=False), tracer, master_key, answer_timeout_seconds=2
    )
    yield harness, relay
    relay.thaw()
    harness.close()
    relay.cut()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_database_outage_is_503_without_disclosure_and_the_service_recovers_by_itself(relayed, population):
    api, relay = relayed
    key = api.add_client("requester")
    people = iter(population.slice(20_000, 400).to_pylist())
    before = api.trace(trace_body(next(people)), key)
    assert before.status_code == 200

    relay.cut()
    during = [api.trace(trace_body(next(people)), key) for _ in range(5)]
    health = api.http.get("/v1/health")
    assert [r.status_code for r in during] == [503] * 5 and health.status_code == 503
    for response in during:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] and "disclosure" not in response.json()

    relay.restore()
    deadline, after = time.monotonic() + 30, None
    while time.monotonic() < deadline:  # no restart: the pool drops dead connections and opens new ones
        after = api.trace(trace_body(next(people)), key)
        if after.status_code == 200:
            break
        time.sleep(0.5)
    assert after is not None and after.status_code == 200
    assert api.http.get("/v1/health").status_code == 200

    answered = {r.json()["trace_id"] for r in (before, after)}
    entries = api.entries()
    assert answered <= {e.trace_id for e in entries}
    assert {e.draft.http_status for e in entries} == {200}  # nothing was recorded, or answered, during the outage
    assert api.components.service.register.verify().ok


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_database_that_hangs_is_a_timely_503_and_answers_resume_when_it_does(relayed, population):
    api, relay = relayed
    key = api.add_client("requester")
    people = iter(population.slice(21_000, 400).to_pylist())
    assert api.trace(trace_body(next(people)), key).status_code == 200

    relay.freeze()
    started = time.monotonic()
    hung = api.trace(trace_body(next(people)), key)
    waited = time.monotonic() - started
    assert hung.status_code == 503 and "disclosure" not in hung.json() and hung.headers["retry-after"]
    assert 2 <= waited < 10  # the answer timeout, not the operating system's minutes

    relay.thaw()
    deadline, after = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        after = api.trace(trace_body(next(people)), key)
        if after.status_code == 200:
            break
    assert after is not None and after.status_code == 200
    assert api.components.service.register.verify().ok
