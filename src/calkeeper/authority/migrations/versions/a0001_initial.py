"""the license authority: sites, their events, admin tokens

Revision ID: a0001
Revises:
Create Date: 2026-11-28 04:52:49.404915
"""

import sqlalchemy as sa
from alembic import op

revision = 'a0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('authority_sites',
    sa.Column('serial', sa.String(length=16), nullable=False),
    sa.Column('control', sa.String(length=5), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('organization', sa.String(length=200), nullable=False),
    sa.Column('named_cals', sa.Integer(), nullable=False),
    sa.Column('document_cals', sa.Integer(), nullable=False),
    sa.Column('session_cals', sa.Integer(), nullable=False),
    sa.Column('usage_cals', sa.Integer(), nullable=False),
    sa.Column('lease_allowed', sa.Boolean(), nullable=False),
    sa.Column('time_limit', sa.Date(), nullable=True),
    sa.Column('maintenance_until', sa.Date(), nullable=True),
    sa.Column('lease_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_fetched_from', sa.String(length=300), nullable=True),
    sa.CheckConstraint('document_cals >= 0 AND session_cals >= 0 AND usage_cals >= 0', name=op.f('ck_authority_sites_counts')),
    sa.CheckConstraint('named_cals >= 1', name=op.f('ck_authority_sites_named_cals')),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_authority_sites'))
    )
    op.create_table('authority_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authority_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_authority_tokens_token_hash'))
    )
    op.create_table('authority_site_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('serial', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['serial'], ['authority_sites.serial'], name=op.f('fk_authority_site_events_serial_authority_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authority_site_events'))
    )
    with op.batch_alter_table('authority_site_events', schema=None) as batch_op:
        batch_op.create_index('ix_authority_site_events_serial', ['serial', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('authority_site_events', schema=None) as batch_op:
        batch_op.drop_index('ix_authority_site_events_serial')

    op.drop_table('authority_site_events')
    op.drop_table('authority_tokens')
    op.drop_table('authority_sites')
