"""An index on the register's ``concerns``: a held request's steps, read before each decision and collection.

Before a decision or a collection is written, the service reads the register's steps of that case (the entries
naming it in ``concerns``) to check that its row is what they made it (``api.review.replay``). Without the index
each look-up would read the whole register.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("register_entries_concerns", "register_entries", ["concerns"])


def downgrade() -> None:
    op.drop_index("register_entries_concerns", "register_entries")
