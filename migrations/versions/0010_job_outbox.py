"""job outbox: a job run is also the job's outbox row (when it was handed to the queue, how
many times, and the queue's id of the delivery that holds it)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00

"""

import sqlalchemy as sa

import core.db
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_at", core.db.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("queue_job", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_job_runs_status", ["status"], unique=False)
    # runs already queued or running are the outbox's first rows: the dispatcher hands them
    op.execute(
        "UPDATE job_runs SET attempts = 1, sent_at = created_at "
        "WHERE status IN ('queued', 'running')"
    )


def downgrade():
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_runs_status")
        batch_op.drop_column("queue_job")
        batch_op.drop_column("attempts")
        batch_op.drop_column("sent_at")
