"""``python -m api register verify|export``: check the hash chain; write the entries as CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

from api.access.replay import replay
from api.access.rows import RowMacs
from api.audit.register import AuditRegister
from api.audit.transparency import export_csv
from api.cli.common import date_argument, migrated_engine, settings_of
from api.settings import ConfigurationError
from matcher.protection.keys import load_master_key


def add_parser(commands: argparse._SubParsersAction) -> None:
    register = commands.add_parser("register", help="the audit register").add_subparsers(
        dest="register_command", required=True
    )
    verify = register.add_parser(
        "verify",
        help="check every link of the hash chain, and the clients and organisations against its changes of rights; "
        "exit 1 if either fails",
    )
    verify.add_argument("--anchor", help="SEQUENCE:HASH printed by an earlier verify, to detect removed newest entries")
    verify.set_defaults(run=_verify)
    export = register.add_parser("export", help="write the register's entries as CSV (no subject detail is in them)")
    export.add_argument("--from", dest="start", type=date_argument, help="first UTC day, YYYY-MM-DD")
    export.add_argument("--to", dest="end", type=date_argument, help="last UTC day, YYYY-MM-DD")
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(run=_export)


def _register(args: argparse.Namespace) -> AuditRegister:
    key = load_master_key()
    return AuditRegister(migrated_engine(settings_of(args), key), key)


def _export(args: argparse.Namespace) -> int:
    count = export_csv(_register(args).entries(args.start, args.end), args.out)
    print(f"wrote {count:,} entries to {args.out}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    anchor = None
    if args.anchor:
        sequence, _, digest = args.anchor.partition(":")
        if not sequence.isdigit() or len(digest) != 64:
            raise ConfigurationError("--anchor is SEQUENCE:HASH as printed by `register verify`")
        anchor = (int(sequence), digest)
    register = _register(args)
    result = register.verify(anchor)
    if not result.ok:
        print(f"BROKEN at entry {result.broken_at}: {result.problem}")
        print(f"the chain is intact up to entry {result.head_sequence}")
        return 1
    rights = _verify_rights(register)
    print(f"register intact: {result.entries:,} entries; head {result.head_sequence}:{result.head_hash}")
    return rights


def _verify_rights(register: AuditRegister) -> int:
    """The clients and organisations tables replayed against the register's changes of rights: 1 if a row differs."""
    findings = replay(register.engine, register, RowMacs(load_master_key()))
    for finding in findings:
        print(f"TAMPERED {finding.describe()}")
    if findings:
        print(f"{len(findings)} clients or organisations rows are not as the register's changes left them")
        return 1
    print("clients and organisations: as the register's changes left them")
    return 0
