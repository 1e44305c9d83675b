"""``python -m api serve``: the service on the configured index and database, until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from api.cli.common import add_listen_arguments, settings_of
from api.settings import Settings

if TYPE_CHECKING:  # uvicorn is imported when the service runs, not when the command line is parsed
    import uvicorn
    from starlette.types import ASGIApp as ASGIApplication


def add_parser(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="run the service (uvicorn) on the configured index and database")
    add_listen_arguments(serve)
    serve.set_defaults(run=run)


def run(args: argparse.Namespace, banner: str = "") -> int:
    import uvicorn

    from api.http.app import create_app
    from api.wiring import build_components

    settings = settings_of(args)
    if not (settings.index_dir / "manifest.json").exists():
        hint = " (run `python -m api demo` to build a demo index)" if settings.index_dir == Settings.index_dir else ""
        raise FileNotFoundError(f"no index at {settings.index_dir}: set TRACING_INDEX_DIR{hint}")
    components = build_components(settings)
    for name, value in settings.describe().items():
        print(f"{name:>11}: {value}")
    print(f"{'records':>11}: {len(components.service.tracer.index):,}")
    if banner:
        print(banner)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    server = uvicorn.Server(server_config(create_app(components), settings))
    server.run()
    return 0 if server.started else 3  # as uvicorn.run: it never started (the port was taken, say)


def server_config(app: ASGIApplication, settings: Settings) -> uvicorn.Config:
    """uvicorn's configuration for the service: the guarded protocol, which cuts slow and stalled clients
    (``api.http.connections``), and no WebSocket (the service has none)."""
    import uvicorn

    from api.http.connections import ConnectionGuard, Deadlines, protocol_factory

    guard = ConnectionGuard(settings.connections_per_address)  # one per server: its counts are its connections'
    deadlines = Deadlines(settings.header_deadline_seconds, settings.body_deadline_seconds)
    # uvicorn's access log would write the path as sent and its query string: api.http.middleware writes the route.
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        http=protocol_factory(guard, deadlines),
        ws="none",
    )
