"""The review queue, and the organisation a client belongs to.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("organisation", sa.String(100), nullable=True))
    with op.batch_alter_table("register_entries") as batch:
        batch.add_column(sa.Column("concerns", sa.String(36), nullable=True))
    op.create_table(
        "reviews",
        sa.Column("trace_id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("sealed_case", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("decided_at", sa.String(32), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("sealed_disclosure", sa.LargeBinary(), nullable=True),
        sa.Column("collected_at", sa.String(32), nullable=True),
        sa.Column("expired_at", sa.String(32), nullable=True),
    )
    op.create_index("reviews_state", "reviews", ["state", "created_at"])


def downgrade() -> None:
    op.drop_index("reviews_state", "reviews")
    op.drop_table("reviews")
    with op.batch_alter_table("register_entries") as batch:
        batch.drop_column("concerns")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("organisation")
