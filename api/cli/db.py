"""``python -m api db upgrade|current``: the schema's Alembic revision (serve migrates unless told not to)."""

from __future__ import annotations

import argparse

from api.cli.common import migrated_engine, settings_of
from api.storage.engine import make_engine
from api.storage.migrate import current_revision, head_revision


def add_parser(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="schema migrations").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="bring the database to the latest revision")
    upgrade.add_argument(
        "--no-head-file",
        action="store_true",
        help="the register has entries but has never had a head file (from before head files): migrate it anyway, "
        "then adopt its head with `register adopt-head`",
    )
    upgrade.set_defaults(run=_run)
    db.add_parser("current", help="print the database's revision and the latest").set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    if args.db_command == "upgrade":
        engine = migrated_engine(settings, without_head_file=args.no_head_file)
    else:
        engine = make_engine(settings.database_url)
    print(f"database at revision {current_revision(engine) or 'none'}; latest {head_revision()}")
    return 0
