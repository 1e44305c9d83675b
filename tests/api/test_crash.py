"""Faults: the server killed with SIGKILL during a load run and restarted: the register verifies, and every response
a client received has its register entry (issue 7).

The service writes an entry, commits it, and only then answers. A kill can therefore leave entries whose answer
never left (allowed: the request was recorded, nothing was disclosed), but never an answer without its entry. The
test holds the service to that from the outside: real ``python -m api serve`` processes, real sockets, a kill that
no handler can see coming, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from api.access.clients import MAX_RATE_PER_MINUTE, ClientStore, Role
from api.audit.head import HeadFile, head_path
from api.audit.register import AuditRegister, RegisterEntry
from api.storage.engine import make_engine
from api.storage.migrate import upgrade
from matcher.estimation import FellegiSunterEstimator
from matcher.index import Index
from synthetic.profiles import PROFILES
from synthetic.requests import generate_requests
from tests.support.api import HEAD_DIR_VARIABLE, trace_body

REPO = Path(__file__).resolve().parents[2]
INDEX_RECORDS = 3_000
TRAINING_REQUESTS = 2_000
LOAD_CLIENTS = 6  # enough that the server, not the clients, is the limit: requests are always in flight
RESPONSES_BEFORE_KILL = 300
LOAD_SECONDS = 1.0  # at least this long, and at least RESPONSES_BEFORE_KILL answered, before the kill
LOAD_DEADLINE = 30.0  # a load run that cannot get that far fails instead of hanging
START_DEADLINE = 60.0  # a start loads the index and migrates the database
REQUEST_TIMEOUT = 10.0
KILL_CYCLES = 2
INVALID_EVERY = 25  # one request in this many is malformed: its 422 goes through the refusals' own transaction
INVALID_BODY = b'{"subject": {"family_name": "Nobody"}}'


@pytest.fixture(scope="module")
def crash_index(population, master_key, tmp_path_factory) -> Path:
    """A small index with a model (the service refuses an untrained one), trained on unlabelled requests about
    its own records, as `python -m matcher build` trains."""
    directory = tmp_path_factory.mktemp("crash")
    records = population.slice(0, INDEX_RECORDS)
    pq.write_table(records, directory / "population.parquet")
    training = generate_requests(directory / "population.parquet", TRAINING_REQUESTS, PROFILES["typical"], 0.3, seed=3)
    index = Index.build(records, master_key)
    index.with_model(FellegiSunterEstimator().fit(index, training.requests).model_).save(directory / "index")
    return directory / "index"


@pytest.fixture(scope="module")
def request_bodies(population) -> list[bytes]:
    """Index members (some restricted or dead, so held or not found), people outside the index, requests the
    policy refuses, and malformed bodies: the paths to the register a requester with a valid key can take. Each
    subject appears once, so that few requests look like a probe for one person (those are refused with a 429
    and an entry of their own, which the test checks like any other)."""
    members = population.slice(0, INDEX_RECORDS).to_pylist()[::3]
    outsiders = population.slice(150_000, len(members) // 3).to_pylist()
    refused = outsiders[: len(outsiders) // 10]
    bodies = [trace_body(person) for person in members + outsiders[len(refused) :]]
    bodies += [trace_body(person, officers__authorising={"id": "HO-1", "grade": "EO"}) for person in refused]
    random.Random(7).shuffle(bodies)
    encoded = [json.dumps(body).encode() for body in bodies]
    for i in range(0, len(encoded), INVALID_EVERY):
        encoded[i] = INVALID_BODY
    return encoded


@dataclass(frozen=True)
class Received:
    """A response a client actually got: what it says about its register entry."""

    status_code: int
    trace_id: str | None
    register_sequence: int | None  # an answer's (200); a problem document has none
    status: str | None  # an answer's status field: traced, not_found, ambiguous, refused, pending_review
    detail: str | None  # a problem's detail, for the failure message


class ServerProcess:
    """``python -m api serve`` as a child. uvicorn runs in that very process (no reloader, no worker processes),
    so the Popen's pid is the server: SIGKILL to it leaves nothing that could still answer, which the kill checks
    by finding the port closed."""

    def __init__(self, index: Path, database_url: str, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {
            **os.environ,  # TRACING_MASTER_KEY: the session's key (conftest)
            "TRACING_INDEX_DIR": str(index),
            "DATABASE_URL": database_url,
            "TRACING_HOST": "127.0.0.1",
            "TRACING_PORT": str(self.port),
        }
        # To a file, not a pipe: the access log writes a line per request, and a full pipe would stall the server.
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api", "serve"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_until_ready(self) -> bool:
        """True once /v1/health answers 200; False if another process took the port first (start again)."""
        deadline = time.monotonic() + START_DEADLINE
        with httpx.Client(base_url=self.url, timeout=2) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    if "address already in use" in self.output().lower():
                        return False
                    pytest.fail(f"the server exited with {self.process.returncode}:\n{self.output()}")
                try:
                    if http.get("/v1/health").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass  # not listening yet
                time.sleep(0.05)
        pytest.fail(f"the server did not become healthy in {START_DEADLINE:.0f} s:\n{self.output()}")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL
        with socket.socket() as probe:  # a surviving child process would still hold the listening socket
            assert probe.connect_ex(("127.0.0.1", self.port)) != 0, "something still listens after the kill"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4_000:]


@pytest.fixture
def servers(crash_index: Path, database_url: str, tmp_path: Path):
    """Starts servers on this test's database; every one is stopped at teardown, whatever happened (and before
    the database fixture drops its PostgreSQL schema, since this fixture depends on it)."""
    started: list[ServerProcess] = []

    def start() -> ServerProcess:
        for _ in range(3):  # a port found free can be taken by another process before the server binds it
            server = ServerProcess(crash_index, database_url, tmp_path / f"server-{len(started) + 1}.log")
            started.append(server)
            if server.wait_until_ready():
                return server
        pytest.fail("no free port could be bound in three attempts")

    yield start
    for server in started:
        server.stop()


class LoadRun:
    """Client threads, each on its own keep-alive connection, sending trace requests back to back. Every
    response received is kept. A request that gets no response is counted: before the kill that is a failure;
    after it, expected (``cut_in_flight``: sent before the kill and cut off by it; ``failed_after_kill``: sent
    to a dead server)."""

    def __init__(self, url: str, key: str, bodies: list[bytes]) -> None:
        self.received: list[Received] = []
        self.enough = threading.Event()
        self.failures_before_kill: list[str] = []
        self.errors: list[str] = []  # the test's own: a response dropped unchecked would hide a missing entry
        self.cut_in_flight = 0
        self.failed_after_kill = 0
        self._url, self._key, self._bodies = url, key, bodies
        self._killing = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(LOAD_CLIENTS)]

    def __enter__(self) -> LoadRun:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, failure, *_) -> None:
        self._killing.set()
        self._stop.set()  # after the kill, or on a failure before it: no new requests
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT + 5)
        if failure is None:
            assert not any(thread.is_alive() for thread in self._threads), "a client thread did not stop"

    def wait_for_load(self) -> None:
        assert self.enough.wait(LOAD_DEADLINE), f"only {len(self.received)} answers in {LOAD_DEADLINE:.0f} s"
        remaining = LOAD_SECONDS - (time.monotonic() - self.started)
        if remaining > 0:  # the load's length, not a wait for something that could be polled
            time.sleep(remaining)

    def about_to_kill(self) -> None:
        """Set just before the kill: any request failing from now on may be the kill's doing."""
        self._killing.set()

    def _client(self, number: int) -> None:
        headers = {"Authorization": f"Bearer {self._key}", "Content-Type": "application/json"}
        with httpx.Client(base_url=self._url, headers=headers, timeout=REQUEST_TIMEOUT) as http:
            i = number
            while not self._stop.is_set():
                sent_before_kill = not self._killing.is_set()
                try:
                    response = http.post("/v1/traces", content=self._bodies[i % len(self._bodies)])
                except httpx.TransportError as error:  # connection refused, reset, closed without an answer
                    self._failed(type(error).__name__, sent_before_kill)
                    return
                try:
                    self._keep(response)
                except Exception as error:
                    with self._lock:
                        self.errors.append(f"{type(error).__name__}: {error}")
                    return
                i += LOAD_CLIENTS

    def _keep(self, response: httpx.Response) -> None:
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            document = {}  # no trace id: reported as a response without its entry
        received = Received(
            response.status_code,
            document.get("trace_id"),
            document.get("register_sequence"),
            document.get("status") if response.status_code == 200 else None,
            document.get("detail"),
        )
        with self._lock:
            self.received.append(received)
            if len(self.received) >= RESPONSES_BEFORE_KILL:
                self.enough.set()

    def _failed(self, what: str, sent_before_kill: bool) -> None:
        with self._lock:
            # Whether the kill is coming is read as the request fails, not as it was sent: a request sent before
            # the kill and cut off by it fails after about_to_kill, and was in flight when the kill came.
            if not self._killing.is_set():
                self.failures_before_kill.append(what)
            elif sent_before_kill:
                self.cut_in_flight += 1
            else:
                self.failed_after_kill += 1


