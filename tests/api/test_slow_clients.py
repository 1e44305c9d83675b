"""Slow and stalled clients are cut (issue 16): a stalled head is closed at its deadline, a stalled body answered
408, a connection beyond the per-address bound refused 503, and an honest client answered all the while.

The real server (uvicorn with the service's own configuration, ``api.cli.serve.server_config``) runs in a thread
on a free port, with deadlines small enough to wait for; the clients are raw sockets, since an HTTP client would
not send half a request. An honest client connects from 127.0.0.2 (all of 127/8 is loopback on Linux), another
address than the slow ones' 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support.api import trace_body

HEAD_DEADLINE = 1
BODY_DEADLINE = 2
PER_ADDRESS = 4
SLACK = 1.0  # seconds a cut may come after its deadline on a loaded machine
HONEST_ADDRESS = "127.0.0.2"


@dataclass
class Served:
    port: int
    key: str  # a requester's

    def connect(self, address: str = "127.0.0.1") -> socket.socket:
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=10, source_address=(address, 0))
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def honest(self) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=HONEST_ADDRESS)
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", transport=transport, timeout=10)


@pytest.fixture
def served(database_url: str, tracer, master_key, register_head_dir) -> Iterator[Served]:
    import uvicorn

    from api.cli.serve import server_config
    from api.http.app import create_app
    from api.settings import Settings
    from api.wiring import build_components

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        database_url=database_url,
        port=port,
        response_floor_ms=0,
        header_deadline_seconds=HEAD_DEADLINE,
        body_deadline_seconds=BODY_DEADLINE,
        connections_per_address=PER_ADDRESS,
        register_head_dir=register_head_dir,  # the session's, not the repository's out/service
    )
    components = build_components(settings, key=master_key, tracer=tracer)
    organisation = components.clients.organisations.ensure("requester-1").id
    key = components.clients.add("requester-1", "requester", None, organisation=organisation)[1]
    server = uvicorn.Server(server_config(create_app(components), settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Served(port, key)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        components.engine.dispose()


def read_until_closed(connection: socket.socket, trickle: bytes = b"", within: float = 10.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and the seconds that took; sends one byte of
    ``trickle`` every 0.2 s meanwhile (a slow client's drip, which must not extend its deadline)."""
    start, received = time.monotonic(), b""
    connection.settimeout(0.2)
    while time.monotonic() - start < within:
        try:
            chunk = connection.recv(65_536)
        except TimeoutError:
            if trickle:
                with contextlib.suppress(OSError):  # closed meanwhile: the next recv says so
                    connection.sendall(trickle[:1])
                trickle = trickle[1:]
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    else:
        pytest.fail(f"still open after {within} s")
    return received, time.monotonic() - start


def status_and_body(response: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in header_lines)}
    return int(status_line.split()[1]), headers, json.loads(body) if body else {}


PARTIAL_HEAD = b"POST /v1/traces HTTP/1.1\r\nHost: tracing\r\n"
DRIP = b"X-Slow: " + b"a" * 100


def test_a_stalled_head_is_closed_at_its_deadline(served: Served) -> None:
    with served.connect() as connection:
        connection.sendall(PARTIAL_HEAD)
        received, elapsed = read_until_closed(connection, trickle=DRIP)
    assert received == b""  # nothing was read that could be answered
    assert HEAD_DEADLINE - 0.2 <= elapsed <= HEAD_DEADLINE + SLACK


def test_the_next_heads_deadline_runs_from_the_previous_answer(served: Served) -> None:
    """On a keep-alive connection a second head that stalls is cut like a first."""
    with served.connect() as connection:
        connection.sendall(b"GET /v1/health HTTP/1.1\r\nHost: tracing\r\n\r\n")
        connection.settimeout(5)
        assert connection.recv(65_536).startswith(b"HTTP/1.1 200")
        connection.sendall(b"GET /v1/health HTTP/1.1\r\n")
        received, elapsed = read_until_closed(connection, trickle=DRIP)
    assert received == b""
    assert elapsed <= HEAD_DEADLINE + SLACK


def test_a_stalled_body_is_answered_408_and_closed(served: Served) -> None:
    body = json.dumps(trace_body()).encode()
    head = (
        b"POST /v1/traces HTTP/1.1\r\nHost: tracing\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {served.key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    with served.connect() as connection:
        connection.sendall(head + body[:10])
        received, elapsed = read_until_closed(connection, trickle=body[10:])
    status, headers, problem = status_and_body(received)
    assert status == 408 and headers["content-type"] == "application/problem+json", received
    assert problem["status"] == 408 and headers["connection"] == "close"
    assert BODY_DEADLINE - 0.2 <= elapsed <= BODY_DEADLINE + SLACK


def test_connections_beyond_the_bound_are_refused_503_until_one_closes(served: Served) -> None:
    held = [served.connect() for _ in range(PER_ADDRESS)]
    try:
        with served.connect() as refused:
            refused.sendall(PARTIAL_HEAD)
            received, elapsed = read_until_closed(refused)
        status, headers, problem = status_and_body(received)
        assert status == 503 and problem["status"] == 503 and headers["content-type"] == "application/problem+json"
        assert "retry-after" in headers and elapsed < HEAD_DEADLINE
        held.pop().close()
        time.sleep(0.2)  # the server sees the close
        with served.connect() as admitted:
            admitted.sendall(b"GET /v1/health HTTP/1.1\r\nHost: tracing\r\nConnection: close\r\n\r\n")
            received, _ = read_until_closed(admitted)
        assert received.startswith(b"HTTP/1.1 200"), received
    finally:
        for connection in held:
            connection.close()


def test_an_honest_client_is_answered_while_slow_ones_are_held(served: Served) -> None:
    """Slow clients at their address's bound, heads and bodies half sent: another address is answered at once."""
    slow = [served.connect() for _ in range(PER_ADDRESS)]
    try:
        for i, connection in enumerate(slow):
            connection.sendall(PARTIAL_HEAD + (b"Content-Length: 500\r\n\r\n{" if i % 2 else b""))
        with served.honest() as http:
            start = time.monotonic()
            assert http.get("/v1/health").status_code == 200
            answer = http.post("/v1/traces", json=trace_body(), headers={"Authorization": f"Bearer {served.key}"})
            assert answer.status_code == 200, answer.text
            assert time.monotonic() - start < HEAD_DEADLINE  # answered while every slow one was still held
    finally:
        for connection in slow:
            connection.close()


def test_the_settings_are_read_from_the_environment() -> None:
    from api.settings import ConfigurationError, Settings

    settings = Settings.from_environment(
        {
            "TRACING_HEADER_DEADLINE_SECONDS": "3",
            "TRACING_BODY_DEADLINE_SECONDS": "4",
            "TRACING_CONNECTIONS_PER_ADDRESS": "5",
        }
    )
    assert (settings.header_deadline_seconds, settings.body_deadline_seconds, settings.connections_per_address) == (
        3,
        4,
        5,
    )
    assert Settings.from_environment({}).connections_per_address == Settings.connections_per_address
    with pytest.raises(ConfigurationError, match="TRACING_CONNECTIONS_PER_ADDRESS"):
        Settings.from_environment({"TRACING_CONNECTIONS_PER_ADDRESS": "0"})
