"""dispatch authority: every decline kept (declines), the owner's stall clock (owner_since),
the consultant's own invitation as a reason of its own

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 01:00:00

"""

import sqlalchemy as sa

import core.db
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

REASONS = "'returning_owner', 'rotation', 'queue', 'refill', 'manual', 'reinvite', 'to_service', 'released'"


def _reasons(values: str) -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_assignments_reason"), type_="check")
        batch_op.create_check_constraint("reason", f"reason IN ({values})")


def upgrade():
    op.create_table(
        "declines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("consultant_id", sa.Integer(), nullable=False),
        sa.Column("declined_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("callback_task_id", sa.Integer(), nullable=True),
        sa.Column("lifted_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("lifted_by", sa.Integer(), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["callback_task_id"],
            ["callback_tasks.id"],
            name=op.f("fk_declines_callback_task_id_callback_tasks"),
        ),
        sa.ForeignKeyConstraint(
            ["consultant_id"], ["users.id"], name=op.f("fk_declines_consultant_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_declines_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["lifted_by"], ["users.id"], name=op.f("fk_declines_lifted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_declines_recorded_by_users")
        ),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_declines_store_id_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declines")),
    )
    op.create_index(
        "ix_declines_customer", "declines", ["customer_id", "consultant_id"], unique=False
    )
    op.create_index(
        op.f("ix_declines_callback_task_id"), "declines", ["callback_task_id"], unique=False
    )
    # The one decline each opportunity kept so far becomes the first of the customer's list.
    op.execute(
        "INSERT INTO declines (store_id, customer_id, consultant_id, declined_at)"
        " SELECT store_id, customer_id, declined_owner_id, COALESCE(pool_since, created_at)"
        " FROM opportunities WHERE declined_owner_id IS NOT NULL"
    )
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_since", core.db.UTCDateTime(), nullable=True))
        batch_op.drop_constraint(
            op.f("fk_opportunities_declined_owner_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("declined_owner_id")
    # The stall clock of today's owners: their latest assignment, else the opportunity's start.
    op.execute(
        "UPDATE opportunities SET owner_since = COALESCE("
        "(SELECT MAX(a.assigned_at) FROM assignments a WHERE a.opportunity_id = opportunities.id"
        " AND a.to_owner_id = opportunities.owner_id), created_at)"
        " WHERE owner_id IS NOT NULL"
    )
    _reasons(REASONS + ", 'invited'")


def downgrade():
    op.execute("UPDATE assignments SET reason = 'returning_owner' WHERE reason = 'invited'")
    _reasons(REASONS)
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("declined_owner_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_opportunities_declined_owner_id_users"),
            "users",
            ["declined_owner_id"],
            ["id"],
        )
        batch_op.drop_column("owner_since")
    op.execute(
        "UPDATE opportunities SET declined_owner_id = (SELECT MAX(d.consultant_id) FROM declines d"
        " WHERE d.customer_id = opportunities.customer_id AND d.lifted_at IS NULL)"
        " WHERE status = 'open'"
    )
    op.drop_index(op.f("ix_declines_callback_task_id"), table_name="declines")
    op.drop_index("ix_declines_customer", table_name="declines")
    op.drop_table("declines")
