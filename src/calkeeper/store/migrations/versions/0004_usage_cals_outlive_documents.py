"""Usage CALs outlive a released document: they still return 28 days after consumption

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_cals", schema=None) as batch_op:
        batch_op.drop_constraint("fk_usage_cals_document_id_documents", type_="foreignkey")
        batch_op.alter_column("document_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key("fk_usage_cals_document_id_documents", "documents", ["document_id"], ["id"],
                                    ondelete="SET NULL")


def downgrade() -> None:
    op.execute("DELETE FROM usage_cals WHERE document_id IS NULL")
    with op.batch_alter_table("usage_cals", schema=None) as batch_op:
        batch_op.drop_constraint("fk_usage_cals_document_id_documents", type_="foreignkey")
        batch_op.alter_column("document_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key("fk_usage_cals_document_id_documents", "documents", ["document_id"], ["id"],
                                    ondelete="CASCADE")
