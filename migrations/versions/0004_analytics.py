"""analytics: the first needs analysis of an opportunity, and indexes on the timestamps the
analytics count over a period

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:20:00

"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_opportunities_store_closed", "opportunities", ["store_id", "closed_at"]),
    ("ix_opportunities_store_overturned", "opportunities", ["store_id", "defeat_overturned_at"]),
    ("ix_opportunities_store_first_assessed", "opportunities", ["store_id", "first_assessed_at"]),
    ("ix_invitations_store_created", "invitations", ["store_id", "created_at"]),
    ("ix_needs_assessments_assessed_at", "needs_assessments", ["assessed_at"]),
    ("ix_needs_assessments_opportunity_time", "needs_assessments", ["opportunity_id", "assessed_at"]),
    ("ix_callback_tasks_store_completed", "callback_tasks", ["store_id", "completed_at"]),
)

# Every opportunity already assessed gets its first assessment's time and author.
BACKFILL = """
UPDATE opportunities SET
    first_assessed_at = (
        SELECT min(a.assessed_at) FROM needs_assessments a WHERE a.opportunity_id = opportunities.id
    ),
    first_assessed_by = (
        SELECT a.assessed_by FROM needs_assessments a WHERE a.opportunity_id = opportunities.id
        ORDER BY a.assessed_at, a.id LIMIT 1
    )
WHERE EXISTS (SELECT 1 FROM needs_assessments a WHERE a.opportunity_id = opportunities.id)
"""


def upgrade():
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_assessed_at", core.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("first_assessed_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_opportunities_first_assessed_by_users", "users", ["first_assessed_by"], ["id"]
        )
    op.execute(BACKFILL)
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_constraint("fk_opportunities_first_assessed_by_users", type_="foreignkey")
        batch_op.drop_column("first_assessed_by")
        batch_op.drop_column("first_assessed_at")
