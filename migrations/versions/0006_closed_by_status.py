"""closed by status: orders and defeats of a period each read one range of the index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 00:40:00

"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_opportunities_store_closed", table_name="opportunities")
    op.create_index(
        "ix_opportunities_store_closed", "opportunities", ["store_id", "status", "closed_at"]
    )


def downgrade():
    op.drop_index("ix_opportunities_store_closed", table_name="opportunities")
    op.create_index("ix_opportunities_store_closed", "opportunities", ["store_id", "closed_at"])