def _free_port() -> int:
    """A loopback port nothing listens on now (the server binds it a moment later; each start takes a new one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _add_requester(database_url: str, master_key) -> str:
    """A requester whose rate limit the load never reaches (429s would be recorded too, but are not the point)."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, key=master_key)
        # Through a register with the servers' head file: its entries (the organisation, the client) are covered.
        head = HeadFile(head_path(database_url, Path(os.environ[HEAD_DIR_VARIABLE])), master_key)
        register = AuditRegister(engine, master_key, head)
        register.open()
        store = ClientStore(engine, master_key, register, background_reports=False)
        organisation = store.organisations.ensure("load").id
        return store.add("load-requester", Role.REQUESTER, MAX_RATE_PER_MINUTE, organisation=organisation)[1]
    finally:
        engine.dispose()


def _verify_register(database_url: str, anchor: str | None) -> str:
    """``python -m api register verify``, as an operator runs it after a crash (with the head an earlier verify
    printed, so that losing entries from before the kill would fail it too); the head it prints now."""
    command = [sys.executable, "-m", "api", "register", "verify"] + (["--anchor", anchor] if anchor else [])
    done = subprocess.run(
        command, cwd=REPO, env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"the register does not verify after the restart:\n{done.stdout}{done.stderr}"
    return re.search(r"head (\d+:[0-9a-f]{64})", done.stdout).group(1)


@contextmanager
def _register(database_url: str, master_key):
    """The register as the test reads it, beside the running server (its own engine, disposed after)."""
    engine = make_engine(database_url)
    try:
        yield AuditRegister(engine, master_key)
    finally:
        engine.dispose()


def _unrecorded(received: list[Received], entries: dict[str, RegisterEntry]) -> list[str]:
    """The responses that the register does not back: no trace id, no entry of that id, or an entry that says
    something else than the client was told."""
    wrong = []
    for response in received:
        entry = entries.get(response.trace_id) if response.trace_id else None
        if entry is None:
            wrong.append(f"no entry for {response}")
        elif not _entry_says(entry, response):
            wrong.append(f"{response} answered, but entry {entry.sequence} records {entry.draft}")
    return wrong


def _entry_says(entry: RegisterEntry, response: Received) -> bool:
    """An answer's entry is at its register_sequence with its status as outcome; a problem's has its HTTP status."""
    if response.status_code == 200:
        told = (response.register_sequence, response.status, 200)
        return (entry.sequence, entry.draft.outcome, entry.draft.http_status) == told
    return entry.draft.http_status == response.status_code


def _trace_once(server: ServerProcess, key: str, body: bytes) -> Received:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    response = httpx.post(f"{server.url}/v1/traces", content=body, headers=headers, timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200, response.text
    answer = response.json()
    return Received(200, answer["trace_id"], answer["register_sequence"], answer["status"], None)


def test_a_server_killed_under_load_restarts_and_every_response_received_has_its_entry(
    servers, request_bodies, database_url, master_key
):
    began = time.monotonic()
    key = _add_requester(database_url, master_key)
    server = servers()
    received: list[Received] = []
    anchor: str | None = None  # the head verified before this kill, which must still be in the chain after it
    report = []
    for cycle in range(1, KILL_CYCLES + 1):
        with LoadRun(server.url, key, request_bodies) as load:
            load.wait_for_load()
            load.about_to_kill()
            server.kill()
        assert not load.errors, load.errors[:5]
        assert not load.failures_before_kill, f"requests failed before the kill: {load.failures_before_kill[:5]}"
        # Requests were in flight when the kill came: the crash this test is about, not a stop between requests.
        assert load.cut_in_flight >= 1, "no request was in flight at the kill"
        received += load.received

        server = servers()  # the same database: it must start on what the kill left (migrations, policy note)
        head = _verify_register(database_url, anchor)
        with _register(database_url, master_key) as register:
            entries = {entry.trace_id: entry for entry in register.entries()}
        wrong = _unrecorded(received, entries)
        assert not wrong, f"{len(wrong)} of {len(received)} responses received without their entry: {wrong[:5]}"

        # The restarted service answers, and its entry is the next link of the chain the kill left.
        after = _trace_once(server, key, next(body for body in request_bodies if body != INVALID_BODY))
        head_sequence, head_hash = head.split(":")
        assert after.register_sequence == int(head_sequence) + 1
        with _register(database_url, master_key) as register:
            extended = register.verify((int(head_sequence), head_hash))
            assert extended.ok and extended.head_sequence == after.register_sequence, extended
            assert _unrecorded([after], {e.trace_id: e for e in register.page(int(head_sequence), 10)}) == []
        anchor = f"{extended.head_sequence}:{extended.head_hash}"
        received.append(after)

        answered = {response.trace_id for response in received}
        unanswered = sum(1 for e in entries.values() if e.draft.client_id and e.trace_id not in answered)
        report.append(
            f"kill {cycle}: {len(load.received)} responses received before it, {load.cut_in_flight} requests cut "
            f"in flight, {load.failed_after_kill} sent after; {len(entries)} entries, {unanswered} never answered"
        )
    # Shown with -s: what the run did, for the record.
    print(f"\n{database_url.split('+')[0].split(':')[0]}: {time.monotonic() - began:.1f} s; " + "; ".join(report))
