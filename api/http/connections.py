"""Slow or stalled clients cut at the connection, before any key check: deadlines for a request's head and body,
and a bound on the connections one client address holds open.

uvicorn bounds neither: its keep-alive timeout stops at a connection's first byte, and nothing limits how long a
head or a body may take after it, so a client trickling a byte every few seconds held its connection (and, for a
body, the coroutine reading it) for as long as it liked; 300 such bodies were all still open after 20 s.
``GuardedProtocol`` is uvicorn's httptools protocol with

- a head deadline: a request head not complete that long after the connection opened, or after the previous
  answer left (keep-alive), closes the connection; nothing has been read that could be answered;
- a body deadline: the app answers 408 at it, and closes the connection (``api.http.params.read_body``); a body
  still incomplete a moment later (a route that never reads it, an app that is stuck) has its connection closed
  here;
- a per-address bound: a connection beyond ``ConnectionGuard.per_address`` from one client address is answered 503
  (a problem document) and closed before anything it sent is read.

The address is the TCP peer's: behind a reverse proxy every connection is the proxy's, so there the bound must be
set above the proxy's own connection count (or the proxy bound its clients itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from api.http.problems import problem_response, status_problem
from api.usecases.denials import RETRY_SOON

_log = logging.getLogger("api.connections")

BODY_GRACE_SECONDS = 1.0
"""After the body deadline, how long the app has to send its 408 before the connection is closed without one."""

REFUSED_LINGER_SECONDS = 1.0
"""How long a refused connection stays half-open after its 503: closed at once with the client's request unread,
the kernel would reset it, and a reset can reach the client before it has read the 503."""


class ConnectionGuard:
    """The connections each client address holds open, shared by the protocol instances of one server. They all
    run on the server's one event loop thread, so the counts need no lock."""

    def __init__(self, per_address: int) -> None:
        self.per_address = per_address
        self._open: Counter[str] = Counter()

    def admit(self, address: str) -> bool:
        """Count one more connection from ``address``, unless it already holds ``per_address``."""
        if self._open[address] >= self.per_address:
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        """An admitted connection has closed."""
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]  # an address that has gone leaves nothing behind


@dataclass(frozen=True)
class Deadlines:
    head_seconds: float
    body_seconds: float


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the deadlines and the per-address bound; made per connection by uvicorn,
    so ``guard`` and ``deadlines`` are bound in beforehand (``protocol_factory``)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        guard: ConnectionGuard,
        deadlines: Deadlines,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._guard = guard
        self._deadlines = deadlines
        self._address: str | None = None  # set once admitted: only an admitted connection is released
        self._refused = False
        self._reading_body = False  # between a head's end and its body's
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        if not self._guard.admit(address):
            self._refuse()
            return
        self._address = address
        self._arm(self._deadlines.head_seconds, self._head_overdue)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._address is not None:
            self._guard.release(self._address)
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # a refused client's request is never read
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._reading_body = True
        super().on_headers_complete()
        self._arm(self._deadlines.body_seconds + BODY_GRACE_SECONDS, self._body_overdue)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._reading_body = False
        # Answered before its body ended (a 401, say): the next head's time starts now, not at that answer.
        if self.cycle.response_complete and not self.pipeline and not self.transport.is_closing():
            self._arm(self._deadlines.head_seconds, self._head_overdue)

    def on_response_complete(self) -> None:
        # A pipelined request's head is already in; a body still arriving keeps its own deadline.
        next_head_awaited = not self.pipeline and not self._reading_body
        super().on_response_complete()
        if next_head_awaited and not self.transport.is_closing():
            self._arm(self._deadlines.head_seconds, self._head_overdue)

    def _refuse(self) -> None:
        self._refused = True
        detail = f"this address already holds {self._guard.per_address} connections; retry later"
        response = problem_response(status_problem(503, detail, headers={"Retry-After": f"{RETRY_SOON:g}"}))
        head = [STATUS_LINE[503], *(name + b": " + value + b"\r\n" for name, value in response.raw_headers)]
        self.transport.write(b"".join([*head, b"connection: close\r\n\r\n", response.body]))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._arm(REFUSED_LINGER_SECONDS, self._close)

    def _head_overdue(self) -> None:
        _log.debug("no request head within %g s: connection closed", self._deadlines.head_seconds)
        self._close()

    def _body_overdue(self) -> None:
        _log.debug("no request body within %g s: connection closed", self._deadlines.body_seconds)
        self._close()

    def _close(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _arm(self, seconds: float, overdue: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, overdue)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def protocol_factory(guard: ConnectionGuard, deadlines: Deadlines) -> type[asyncio.Protocol]:
    """What uvicorn's ``http=`` takes: a callable it calls like the protocol class, per connection."""

    def make(*args: Any, **kwargs: Any) -> GuardedProtocol:
        return GuardedProtocol(*args, guard=guard, deadlines=deadlines, **kwargs)

    return make  # type: ignore[return-value]
