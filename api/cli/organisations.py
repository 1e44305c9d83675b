"""``python -m api organisations add|list``: whom clients act for, one id however the name is spelt.

Adding an organisation is a register entry written with it, and its row is sealed with a keyed MAC: these commands
need the master key.
"""

from __future__ import annotations

import argparse

from api.access.organisations import OrganisationStore
from api.cli.common import migrated_engine, settings_of
from api.wiring import open_register
from matcher.protection.keys import load_master_key


def add_parser(commands: argparse._SubParsersAction) -> None:
    organisations = commands.add_parser("organisations", help="add or list organisations").add_subparsers(
        dest="organisations_command", required=True
    )
    add = organisations.add_parser("add", help="add an organisation and print its id")
    add.add_argument("--name", required=True, help="its name; the id is the name lowercased, separators made hyphens")
    add.set_defaults(run=_add)
    organisations.add_parser("list", help="list organisations").set_defaults(run=_list)


def _store(args: argparse.Namespace) -> OrganisationStore:
    key = load_master_key()
    settings = settings_of(args)
    engine = migrated_engine(settings, key)
    return OrganisationStore(engine, key, open_register(settings, engine, key))


def _add(args: argparse.Namespace) -> int:
    print(_store(args).add(args.name).id)
    return 0


def _list(args: argparse.Namespace) -> int:
    for o in _store(args).list():
        state = "" if o.intact else "  REFUSED: the row fails its MAC (edited outside the service)"
        print(f"{o.id:<40} {o.name:<40} {o.created_at}{state}")
    return 0
