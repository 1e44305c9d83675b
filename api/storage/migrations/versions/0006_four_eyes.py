"""Four eyes on review decisions, and a keyed MAC on every review row.

The first of two approvals (when, by whom, of which organisation), and ``row_mac``: HMAC-SHA256 under the master
key's "review-rows" subkey of the row's plain columns and its sealed blobs' digests (``api.review.integrity``).

Rows that exist already are given their MAC here, in the migration's transaction, so that the column can be NOT
NULL and a missing MAC is never something the service has to accept: that needs the master key, which the service
passes (``upgrade(engine, key)``); without it, on a database with review rows, the migration stops and says so.
The MAC is written out here as it was at this revision (scheme "v1"), not imported, so that this step keeps doing
what it did if the service's scheme changes later; a test checks that the two agree.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03
"""

import hashlib
import hmac
import json

import sqlalchemy as sa
from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TRUSTED = (
    "trace_id",
    "client_id",
    "organisation",
    "reason",
    "policy_version",
    "created_at",
    "state",
    "decided_at",
    "decided_by",
    "first_approved_at",
    "first_approved_by",
    "first_approved_organisation",
    "collected_at",
    "expired_at",
)
_SEALED = ("sealed_case", "sealed_disclosure")


def _mac(key: bytes, row: dict) -> str:
    digests = [None if row[c] is None else hashlib.sha256(bytes(row[c])).hexdigest() for c in _SEALED]
    message = json.dumps(["v1", [row[c] for c in _TRUSTED], digests], separators=(",", ":"))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _environment_key():
    """The key the environment names, as 0005 takes it: a step before this one has already used it."""
    from matcher.protection.keys import KeyConfigurationError, load_master_key

    try:
        return load_master_key()
    except KeyConfigurationError:
        return None


def upgrade() -> None:
    connection = op.get_bind()
    # Before any change: on SQLite a column added is not undone with the transaction.
    existing = connection.execute(sa.text("SELECT COUNT(*) FROM reviews")).scalar()
    master_key = context.config.attributes.get("master_key") or (_environment_key() if existing else None)
    if existing and master_key is None:
        raise RuntimeError(
            "migration 0006 gives each existing review row its keyed MAC and needs the master key: run "
            "`python -m api db upgrade` (or start the service) with TRACING_MASTER_KEY_FILE set"
        )
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("first_approved_at", sa.String(32), nullable=True))
        batch.add_column(sa.Column("first_approved_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("first_approved_organisation", sa.String(100), nullable=True))
        batch.add_column(sa.Column("row_mac", sa.String(64), nullable=True))
    if existing:
        reviews = sa.table("reviews", *(sa.column(c) for c in (*_TRUSTED, *_SEALED, "row_mac")))
        key = master_key.derive("review-rows")
        for row in connection.execute(sa.select(reviews)).mappings().all():
            connection.execute(
                sa.update(reviews).where(reviews.c.trace_id == row["trace_id"]).values(row_mac=_mac(key, dict(row)))
            )
    with op.batch_alter_table("reviews") as batch:
        batch.alter_column("row_mac", existing_type=sa.String(64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("row_mac")
        batch.drop_column("first_approved_organisation")
        batch.drop_column("first_approved_by")
        batch.drop_column("first_approved_at")
