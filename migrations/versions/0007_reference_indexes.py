"""reference indexes: deleting a customer, visit or invitation finds what points at it by index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 01:35:00

"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_visits_invitation_id", "visits", "invitation_id"),
    ("ix_invitations_visit_id", "invitations", "visit_id"),
    ("ix_follow_ups_invitation_id", "follow_ups", "invitation_id"),
    ("ix_assignments_visit_id", "assignments", "visit_id"),
    # only the open callbacks were indexed by customer
    ("ix_callback_tasks_customer_id", "callback_tasks", "customer_id"),
]


def upgrade():
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade():
    for name, table, _column in INDEXES:
        op.drop_index(name, table_name=table)
