"""``python -m api retention apply``: expire the review cases past the policy's retention period (no index needed)."""

from __future__ import annotations

import argparse

from api.cli.common import migrated_engine, settings_of


def add_parser(commands: argparse._SubParsersAction) -> None:
    retention = commands.add_parser("retention", help="the policy's retention period").add_subparsers(
        dest="retention_command", required=True
    )
    apply = retention.add_parser("apply", help="expire review cases past the retention period (also done at start)")
    apply.set_defaults(run=_apply)


def _apply(args: argparse.Namespace) -> int:
    from api.audit.register import AuditRegister
    from api.audit.subjects import SubjectTokens
    from api.http.formats import TRACE_REQUESTS
    from api.policy.versions import PolicyBook
    from api.review.queue import ReviewStore
    from api.usecases.service import TraceService
    from matcher.protection.keys import load_master_key

    settings = settings_of(args)
    engine, key = migrated_engine(settings), load_master_key()
    policies, register = PolicyBook.load(settings.policy_dir), AuditRegister(engine, key)
    # No index is needed to expire cases: the service is built without a tracer.
    service = TraceService(None, policies, register, SubjectTokens(key), ReviewStore(engine, key), TRACE_REQUESTS)
    expired = service.apply_retention()
    print(f"expired {len(expired):,} review cases past {service.policy_in_force().retention_days} days")
    return 0
