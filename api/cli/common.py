"""What the commands share: the settings (the environment, with --host and --port), a migrated database."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt

from sqlalchemy import Engine

from api.settings import Settings
from api.storage.engine import make_engine
from api.storage.migrate import upgrade
from api.wiring import migrate
from matcher.protection.keys import KeyConfigurationError, MasterKey, load_master_key


def settings_of(args: argparse.Namespace) -> Settings:
    settings = Settings.from_environment()
    overrides = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    return dataclasses.replace(settings, **overrides)


def migrated_engine(settings: Settings, key: MasterKey | None = None, *, without_head_file: bool = False) -> Engine:
    """The database at the latest revision. A step that seals existing rows (0006) needs the master key: the
    deployment's, if it can be loaded (a command that needs no key otherwise still runs without one)."""
    if key is None:
        try:
            key = load_master_key()
        except KeyConfigurationError:
            key = None  # a migration that needs it says so
    engine = make_engine(settings.database_url)
    if key is None:
        upgrade(engine)  # no migration that seals rows can run, so there is nothing to launder
    else:
        migrate(settings, engine, key, without_head_file=without_head_file)
    return engine


def add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help=f"default: TRACING_HOST or {Settings.host}")
    parser.add_argument("--port", type=int, help=f"default: TRACING_PORT or {Settings.port}")


def date_argument(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("a date is YYYY-MM-DD") from None
