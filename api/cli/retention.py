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
    from api.wiring import trace_service
    from matcher.protection.keys import load_master_key

    settings = settings_of(args)
    service = trace_service(settings, migrated_engine(settings), load_master_key())  # no index: nothing is traced
    expired = service.apply_retention()
    print(f"expired {len(expired):,} review cases past {service.policy_in_force().retention_days} days")
    return 0
