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

# The tables as the service's unqualified names resolve them (``to_regclass``, through the search path), not as
# ``current_schema()`` names them: an empty schema named after the role comes first in the default path without
# holding any of them.
_RESOLVED = "SELECT to_regclass(quote_ident(name)) FROM unnest(CAST(:tables AS text[])) AS t(name)"
_POSTGRES = (
    (
        # Internal triggers are allowed only as a foreign key's own (a catalogue function of PostgreSQL's): one
        # marked internal by hand in pg_trigger still fires, and must still show.
        "trigger",
        "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace "
        f"WHERE t.tgrelid IN ({_RESOLVED}) AND NOT (t.tgisinternal AND t.tgconstraint <> 0 "
        "AND pn.nspname = 'pg_catalog' AND p.proname LIKE 'RI\\_FKey\\_%')",
    ),
    (
        "rule",
        f"SELECT r.rulename, c.relname FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class "
        f"WHERE r.ev_class IN ({_RESOLVED})",
    ),  # a view in a table's place has its _RETURN rule
    (
        "row security policy",
        f"SELECT p.polname, c.relname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
        f"WHERE p.polrelid IN ({_RESOLVED})",
    ),
    ("row security", f"SELECT 'enabled', relname FROM pg_class WHERE oid IN ({_RESOLVED}) AND relrowsecurity"),
)
# SQLite keeps its schema as rows of sqlite_master, which PRAGMA writable_schema lets anyone edit: SQLite loads a
# row by its text, whatever its type column says. So everything that is not plainly a table or an index is shown.
_SQLITE = (
    "SELECT lower(type), name, tbl_name FROM sqlite_master WHERE type NOT IN ('table', 'index') "
    "OR instr(upper(sql), 'TRIGGER') > 0 "
    "OR (sql IS NOT NULL AND upper(sql) NOT LIKE 'CREATE TABLE %' AND upper(sql) NOT LIKE 'CREATE INDEX %' "
    "AND upper(sql) NOT LIKE 'CREATE UNIQUE INDEX %')"
)


class ForeignObjectsFound(RuntimeError):
    """The database holds triggers, rules or row security on the service's tables: the service does not start."""


def foreign_objects(engine: Engine) -> list[str]:
    """Each trigger, rule or row security setting on one of the service's tables, as "kind name on table"."""
    found: list[tuple[str, str, str]] = []
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            found += [(kind, name, table) for kind, name, table in connection.execute(text(_SQLITE))]
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
