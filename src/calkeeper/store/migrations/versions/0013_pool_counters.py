"""Pool occupancy kept as counters beside the rows, so a claim's cost does not grow with the pool

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Every row counts at first (a sweep un-counts Session and Usage CALs whose time has passed): the
# counters then agree with the rows, whatever the clock of the node that migrates.
RECOUNT = [
    "UPDATE cal_pools SET used = (SELECT count(*) FROM named_cals) WHERE cal_type = 'named'",
    "UPDATE cal_pools SET used = (SELECT count(*) FROM document_cals) WHERE cal_type = 'document'",
    "UPDATE cal_pools SET used = (SELECT count(*) FROM session_cals) WHERE cal_type = 'session'",
    "UPDATE cal_pools SET used = (SELECT count(*) FROM usage_cals) WHERE cal_type = 'usage'",
    "UPDATE documents SET used = (SELECT count(*) FROM document_cals WHERE document_cals.document_id = documents.id)",
]


def upgrade() -> None:
    with op.batch_alter_table("cal_pools", schema=None) as batch_op:
        batch_op.add_column(sa.Column("used", sa.Integer(), server_default=sa.text("0"), nullable=False))
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("used", sa.Integer(), server_default=sa.text("0"), nullable=False))
    with op.batch_alter_table("session_cals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("counted", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_index("ix_session_cals_counted_released_at", ["counted", "released_at"], unique=False)
    with op.batch_alter_table("usage_cals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("counted", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_index("ix_usage_cals_counted_returns_at", ["counted", "returns_at"], unique=False)
    for statement in RECOUNT:
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("usage_cals", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_cals_counted_returns_at")
        batch_op.drop_column("counted")
    with op.batch_alter_table("session_cals", schema=None) as batch_op:
        batch_op.drop_index("ix_session_cals_counted_released_at")
        batch_op.drop_column("counted")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("used")
    with op.batch_alter_table("cal_pools", schema=None) as batch_op:
        batch_op.drop_column("used")
