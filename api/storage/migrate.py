"""Schema migrations (Alembic), run from code: ``upgrade(engine)`` brings a database to the latest revision."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from sqlalchemy import Engine

from matcher.protection.keys import MasterKey


class SchemaOutOfDate(RuntimeError):
    """The database is not at the latest revision and the service was told not to migrate it."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("api.storage") / "migrations"))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def set_back(engine: Engine, recorded: str) -> str | None:
    """What is wrong, if anything, with the database's revision given that the service has run on ``recorded``:
    an older one means the schema was set back by hand (so that a migration sealing rows would seal edited ones),
    and one this code does not know, that a newer version wrote it."""
    current = current_revision(engine)
    if current == recorded:
        return None
    try:
        script = ScriptDirectory.from_config(alembic_config())
        earlier = {r.revision for r in script.iterate_revisions(recorded, "base")}
    except RevisionError:
        return f"the service has run on schema revision {recorded}, which this version does not know"
    if current is None or current in earlier:
        return (
            f"the database schema is at revision {current or 'none'}, but the service has run on it at revision "
            f"{recorded}: the schema was set back by hand"
        )
    return None


def upgrade(engine: Engine, revision: str = "head", key: MasterKey | None = None) -> None:
    """``key``: the master key, for the migrations that seal existing rows (0005: clients and organisations, 0006:
    review rows); without it, 0005 loads the one the environment names and 0006 stops, if there are rows to seal."""
    _run(engine, command.upgrade, revision, key)


def downgrade(engine: Engine, revision: str = "base") -> None:
    _run(engine, command.downgrade, revision)


def require_current(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database schema is at revision {current or 'none'}, the service needs {head}: "
            "run `python -m api db upgrade`"
        )


def _run(engine: Engine, operation, revision: str, key: MasterKey | None = None) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["master_key"] = key
        operation(config, revision)
