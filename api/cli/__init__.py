"""``python -m api``: serve, demo, clients, register and db commands. Configuration comes from api.config."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shlex
import sys
from pathlib import Path

from api.access.clients import ClientError, ClientStore, Role
from api.audit.register import AuditRegister
from api.audit.transparency import export_csv
from api.http.examples import IMMIGRATION_REQUEST
from api.policy.versions import NoPolicyInForce
from api.settings import DEFAULT_INDEX_DIR, ConfigurationError, Settings
from api.storage.migrate import SchemaOutOfDate, current_revision, head_revision, upgrade
from api.storage.tables import make_engine
from matcher.index import DamagedIndexError
from matcher.keys import KeyConfigurationError, load_master_key
from matcher.payload import TamperedPayloadError

DEMO_RECORDS = 50_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (uvicorn) on the configured index and database")
    demo = commands.add_parser(
        "demo", help="build a demo index if there is none, add a requester client, print a first request, serve"
    )
    demo.add_argument("--records", type=int, default=DEMO_RECORDS)
    for command in (serve, demo):
        command.add_argument("--host", help="default: TRACING_HOST or 127.0.0.1")
        command.add_argument("--port", type=int, help="default: TRACING_PORT or 8000")

    clients = commands.add_parser("clients", help="add, revoke or list API clients").add_subparsers(
        dest="clients_command", required=True
    )
    add = clients.add_parser("add", help="add a client and print its API key (shown once)")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--rate-per-minute", type=int, help="this client's own rate limit (default: the service's)")
    add.add_argument(
        "--organisation",
        help="whom the client acts for (default: its name); reviewers never decide their own organisation's requests",
    )
    revoke = clients.add_parser("revoke", help="revoke a client's key at once")
    revoke.add_argument("--name", required=True)
    clients.add_parser("list", help="list clients (never their keys)")

    register = commands.add_parser("register", help="the audit register").add_subparsers(
        dest="register_command", required=True
    )
    verify = register.add_parser("verify", help="check every link of the hash chain; exit 1 if one is broken")
    verify.add_argument("--anchor", help="SEQUENCE:HASH printed by an earlier verify, to detect removed newest entries")
    export = register.add_parser("export", help="write the register's entries as CSV (no subject detail is in them)")
    export.add_argument("--from", dest="start", type=_date, help="first UTC day, YYYY-MM-DD")
    export.add_argument("--to", dest="end", type=_date, help="last UTC day, YYYY-MM-DD")
    export.add_argument("--out", type=Path, required=True)

    simulate = commands.add_parser(
        "simulate", help="replay a year of trace requests through the service over HTTP and print the summary"
    )
    simulate.add_argument("--year", type=int, default=2017)
    simulate.add_argument("--requests", type=int, default=8_870, help="default: the 2016 rate for a whole year")
    simulate.add_argument("--population", type=Path, help="the index's population (default: the demo's)")
    simulate.add_argument("--keep-database", action="store_true", help="use DATABASE_URL, not a temporary database")

    retention = commands.add_parser("retention", help="the policy's retention period").add_subparsers(
        dest="retention_command", required=True
    )
    retention.add_parser("apply", help="expire review cases past the retention period (also done at start)")

    db = commands.add_parser("db", help="schema migrations").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="bring the database to the latest revision")
    db.add_parser("current", help="print the database's revision and the latest")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "serve": _serve,
        "demo": _demo,
        "clients": _clients,
        "register": _register,
        "retention": _retention,
        "simulate": _simulate,
        "db": _db,
    }
    try:
        return handlers[args.command](args)
    except (
        ConfigurationError,
        KeyConfigurationError,
        ClientError,
        SchemaOutOfDate,
        NoPolicyInForce,
        FileNotFoundError,
        TamperedPayloadError,
        DamagedIndexError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_environment()
    overrides = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    return Settings(**{**settings.__dict__, **overrides})


def _migrated_engine(settings: Settings):
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine


def _serve(args: argparse.Namespace, banner: str = "") -> int:
    import uvicorn

    from api.http.app import build_components, create_app

    settings = _settings(args)
    if not (settings.index_dir / "manifest.json").exists():
        hint = " (run `python -m api demo` to build a demo index)" if settings.index_dir == DEFAULT_INDEX_DIR else ""
        raise FileNotFoundError(f"no index at {settings.index_dir}: set TRACING_INDEX_DIR{hint}")
    components = build_components(settings)
    for name, value in settings.describe().items():
        print(f"{name:>11}: {value}")
    print(f"{'records':>11}: {len(components.service.tracer.index):,}")
    if banner:
        print(banner)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    # uvicorn's access log would write the path as sent and its query string: api.app.OuterGuard writes the route.
    uvicorn.run(create_app(components), host=settings.host, port=settings.port, log_level="info", access_log=False)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from matcher.cli import main as matcher_main
    from synthetic.population import write_population

    settings = _settings(args)
    population = settings.index_dir.parent / "population.parquet"
    if not (settings.index_dir / "manifest.json").exists():
        write_population(population, args.records, seed=1)
        print(f"generated {args.records:,} synthetic records in {population}")
        if matcher_main(["build", "--population", str(population), "--out", str(settings.index_dir)]):
            return 2
    load_master_key()
    store = ClientStore(_migrated_engine(settings))
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
    return _serve(args, banner)


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


def _clients(args: argparse.Namespace) -> int:
    store = ClientStore(_migrated_engine(_settings(args)))
    if args.clients_command == "add":
        client, key = store.add(args.name, args.role, args.rate_per_minute, args.organisation)
        print(f"added client {client.name!r} ({client.role.value}); its API key, shown this once:")
        print(key)
    elif args.clients_command == "revoke":
        client = store.revoke(args.name)
        print(f"revoked client {client.name!r} at {client.revoked_at}")
    else:
        for c in store.list():
            state = f"revoked {c.revoked_at}" if c.revoked_at else "active"
            rate = f"{c.rate_per_minute}/min" if c.rate_per_minute else "default rate"
            print(f"{c.id:>4}  {c.name:<30} {c.role.value:<10} {rate:<14} {state}")
    return 0


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("a date is YYYY-MM-DD") from None


def _register(args: argparse.Namespace) -> int:
    if args.register_command == "export":
        register = AuditRegister(_migrated_engine(_settings(args)), load_master_key())
        count = export_csv(register.entries(args.start, args.end), args.out)
        print(f"wrote {count:,} entries to {args.out}")
        return 0
    anchor = None
    if args.anchor:
        sequence, _, digest = args.anchor.partition(":")
        if not sequence.isdigit() or len(digest) != 64:
            raise ConfigurationError("--anchor is SEQUENCE:HASH as printed by `register verify`")
        anchor = (int(sequence), digest)
    register = AuditRegister(_migrated_engine(_settings(args)), load_master_key())
    result = register.verify(anchor)
    if not result.ok:
        print(f"BROKEN at entry {result.broken_at}: {result.problem}")
        print(f"the chain is intact up to entry {result.head_sequence}")
        return 1
    print(f"register intact: {result.entries:,} entries; head {result.head_sequence}:{result.head_hash}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import tempfile
    import threading

    import httpx
    import uvicorn

    from api.cli.simulate import SimulationClock, SimulationPlan, simulate, summary_table
    from api.http.app import build_components, create_app

    settings = _settings(args)
    population = args.population or settings.index_dir.parent / "population.parquet"
    if not population.exists():
        raise FileNotFoundError(f"no population at {population}: run `python -m api demo` or give --population")
    plan = SimulationPlan(year=args.year, requests=args.requests)
    clock = SimulationClock(dt.datetime(plan.year, 1, 1, tzinfo=dt.UTC))
    with tempfile.TemporaryDirectory() as tmp:
        if not args.keep_database:
            settings = Settings(**{**settings.__dict__, "database_url": f"sqlite:///{tmp}/simulation.db"})
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
    print(f"answers: {json.dumps(result['statuses'])}; reviews: {json.dumps(result['reviews'])}")
    for line in summary_table(result["summary"]):
        print(line)
    return 0


def _retention(args: argparse.Namespace) -> int:
    from api.audit.register import SubjectTokens
    from api.policy.versions import PolicyBook
    from api.review.queue import ReviewStore
    from api.usecases.service import TraceService

    settings = _settings(args)
    engine, key = _migrated_engine(settings), load_master_key()
    register = AuditRegister(engine, key)
    # No index is needed to expire cases: the service is built without a tracer.
    service = TraceService(
        None, PolicyBook.load(settings.policy_dir), register, SubjectTokens(key), ReviewStore(engine, key)
    )
    expired = service.apply_retention()
    print(f"expired {len(expired):,} review cases past {service.policy_in_force().retention_days} days")
    return 0


def _db(args: argparse.Namespace) -> int:
    engine = make_engine(_settings(args).database_url)
    if args.db_command == "upgrade":
        upgrade(engine)
    print(f"database at revision {current_revision(engine) or 'none'}; latest {head_revision()}")
    return 0
