"""Organisations as identities; keyed MACs on clients and organisations rows; changes of rights in the register.

Existing free-text organisations (a client without one was its own) become organisations whose id is the text
normalised, and every place that compares organisations (clients, held requests, enumeration counts) holds the id.
Existing clients and organisations rows are sealed with their MAC, and each is recorded in the register as added
(a revoked client also as revoked), so that replaying the register finds them. That needs the master key if there
are rows: the one handed over by the caller (``api.storage.migrate.upgrade``), or else the one the environment
names, as every command loads it. An empty database needs no key.

This migration runs the service's own code for ids, MACs and entries (``api.access``, ``api.audit``): those formats
are what the rows and the register must verify against later, so they are not copied here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import datetime as dt

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("row_mac", sa.String(64), nullable=False),
    )
    with op.batch_alter_table("register_entries") as batch:
        batch.add_column(sa.Column("rights", sa.Text(), nullable=True))
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("row_mac", sa.String(64), nullable=True))
    _convert(op.get_bind())
    with op.batch_alter_table("clients") as batch:
        batch.alter_column("organisation", existing_type=sa.String(100), nullable=False)
        batch.alter_column("row_mac", existing_type=sa.String(64), nullable=False)
        batch.create_foreign_key("clients_organisation", "organisations", ["organisation"], ["id"])


def downgrade() -> None:
    bind = op.get_bind()
    recorded = bind.execute(sa.text("SELECT COUNT(*) FROM register_entries WHERE rights IS NOT NULL")).scalar()
    if recorded:
        # Dropping the column would change those entries' content, and every later link of the chain would break.
        raise RuntimeError(
            f"{recorded} register entries record changes of rights: downgrading below 0005 would break the register"
        )
    with op.batch_alter_table("clients") as batch:
        batch.drop_constraint("clients_organisation", type_="foreignkey")
        batch.alter_column("organisation", existing_type=sa.String(100), nullable=True)
        batch.drop_column("row_mac")
    with op.batch_alter_table("register_entries") as batch:
        batch.drop_column("rights")
    op.drop_table("organisations")


def _convert(bind: sa.Connection) -> None:
    from api.access.organisations import organisation_id

    rows = bind.execute(sa.text("SELECT * FROM clients ORDER BY id")).mappings().all()
    ids: dict[str, str] = {}  # organisation id -> the first name given for it
    for row in rows:
        name = row["organisation"] or row["name"]
        ids.setdefault(organisation_id(name), name.strip())
    for table in ("reviews", "probe_records", "probe_variants"):
        _normalise_column(bind, table)
    if not rows:
        return
    from api.access.rows import RowMacs, rights_draft
    from api.audit.outcomes import RegisterOutcome
    from api.audit.register import AuditRegister
    from matcher.protection.keys import load_master_key

    key = context.config.attributes.get("master_key") or load_master_key()
    macs, register = RowMacs(key), AuditRegister(bind.engine, key)
    now = dt.datetime.now(dt.UTC)
    created_at = now.isoformat(timespec="microseconds")
    drafts = []
    for org_id, name in sorted(ids.items()):
        organisation = {"id": org_id, "name": name, "created_at": created_at}
        mac = macs.organisation(organisation)
        bind.execute(
            sa.text("INSERT INTO organisations (id, name, created_at, row_mac) VALUES (:id, :name, :created_at, :m)"),
            {**organisation, "m": mac},
        )
        drafts.append(
            rights_draft(RegisterOutcome.ORGANISATION_ADDED, 0, org_id, {"organisation": org_id, "row_mac": mac})
        )
    for row in rows:
        client = {**row, "organisation": organisation_id(row["organisation"] or row["name"])}
        mac = macs.client(client)
        bind.execute(
            sa.text("UPDATE clients SET organisation = :o, row_mac = :m WHERE id = :id"),
            {"o": client["organisation"], "m": mac, "id": row["id"]},
        )
        state = {
            "role": row["role"],
            "rate_per_minute": row["rate_per_minute"],
            "organisation": client["organisation"],
            "revoked": False,
            "row_mac": mac,
        }
        drafts.append(rights_draft(RegisterOutcome.CLIENT_ADDED, row["id"], row["name"], state))
        if row["revoked_at"] is not None:
            revoked = {**state, "revoked": True}
            drafts.append(rights_draft(RegisterOutcome.CLIENT_REVOKED, row["id"], row["name"], revoked))
    register.append_in(bind, drafts, now)


def _normalise_column(bind: sa.Connection, table: str) -> None:
    """Replace the free-text organisation of every row with its id; rows that become one (two spellings of one
    organisation about one record) are merged, keeping the first seen."""
    from api.access.organisations import organisation_id

    rows = bind.execute(sa.text(f"SELECT * FROM {table}")).mappings().all()
    if not rows:
        return
    keys = {"reviews": ("trace_id",), "probe_records": ("organisation", "record_token")}.get(
        table, ("organisation", "record_token", "variant_token")
    )
    kept: dict[tuple, dict] = {}
    for row in sorted(rows, key=lambda r: r["seen_at" if "seen_at" in r else "created_at"]):
        changed = {**row, "organisation": organisation_id(row["organisation"])}
        kept.setdefault(tuple(changed[k] for k in keys), changed)
    bind.execute(sa.text(f"DELETE FROM {table}"))
    columns = list(rows[0].keys())
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    bind.execute(sa.text(statement), list(kept.values()))
