"""What the service did not create in its database: triggers, rewrite rules and row security on its tables.

The service creates none of these. An operator with write access but without the key could add one to act inside
the service's own transactions: drop chosen register entries as they are written, keep a review row as it was when
the service writes a refusal, hide rows from the service's reads. A row changed that way can carry a valid MAC
(it is the service's own, put back), so the MACs cannot show it; the service refuses to start instead while any is
there (``api.wiring``), and ``python -m api register verify`` reports them.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from api.storage.tables import metadata

SERVICE_TABLES = tuple(sorted(metadata.tables))

_POSTGRES = (
    (
        "trigger",
        "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT t.tgisinternal AND n.nspname = current_schema() AND c.relname = ANY(:tables)",
    ),
    (
        "rule",
        "SELECT rulename, tablename FROM pg_rules WHERE schemaname = current_schema() AND tablename = ANY(:tables)",
    ),
    (
        "row security policy",
        "SELECT policyname, tablename FROM pg_policies "
        "WHERE schemaname = current_schema() AND tablename = ANY(:tables)",
    ),
    (
        "row security",
        "SELECT 'enabled', c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ANY(:tables) AND c.relrowsecurity",
    ),
)


class ForeignObjectsFound(RuntimeError):
    """The database holds triggers, rules or row security on the service's tables: the service does not start."""


def foreign_objects(engine: Engine) -> list[str]:
    """Each trigger, rule or row security setting on one of the service's tables, as "kind name on table"."""
    found: list[tuple[str, str, str]] = []
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            query = "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"  # any table: none is ours
            found += [("trigger", name, table) for name, table in connection.execute(text(query))]
        elif engine.dialect.name == "postgresql":
            for kind, query in _POSTGRES:
                rows = connection.execute(text(query), {"tables": list(SERVICE_TABLES)})
                found += [(kind, name, table) for name, table in rows]
        else:
            raise ForeignObjectsFound(f"cannot look for triggers on a {engine.dialect.name} database")
    return [f"{kind} {name} on {table}" for kind, name, table in sorted(found, key=lambda f: (f[2], f[1]))]


def refuse_foreign_objects(engine: Engine) -> None:
    """ForeignObjectsFound, naming them, if the service's tables have any."""
    found = foreign_objects(engine)
    if found:
        raise ForeignObjectsFound(
            "the database has what the service did not create, which can act inside its transactions: "
            + "; ".join(found)
            + ". Remove them (and find out who added them) before the service starts"
        )
