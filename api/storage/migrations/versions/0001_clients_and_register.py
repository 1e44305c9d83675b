"""Clients and the audit register.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("key_id", sa.String(24), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "register_entries",
        sa.Column("sequence", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("trace_id", sa.String(36), nullable=False, unique=True),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("client_name", sa.String(100), nullable=False),
        sa.Column("requesting_officer", sa.String(64), nullable=True),
        sa.Column("requesting_grade", sa.String(8), nullable=True),
        sa.Column("authorising_officer", sa.String(64), nullable=True),
        sa.Column("authorising_grade", sa.String(8), nullable=True),
        sa.Column("policy_version", sa.String(32), nullable=True),
        sa.Column("category", sa.Integer(), nullable=True),
        sa.Column("offence", sa.String(32), nullable=True),
        sa.Column("subject_token", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("refusal_codes", sa.Text(), nullable=False),
        sa.Column("fields_disclosed", sa.Text(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("register_entries")
    op.drop_table("clients")
