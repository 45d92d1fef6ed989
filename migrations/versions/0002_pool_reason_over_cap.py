"""pool reason over_cap: the nightly run releases load above a lowered cap

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:00:00

"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD = "'reinvited', 'consultant_left', 'returned', 'waiting'"
NEW = OLD + ", 'over_cap'"


def _replace(values: str) -> None:
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_opportunities_pool_reason"), type_="check")
        batch_op.create_check_constraint(
            "pool_reason", f"pool_reason IS NULL OR pool_reason IN ({values})"
        )


def upgrade():
    _replace(NEW)


def downgrade():
    op.execute("UPDATE opportunities SET pool_reason = 'returned' WHERE pool_reason = 'over_cap'")
    _replace(OLD)
