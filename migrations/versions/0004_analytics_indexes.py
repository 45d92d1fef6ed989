"""analytics indexes: the timestamps the analytics count over a period

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:20:00

"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_opportunities_store_closed", "opportunities", ["store_id", "closed_at"]),
    ("ix_opportunities_store_overturned", "opportunities", ["store_id", "defeat_overturned_at"]),
    ("ix_invitations_store_created", "invitations", ["store_id", "created_at"]),
    ("ix_needs_assessments_assessed_at", "needs_assessments", ["assessed_at"]),
    ("ix_needs_assessments_opportunity_time", "needs_assessments", ["opportunity_id", "assessed_at"]),
    ("ix_callback_tasks_store_completed", "callback_tasks", ["store_id", "completed_at"]),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
