"""Named and Document CALs serve one machine at a time: their grants are sessions, and each CAL knows its machine

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

EVERY_KIND = "cal_type IN ('session', 'usage', 'named', 'document')"
HELD_BY_SESSIONS = "cal_type IN ('session', 'usage')"


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_sessions_cal_type"), type_="check")
        batch_op.create_check_constraint("cal_type", EVERY_KIND)
        batch_op.add_column(sa.Column("end_reason", sa.String(length=200), nullable=True))
    for table in ("named_cals", "document_cals"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("machine", sa.String(length=200), nullable=True))


def downgrade() -> None:
    for table in ("named_cals", "document_cals"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("machine")
    op.execute("DELETE FROM sessions WHERE cal_type IN ('named', 'document')")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("end_reason")
        batch_op.drop_constraint(op.f("ck_sessions_cal_type"), type_="check")
        batch_op.create_check_constraint("cal_type", HELD_BY_SESSIONS)
