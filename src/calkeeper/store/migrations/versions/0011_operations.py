"""operations: the node that granted a session, usage history by hour and day, pool peaks, alerts

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('node', sa.String(length=100), nullable=True))
    op.create_table('activity_counts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('span', sa.String(length=4), nullable=False),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('cal_type', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('user_key', sa.String(length=200), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('document_key', sa.String(length=64), nullable=False),
    sa.Column('document', sa.String(length=1000), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.CheckConstraint("outcome IN ('grant', 'denial')", name=op.f('ck_activity_counts_outcome')),
    sa.CheckConstraint("span IN ('hour', 'day')", name=op.f('ck_activity_counts_span')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_counts')),
    sa.UniqueConstraint('bucket', 'span', 'outcome', 'cal_type', 'code', 'user_key', 'document_key',
                        name='uq_activity_counts_cell')
    )
    with op.batch_alter_table('activity_counts', schema=None) as batch_op:
        batch_op.create_index('ix_activity_counts_span_bucket', ['span', 'bucket'], unique=False)
    op.create_table('pool_usage',
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cal_type', sa.String(length=16), nullable=False),
    sa.Column('peak', sa.Integer(), nullable=False),
    sa.Column('in_license', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('hour', 'cal_type', name=op.f('pk_pool_usage'))
    )
    op.create_table('alerts',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_alerts'))
    )
    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('alert_key', sa.String(length=200), nullable=False),
    sa.Column('event', sa.String(length=8), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("channel IN ('webhook', 'email')", name=op.f('ck_alert_deliveries_channel')),
    sa.CheckConstraint("event IN ('raised', 'cleared', 'test')", name=op.f('ck_alert_deliveries_event')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_deliveries'))
    )
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_deliveries_at'), ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_deliveries_at'))
    op.drop_table('alert_deliveries')
    op.drop_table('alerts')
    op.drop_table('pool_usage')
    with op.batch_alter_table('activity_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_counts_span_bucket')
    op.drop_table('activity_counts')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('node')
