"""Idempotent retries: the answers given to a client's X-Request-ID, keyed and sealed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The primary key is the reservation: of two attempts with one request id, only one can insert its row.
    op.create_table(
        "request_ids",
        sa.Column("request_key", sa.String(64), primary_key=True),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("holder", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("reserved_at", sa.String(32), nullable=False),
        sa.Column("sealed_answer", sa.LargeBinary, nullable=True),
    )
    op.create_index("request_ids_created", "request_ids", ["created_at"])


def downgrade() -> None:
    op.drop_index("request_ids_created", "request_ids")
    op.drop_table("request_ids")
