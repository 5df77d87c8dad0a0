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
    # Plain ADD COLUMN (no batch): on SQLite a batch would copy ``documents`` into a new table and drop the
    # old one, and with foreign keys on, dropping it deletes every Document CAL and session that refers to it.
    op.add_column("cal_pools", sa.Column("used", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.add_column("documents", sa.Column("used", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.add_column("session_cals", sa.Column("counted", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_index("ix_session_cals_counted_released_at", "session_cals", ["counted", "released_at"], unique=False)
    op.add_column("usage_cals", sa.Column("counted", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_index("ix_usage_cals_counted_returns_at", "usage_cals", ["counted", "returns_at"], unique=False)
    for statement in RECOUNT:
        op.execute(statement)


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later, PostgreSQL): no table is copied and dropped (see upgrade)
    op.drop_index("ix_usage_cals_counted_returns_at", table_name="usage_cals")
    op.drop_index("ix_session_cals_counted_released_at", table_name="session_cals")
    for table, column in (("usage_cals", "counted"), ("session_cals", "counted"), ("documents", "used"),
                          ("cal_pools", "used")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
