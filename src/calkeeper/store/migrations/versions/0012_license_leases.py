"""license leases for the desktop client, and the brakes on lease requests

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OPEN = sa.text("ended_at IS NULL")
KINDS_BEFORE = "kind IN ('sign_in_user', 'sign_in_address', 'token_address')"
KINDS_AFTER = "kind IN ('sign_in_user', 'sign_in_address', 'token_address', 'lease_user', 'lease_address')"


def upgrade() -> None:
    op.create_table('license_leases',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('user_key', sa.String(length=200), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=False),
    sa.Column('machine', sa.String(length=100), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('serial', sa.String(length=16), nullable=False),
    sa.Column('server', sa.String(length=500), nullable=False),
    sa.Column('leased_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('renewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.Column('ended_by', sa.String(length=200), nullable=True),
    sa.CheckConstraint("end_reason IN ('ended', 'revoked', 'cal_data_cleared')",
                       name=op.f('ck_license_leases_end_reason')),
    sa.CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name=op.f('ck_license_leases_ended_with_reason')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_license_leases'))
    )
    with op.batch_alter_table('license_leases', schema=None) as batch_op:
        batch_op.create_index('ix_license_leases_user_key', ['user_key', 'ended_at'], unique=False)
        batch_op.create_index('uq_license_leases_open', ['user_key', 'fingerprint'], unique=True,
                              sqlite_where=OPEN, postgresql_where=OPEN)
    with op.batch_alter_table('auth_failures', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_auth_failures_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_auth_failures_kind'), sa.text(KINDS_AFTER))


def downgrade() -> None:
    op.execute("DELETE FROM auth_failures WHERE kind IN ('lease_user', 'lease_address')")
    with op.batch_alter_table('auth_failures', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_auth_failures_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_auth_failures_kind'), sa.text(KINDS_BEFORE))
    with op.batch_alter_table('license_leases', schema=None) as batch_op:
        batch_op.drop_index('uq_license_leases_open', sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.drop_index('ix_license_leases_user_key')
    op.drop_table('license_leases')
