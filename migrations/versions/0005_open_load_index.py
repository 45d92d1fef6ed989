"""open load index: every consultant's load read from the store's open opportunities only

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 23:00:00

"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_opportunities_open_load", "opportunities", ["store_id", "status", "owner_id", "grade"]
    )


def downgrade():
    op.drop_index("ix_opportunities_open_load", table_name="opportunities")
