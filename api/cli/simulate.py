"""``python -m api simulate``: a year of requests through the running service over HTTP (``api.cli.simulation``),
then the register's summary."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
from pathlib import Path

from api.cli.common import settings_of


def add_parser(commands: argparse._SubParsersAction) -> None:
    simulate = commands.add_parser(
        "simulate", help="replay a year of trace requests through the service over HTTP and print the summary"
    )
    simulate.add_argument("--year", type=int, default=2017)
    simulate.add_argument("--requests", type=int, default=8_870, help="default: the 2016 rate for a whole year")
    simulate.add_argument("--population", type=Path, help="the index's population (default: the demo's)")
    simulate.add_argument("--keep-database", action="store_true", help="use DATABASE_URL, not a temporary database")
    simulate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import tempfile
    import threading

    import httpx
    import uvicorn

    from api.cli.simulation import SimulationClock, SimulationPlan, simulate, summary_table
    from api.http.app import create_app
    from api.wiring import build_components

    settings = settings_of(args)
    population = args.population or settings.index_dir.parent / "population.parquet"
    if not population.exists():
        raise FileNotFoundError(f"no population at {population}: run `python -m api demo` or give --population")
    plan = SimulationPlan(year=args.year, requests=args.requests)
    clock = SimulationClock(dt.datetime(plan.year, 1, 1, tzinfo=dt.UTC))
    with tempfile.TemporaryDirectory() as tmp:
        if not args.keep_database:
            settings = dataclasses.replace(settings, database_url=f"sqlite:///{tmp}/simulation.db")
        components = build_components(settings, clock=clock)
        server = uvicorn.Server(uvicorn.Config(create_app(components), host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            thread.join(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"replaying {plan.requests:,} requests of {plan.year} through http://127.0.0.1:{port} ...")
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                result = simulate(components.clients, http, clock, population, plan)
        finally:
            server.should_exit = True
            thread.join(10)
            components.engine.dispose()
    reviews = {**result["reviews"], "second_approvals": result["second_approvals"]}
    print(f"answers: {json.dumps(result['statuses'])}; reviews: {json.dumps(reviews)}")
    for line in summary_table(result["summary"]):
        print(line)
    return 0
