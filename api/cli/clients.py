"""``python -m api clients add|revoke|set-role|set-rate|list``: who may call the service, for which organisation.

A key is printed once, only its hash kept. Every change is a register entry written with it, and every row is
sealed with a keyed MAC (``api.access.clients``): these commands need the master key.
"""

from __future__ import annotations

import argparse

from api.access.clients import ClientRecord, ClientStore, Role
from api.cli.common import migrated_engine, settings_of
from api.wiring import open_register
from matcher.protection.keys import load_master_key


def add_parser(commands: argparse._SubParsersAction) -> None:
    clients = commands.add_parser("clients", help="add, revoke, change or list API clients").add_subparsers(
        dest="clients_command", required=True
    )
    add = clients.add_parser("add", help="add a client and print its API key (shown once)")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--rate-per-minute", type=int, help="this client's own rate limit (default: the service's)")
    # Required, not defaulted to the client's own: a reviewer added without it would be an organisation of its own,
    # and could decide the requests of the organisation it really acts for.
    add.add_argument(
        "--organisation",
        required=True,
        help="the id (or name) of an existing organisation it acts for (`organisations add`); reviewers never "
        "decide their own organisation's requests",
    )
    add.set_defaults(run=_add)
    revoke = clients.add_parser("revoke", help="revoke a client's key at once")
    revoke.add_argument("--name", required=True)
    revoke.set_defaults(run=_revoke)
    role = clients.add_parser("set-role", help="change an active client's role")
    role.add_argument("--name", required=True)
    role.add_argument("--role", required=True, choices=[r.value for r in Role])
    role.set_defaults(run=_set_role)
    rate = clients.add_parser("set-rate", help="change an active client's own rate limit")
    rate.add_argument("--name", required=True)
    given = rate.add_mutually_exclusive_group(required=True)
    given.add_argument("--rate-per-minute", type=int)
    given.add_argument("--default", action="store_true", help="the service's default rate")
    rate.set_defaults(run=_set_rate)
    clients.add_parser("list", help="list clients (never their keys)").set_defaults(run=_list)


def _store(args: argparse.Namespace) -> ClientStore:
    key = load_master_key()
    settings = settings_of(args)
    engine = migrated_engine(settings, key)
    # The register with its head file: a change of rights is covered by the head as soon as it is made.
    return ClientStore(engine, key, open_register(settings, engine, key), background_reports=False)


def _add(args: argparse.Namespace) -> int:
    client, key = _store(args).add(args.name, args.role, args.rate_per_minute, organisation=args.organisation)
    print(f"added client {client.name!r} ({client.role.value} of {client.organisation}); its API key, shown once:")
    print(key)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    client = _store(args).revoke(args.name)
    print(f"revoked client {client.name!r} at {client.revoked_at}")
    return 0


def _set_role(args: argparse.Namespace) -> int:
    client = _store(args).set_role(args.name, args.role)
    print(f"client {client.name!r} is now a {client.role}")
    return 0


def _set_rate(args: argparse.Namespace) -> int:
    client = _store(args).set_rate(args.name, None if args.default else args.rate_per_minute)
    print(f"client {client.name!r}: {_rate(client)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    for c in _store(args).list():
        state = f"revoked {c.revoked_at}" if c.revoked_at else "active"
        if not c.intact:
            state = "REFUSED: the row fails its MAC (edited outside the service)"
        print(f"{c.id:>4}  {c.name:<30} {c.role!s:<10} {c.organisation:<30} {_rate(c):<14} {state}")
    return 0


def _rate(client: ClientRecord) -> str:
    return f"{client.rate_per_minute}/min" if client.rate_per_minute else "default rate"
