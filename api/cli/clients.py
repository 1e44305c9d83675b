"""``python -m api clients add|revoke|list``: who may call the service; a key is printed once, only its hash kept."""

from __future__ import annotations

import argparse

from api.access.clients import ClientStore, Role
from api.cli.common import migrated_engine, settings_of


def add_parser(commands: argparse._SubParsersAction) -> None:
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
    add.set_defaults(run=_add)
    revoke = clients.add_parser("revoke", help="revoke a client's key at once")
    revoke.add_argument("--name", required=True)
    revoke.set_defaults(run=_revoke)
    clients.add_parser("list", help="list clients (never their keys)").set_defaults(run=_list)


def _store(args: argparse.Namespace) -> ClientStore:
    return ClientStore(migrated_engine(settings_of(args)))


def _add(args: argparse.Namespace) -> int:
    client, key = _store(args).add(args.name, args.role, args.rate_per_minute, args.organisation)
    print(f"added client {client.name!r} ({client.role.value}); its API key, shown this once:")
    print(key)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    client = _store(args).revoke(args.name)
    print(f"revoked client {client.name!r} at {client.revoked_at}")
    return 0


def _list(args: argparse.Namespace) -> int:
    for c in _store(args).list():
        state = f"revoked {c.revoked_at}" if c.revoked_at else "active"
        rate = f"{c.rate_per_minute}/min" if c.rate_per_minute else "default rate"
        print(f"{c.id:>4}  {c.name:<30} {c.role.value:<10} {rate:<14} {state}")
    return 0
