"""job kinds: only the kinds that run (the nightly run and the worker probe)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:00:00

"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD = "'nightly', 'callback_list', 'refill', 'probe'"
NEW = "'nightly', 'probe'"


def _replace(values: str) -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_job_runs_kind"), type_="check")
        batch_op.create_check_constraint("kind", f"kind IN ({values})")


def upgrade():
    # never written: the callback list and the refill are steps of the nightly run
    op.execute("DELETE FROM job_runs WHERE kind IN ('callback_list', 'refill')")
    _replace(NEW)


def downgrade():
    _replace(OLD)
