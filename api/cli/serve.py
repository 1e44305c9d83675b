"""``python -m api serve``: the service on the configured index and database, until Ctrl-C."""

from __future__ import annotations

import argparse
import logging

from api.cli.common import add_listen_arguments, settings_of
from api.settings import Settings


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
    # uvicorn's access log would write the path as sent and its query string: api.http.middleware writes the route.
    uvicorn.run(create_app(components), host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0
