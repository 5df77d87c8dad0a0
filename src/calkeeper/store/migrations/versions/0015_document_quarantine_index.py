"""document quarantine index: Document CALs in quarantine, or whose quarantine ended, found without a table scan

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain CREATE INDEX (no batch): nothing about the table changes, so SQLite need not copy it.
    op.create_index("ix_document_cals_quarantined_until", "document_cals", ["quarantined_until"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_document_cals_quarantined_until", table_name="document_cals")
