"""staff sessions on the server, failed sign-ins for the throttle, the client address in the
audit trail

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:00:00

"""

import sqlalchemy as sa

import core.db
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", core.db.UTCDateTime(), nullable=False),
        sa.Column("ended_at", core.db.UTCDateTime(), nullable=True),
        sa.Column("ended_why", sa.String(length=16), nullable=True),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_staff_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_staff_sessions_token_digest")),
    )
    op.create_index("ix_staff_sessions_user", "staff_sessions", ["user_id", "ended_at"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", core.db.UTCDateTime(), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    op.create_index("ix_sign_in_failures_username", "sign_in_failures", ["username", "at"])
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=45), nullable=True))


def downgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("address")
    op.drop_index("ix_sign_in_failures_username", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
    op.drop_index("ix_staff_sessions_user", table_name="staff_sessions")
    op.drop_table("staff_sessions")
