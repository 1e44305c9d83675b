"""Enumeration state shared by every process: which variants of a request each organisation sent about a record.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per organisation and record token: the row every request about the record locks, so that requests
    # counted at once by two processes are counted one after the other.
    op.create_table(
        "probe_records",
        sa.Column("organisation", sa.String(100), primary_key=True),
        sa.Column("record_token", sa.String(32), primary_key=True),
        sa.Column("seen_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "probe_variants",
        sa.Column("organisation", sa.String(100), primary_key=True),
        sa.Column("record_token", sa.String(32), primary_key=True),
        sa.Column("variant_token", sa.String(32), primary_key=True),
        sa.Column("trace_id", sa.String(36), nullable=False),
        sa.Column("seen_at", sa.String(32), nullable=False),
    )
    op.create_index("probe_variants_seen", "probe_variants", ["seen_at"])


def downgrade() -> None:
    op.drop_index("probe_variants_seen", "probe_variants")
    op.drop_table("probe_variants")
    op.drop_table("probe_records")
