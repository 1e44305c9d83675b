"""``python -m api``: the service's commands, one module per command group.

Configuration comes from the environment (``api.settings``). An error a user can fix (a setting, the key, a
client, the schema, the policy, a missing or damaged file, a register that disagrees with its head file) is printed
as one line, and the exit status is 2.
"""

from __future__ import annotations

import argparse
import sys

from api.access.clients import ClientError
from api.audit.register import RegisterHeadError
from api.cli import clients, db, demo, organisations, register, retention, serve, simulate
from api.policy.versions import NoPolicyInForce
from api.settings import ConfigurationError
from api.storage.foreign import ForeignObjectsFound
from api.storage.migrate import SchemaOutOfDate
from matcher.index import DamagedIndexError, OldIndexFormatError
from matcher.protection.keys import KeyConfigurationError
from matcher.protection.payload import TamperedPayloadError

DESCRIPTION = (
    "``python -m api``: serve, demo, organisations, clients, register and db commands. Configuration comes from "
    "api.settings."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (serve, demo, organisations, clients, register, simulate, retention, db):
        group.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (
        ConfigurationError,
        KeyConfigurationError,
        ClientError,
        SchemaOutOfDate,
        NoPolicyInForce,
        FileNotFoundError,
        TamperedPayloadError,
        DamagedIndexError,
        OldIndexFormatError,
        RegisterHeadError,
        ForeignObjectsFound,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
