"""``python -m api register verify|export|adopt-head``: check the hash chain and its head file; write the entries as
CSV; adopt the register's head when its head file is missing or disagrees (recorded as an entry)."""

from __future__ import annotations

import argparse
import datetime as dt
import uuid
from pathlib import Path

from api.access.replay import replay
from api.access.rows import RowMacs
from api.audit.entry import EntryDraft
from api.audit.head import HeadFile, HeadFileError, head_path
from api.audit.outcomes import RegisterOutcome
from api.audit.register import AuditRegister
from api.audit.transparency import export_csv
from api.cli.common import date_argument, migrated_engine, settings_of
from api.review.integrity import RowSeal
from api.review.replay import replay as replay_reviews
from api.settings import ConfigurationError
from api.storage.foreign import foreign_objects
from api.storage.migrate import head_revision
from api.usecases.service import SERVICE
from matcher.protection.keys import load_master_key


def add_parser(commands: argparse._SubParsersAction) -> None:
    register = commands.add_parser("register", help="the audit register").add_subparsers(
        dest="register_command", required=True
    )
    verify = register.add_parser(
        "verify",
        help="check every link of the hash chain and the register's head file, the clients and organisations "
        "against its changes of rights and the held requests against its review steps; exit 1 if any fails",
    )
    verify.add_argument("--anchor", help="SEQUENCE:HASH printed by an earlier verify, to detect removed newest entries")
    verify.add_argument("--head-file", type=Path, help="the head file to check against (default: the service's)")
    verify.set_defaults(run=_verify)
    export = register.add_parser("export", help="write the register's entries as CSV (no subject detail is in them)")
    export.add_argument("--from", dest="start", type=date_argument, help="first UTC day, YYYY-MM-DD")
    export.add_argument("--to", dest="end", type=date_argument, help="last UTC day, YYYY-MM-DD")
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(run=_export)
    adopt = register.add_parser(
        "adopt-head",
        help="write a head file for the register as it stands, once its chain verifies (recorded as an entry)",
    )
    adopt.add_argument(
        "--replace", action="store_true", help="also over a head file that fails its check or names another head"
    )
    adopt.set_defaults(run=_adopt)


def _register(args: argparse.Namespace, head_file: Path | None = None) -> tuple[AuditRegister, HeadFile | None]:
    """The register (it does not check the head file itself: the command does) and its head file, if any."""
    settings, key = settings_of(args), load_master_key()
    path = head_file or head_path(settings.database_url, settings.register_head_dir)
    return AuditRegister(migrated_engine(settings, key), key), HeadFile(path, key, head_revision()) if path else None


def _export(args: argparse.Namespace) -> int:
    count = export_csv(_register(args)[0].entries(args.start, args.end), args.out)
    print(f"wrote {count:,} entries to {args.out}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    anchor = None
    if args.anchor:
        sequence, _, digest = args.anchor.partition(":")
        if not sequence.isdigit() or len(digest) != 64:
            raise ConfigurationError("--anchor is SEQUENCE:HASH as printed by `register verify`")
        anchor = (int(sequence), digest)
    register, head = _register(args, args.head_file)
    unchecked = None  # why the newest entries cannot be checked, if they cannot
    try:
        checkpoint = head.read() if head else None
    except HeadFileError as error:
        checkpoint, unchecked = None, str(error)
    if head is not None and checkpoint is None and unchecked is None and register.newest() is not None:
        unchecked = f"the register has entries but no head file at {head.path}: its newest entries cannot be checked"
    result = register.verify(anchor, checkpoint)
    if not result.ok:
        print(f"BROKEN at entry {result.broken_at}: {result.problem}")
        print(f"the chain is intact up to entry {result.head_sequence}")
        return 1
    if unchecked is not None:  # the links are worth knowing about before a head is adopted
        print(f"BROKEN: {unchecked}")
        print(f"every link holds: {result.entries:,} entries; head {result.head_sequence}:{result.head_hash}")
        return 1
    print(f"register intact: {result.entries:,} entries; head {result.head_sequence}:{result.head_hash}")
    if checkpoint is not None:
        print(f"head file {head.path}: entry {checkpoint.sequence}, written {checkpoint.written_at}")
    foreign = foreign_objects(register.engine)
    for found in foreign:
        print(f"FOREIGN {found}: the service did not create it, and does not start while it is there")
    return max(_verify_rights(register), _verify_reviews(register), 1 if foreign else 0)


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


def _verify_reviews(register: AuditRegister) -> int:
    """The held requests' rows replayed against the register's review steps: 1 if a row differs or is gone."""
    findings = replay_reviews(register.engine, register, RowSeal(load_master_key()))
    for finding in findings:
        print(f"TAMPERED {finding.describe()}")
    if findings:
        print(f"{len(findings)} held requests' rows are not as the register's review steps left them")
        return 1
    print("held requests: as the register's review steps left them")
    return 0


def _adopt(args: argparse.Namespace) -> int:
    register, head = _register(args)
    if head is None:
        raise ConfigurationError("an in-memory database has no head file")
    result = register.verify()
    if not result.ok:
        print(f"BROKEN at entry {result.broken_at}: {result.problem}; nothing adopted")
        return 1
    try:
        checkpoint, reason, problem = head.read(), "head_file_missing", None
    except HeadFileError as error:
        checkpoint, reason, problem = None, "head_file_failed_check", str(error)
    if checkpoint is not None:
        problem = register.against(checkpoint)
        if problem is None:
            print(f"the head file {head.path} agrees with the register (entry {checkpoint.sequence}): nothing to adopt")
            return 0
        reason = "head_file_disagreed"
    if problem is not None and not args.replace:
        print(f"{problem}: find out why, then pass --replace to adopt the register's head over the head file")
        return 1
    draft = EntryDraft(
        str(uuid.uuid4()), SERVICE.id, SERVICE.name, RegisterOutcome.HEAD_ADOPTED, 0, refusal_codes=(reason,)
    )
    entry = register.append(draft, dt.datetime.now(dt.UTC))
    head.replace(entry.sequence, entry.entry_hash)
    print(
        f"adopted the register's head at entry {result.head_sequence} ({reason.replace('_', ' ')}); recorded as "
        f"entry {entry.sequence}; head file {head.path}"
    )
    return 0
