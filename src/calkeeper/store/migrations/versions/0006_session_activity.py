"""Sessions record their last activity, for heartbeats and the idle timeout

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_activity", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_sessions_open", ["ended_at"], unique=False)
    op.execute("UPDATE sessions SET last_activity = started_at")


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_open")
        batch_op.drop_column("last_activity")
