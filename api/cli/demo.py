"""``python -m api demo``: a demo index if there is none, a requester client, a first request printed, serve."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from api.access.clients import ClientStore, Role
from api.cli import serve
from api.cli.common import add_listen_arguments, migrated_engine, settings_of
from api.http.examples import IMMIGRATION_REQUEST
from matcher.keys import load_master_key

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
    if not (settings.index_dir / "manifest.json").exists():
        write_population(population, args.records, seed=1)
        print(f"generated {args.records:,} synthetic records in {population}")
        if not build_index(population, settings.index_dir):
            return 2
    load_master_key()
    store = ClientStore(migrated_engine(settings))
    name = f"demo-requester-{len(store.list()) + 1}"
    _, key = store.add(name, Role.REQUESTER)
    body = _demo_request(population)
    url = f"http://{settings.host}:{settings.port}/v1/traces"
    banner = (
        f"\nadded client {name!r}; its API key (shown once): {key}\n"
        f"make a first trace request from another terminal:\n\n"
        f"curl -s {url} -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n"
        f"  -d {shlex.quote(json.dumps(body))}\n\n"
        f"API documentation: http://{settings.host}:{settings.port}/docs\n"
    )
    return serve.run(args, banner)


def build_index(population: Path, out: Path) -> bool:
    """What ``python -m matcher build --population POPULATION --out OUT`` does by default, as library calls and
    with the same lines printed: index the population, train the model on 20,000 unlabelled requests drawn from it
    (typical profile, seed 7,919), save. On an error that command exits 2 for, the error is printed and the answer
    is False. The tracing core's calls are all here, so that a change of their paths is made in one place."""
    import time

    import pyarrow.parquet as pq

    from matcher.index import Index
    from matcher.keys import KeyConfigurationError
    from matcher.payload import TamperedPayloadError
    from matcher.training import fit_model
    from synthetic.profiles import PROFILES
    from synthetic.requests import generate_requests

    try:
        start = time.perf_counter()
        key = load_master_key()
        index = Index.build(pq.read_table(population), key)
        print(f"indexed {len(index):,} records in {time.perf_counter() - start:.1f} s")
        training = generate_requests(population, 20_000, PROFILES["typical"], 0.3, seed=7_919).requests
        start = time.perf_counter()
        model = fit_model(index, training)
        print(
            f"trained on {training.num_rows:,} unlabelled requests in {time.perf_counter() - start:.1f} s; "
            f"prior share in index {model.in_index:.3f}"
        )
        index.with_model(model).save(out)
        print(f"wrote {out}")
    except (FileNotFoundError, FileExistsError, ValueError, KeyConfigurationError, TamperedPayloadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return False
    return True


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
