"""The outermost layer of the application: the last word on an unexpected error, and the access log.

An unexpected error becomes a plain 500 problem, logged as its type and where it happened, never its message or
locals, which may hold a subject's details. And one access-log line per request (logger ``api.access``): method,
route template, status, time; not the path as sent, its query string or the client's address, any of which may
carry what a requester typed (uvicorn's own access log is off).
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.problems import problem_response, route_template, status_problem
from api.usecases.denials import log_unexpected

_access = logging.getLogger("api.access")


class OuterGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 0

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except Exception as error:
            log_unexpected(error)
            if status:
                raise RuntimeError("response already started") from None
            response = problem_response(status_problem(500, "an internal error occurred"), route_template(scope))
            await response(scope, receive, recording_send)
        finally:
            route = route_template(scope) or "(no route)"
            elapsed = (time.perf_counter() - start) * 1000
            _access.info("%s %s %d %.1f ms", scope["method"], route, status, elapsed)
