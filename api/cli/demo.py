"""``python -m api demo``: a demo index if there is none, a requester client, a first request printed, serve."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from api.access.clients import ClientStore, Role
from api.cli.common import add_listen_arguments, migrated_engine, settings_of
from api.cli.serve import run as serve
from api.http.examples import IMMIGRATION_REQUEST
from api.wiring import open_register
from matcher.build import BUILD_ERRORS, build_index
from matcher.index import FORMAT_VERSION
from matcher.protection.keys import load_master_key

DEMO_RECORDS = 50_000


def add_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo", help="build a demo index if there is none, add a requester client, print a first request, serve"
    )
    demo.add_argument("--records", type=int, default=DEMO_RECORDS)
    add_listen_arguments(demo)
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from synthetic.population import write_population

    settings = settings_of(args)
    population = settings.index_dir.parent / "population.parquet"
    if _needs_building(settings.index_dir):
        write_population(population, args.records, seed=1)
        print(f"generated {args.records:,} synthetic records in {population}")
        try:
            build_index(population, settings.index_dir)  # as `python -m matcher build` does by default
        except BUILD_ERRORS as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    master_key = load_master_key()
    engine = migrated_engine(settings, master_key)
    store = ClientStore(engine, master_key, open_register(settings, engine, master_key), background_reports=False)
    name = f"demo-requester-{len(store.list()) + 1}"
    # Each demo requester is an organisation of its own, as a client without one was before organisations existed.
    organisation = store.organisations.ensure(name)
    _, key = store.add(name, Role.REQUESTER, organisation=organisation.id)
    body = _demo_request(population)
    url = f"http://{settings.host}:{settings.port}/v1/traces"
    banner = (
        f"\nadded client {name!r}; its API key (shown once): {key}\n"
        f"make a first trace request from another terminal:\n\n"
        f"curl -s {url} -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n"
        f"  -d {shlex.quote(json.dumps(body))}\n\n"
        f"API documentation: http://{settings.host}:{settings.port}/docs\n"
    )
    return serve(args, banner)


def _needs_building(index_dir: Path) -> bool:
    """No demo index yet, or one of an older format (the demo's own, so it is rebuilt rather than refused)."""
    manifest = index_dir / "manifest.json"
    if not manifest.exists():
        return True
    try:
        version = json.loads(manifest.read_text()).get("format_version")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return False  # damaged: loading says so
    if version != FORMAT_VERSION:
        print(f"the demo index at {index_dir} is in format {version}, not {FORMAT_VERSION}: building it again")
        return True
    return False


def _demo_request(population: Path) -> dict:
    """The OpenAPI example's grounds, about a real (synthetic) unrestricted person of the demo index."""
    if not population.exists():
        return IMMIGRATION_REQUEST
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(population, columns=["given_name", "family_name", "date_of_birth", "postcode", "restricted"])
    row = table.filter(pc.invert(table.column("restricted"))).slice(0, 1).to_pylist()[0]
    subject = {
        "given_name": row["given_name"].title(),
        "family_name": row["family_name"].title(),
        "date_of_birth": row["date_of_birth"].isoformat(),
        "postcode": row["postcode"],
    }
    return {**IMMIGRATION_REQUEST, "subject": subject}
