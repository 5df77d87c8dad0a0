"""the site's directory: built-in directory users and groups, group rules and the CALs they gave

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('directory_users',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_directory_users'))
    )
    op.create_table('directory_groups',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_directory_groups'))
    )
    op.create_table('directory_members',
    sa.Column('group_key', sa.String(length=200), nullable=False),
    sa.Column('user_key', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['group_key'], ['directory_groups.key'], name=op.f('fk_directory_members_group_key_directory_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_key'], ['directory_users.key'], name=op.f('fk_directory_members_user_key_directory_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_key', 'user_key', name=op.f('pk_directory_members'))
    )
    with op.batch_alter_table('directory_members', schema=None) as batch_op:
        batch_op.create_index('ix_directory_members_user_key', ['user_key'], unique=False)
    op.create_table('group_rules',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('group_name', sa.String(length=500), nullable=False),
    sa.Column('group_key', sa.String(length=500), nullable=False),
    sa.Column('cal_type', sa.String(length=16), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.CheckConstraint("(cal_type = 'document') = (document_id IS NOT NULL)", name=op.f('ck_group_rules_document_for_document_cals')),
    sa.CheckConstraint("cal_type IN ('named', 'document')", name=op.f('ck_group_rules_cal_type')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_group_rules_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_rules'))
    )
    with op.batch_alter_table('group_rules', schema=None) as batch_op:
        batch_op.create_index('ix_group_rules_group_key', ['group_key'], unique=False)
    op.create_table('group_rule_cals',
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('user_key', sa.String(length=200), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['group_rules.id'], name=op.f('fk_group_rule_cals_rule_id_group_rules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rule_id', 'user_key', name=op.f('pk_group_rule_cals'))
    )


def downgrade() -> None:
    op.drop_table('group_rule_cals')
    with op.batch_alter_table('group_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_group_rules_group_key')
    op.drop_table('group_rules')
    with op.batch_alter_table('directory_members', schema=None) as batch_op:
        batch_op.drop_index('ix_directory_members_user_key')
    op.drop_table('directory_members')
    op.drop_table('directory_groups')
    op.drop_table('directory_users')
