"""An index for paging through Named CALs in name order

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("named_cals", schema=None) as batch_op:
        batch_op.create_index("ix_named_cals_identity_key", ["identity_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("named_cals", schema=None) as batch_op:
        batch_op.drop_index("ix_named_cals_identity_key")
