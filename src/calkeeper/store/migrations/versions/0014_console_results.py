"""console results: what a console action did, kept on the server for the session that asked

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_results',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['console_sessions.id'], name=op.f('fk_console_results_session_id_console_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_results'))
    )
    with op.batch_alter_table('console_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_results_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_results_session_id'), ['session_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_results_session_id'))
        batch_op.drop_index(batch_op.f('ix_console_results_expires_at'))
    op.drop_table('console_results')
