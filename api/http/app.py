"""The HTTP service: ``create_app(components)`` makes the ASGI application around the wired parts.

Routers per resource (``api.http.routes``), problem documents for every error (``api.http.problems``), the outer
guard and access log (``api.http.middleware``), the OpenAPI document (``api.http.openapi``), and the dispatcher
whose one thread handles the trace requests that arrive together (``api.http.dispatch``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.http import examples
from api.http.dispatch import Dispatcher
from api.http.middleware import OuterGuard
from api.http.openapi import use_document
from api.http.problems import add_problem_handlers
from api.http.routes import collection, health, register, reviews, traces
from api.wiring import Components


def create_app(components: Components | None) -> FastAPI:
    """The application; ``None`` makes one that serves only its OpenAPI document."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(app.state.dispatcher.close)
        if components is not None:  # after the last answer: the head file names the last entry written
            await asyncio.to_thread(components.service.register.close)

    app = FastAPI(
        lifespan=lifespan,
        title="Approved-trace service",
        version="1.0.0",
        description=examples.DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        # The routers' routes themselves, in the order the OpenAPI document lists them: ``app.routes`` stays a
        # list of routes (recent FastAPI keeps an included router there as one entry that stands for its routes).
        routes=[route for module in (traces, register, reviews, collection, health) for route in module.router.routes],
    )
    app.state.components = components
    app.state.dispatcher = Dispatcher(lambda calls: traces.handle_traces(components, calls))
    add_problem_handlers(app)
    app.add_middleware(OuterGuard)
    use_document(app)
    return app
