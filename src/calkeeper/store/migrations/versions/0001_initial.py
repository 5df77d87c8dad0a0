"""The CAL engine's tables, the seed rows, and the append-only audit trail

Revision ID: 0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('target', sa.String(length=1000), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)

    op.create_table('cal_pools',
    sa.Column('cal_type', sa.String(length=16), nullable=False),
    sa.Column('claims', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('cal_type', name=op.f('pk_cal_pools'))
    )
    op.create_table('denials',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('document', sa.String(length=1000), nullable=False),
    sa.Column('machine', sa.String(length=200), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_denials'))
    )
    with op.batch_alter_table('denials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_denials_at'), ['at'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=False),
    sa.Column('path_key', sa.String(length=1000), nullable=False),
    sa.Column('cals_allocated', sa.Integer(), nullable=False),
    sa.Column('allow_dynamic_assignment', sa.Boolean(), nullable=False),
    sa.Column('missing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claims', sa.Integer(), nullable=False),
    sa.CheckConstraint('cals_allocated >= 0', name=op.f('ck_documents_allocation_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('path_key', name=op.f('uq_documents_path_key'))
    )
    op.create_table('licenses',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('serial', sa.String(length=16), nullable=False),
    sa.Column('control', sa.String(length=5), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('organization', sa.String(length=200), nullable=False),
    sa.Column('lef_text', sa.Text(), nullable=False),
    sa.Column('key_id', sa.String(length=100), nullable=False),
    sa.Column('named_cals', sa.Integer(), nullable=False),
    sa.Column('document_cals', sa.Integer(), nullable=False),
    sa.Column('session_cals', sa.Integer(), nullable=False),
    sa.Column('usage_cals', sa.Integer(), nullable=False),
    sa.Column('lease_allowed', sa.Boolean(), nullable=False),
    sa.Column('time_limit', sa.Date(), nullable=True),
    sa.Column('maintenance_until', sa.Date(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_licenses'))
    )
    op.create_table('named_cals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('identity_kind', sa.String(length=8), nullable=False),
    sa.Column('identity_key', sa.String(length=200), nullable=False),
    sa.Column('identity_name', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('quarantined_until', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("identity_kind IN ('user', 'machine')", name=op.f('ck_named_cals_identity_kind')),
    sa.CheckConstraint("source IN ('manual', 'dynamic')", name=op.f('ck_named_cals_source')),
    sa.CheckConstraint('quarantined_until IS NULL OR removed_at IS NOT NULL', name=op.f('ck_named_cals_quarantine_needs_removal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_named_cals')),
    sa.UniqueConstraint('identity_kind', 'identity_key', name='uq_named_cals_identity')
    )
    with op.batch_alter_table('named_cals', schema=None) as batch_op:
        batch_op.create_index('ix_named_cals_quarantined_until', ['quarantined_until'], unique=False)

    op.create_table('session_cals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('client_key', sa.String(length=500), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('machine', sa.String(length=200), nullable=False),
    sa.Column('client', sa.String(length=16), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_cals'))
    )
    with op.batch_alter_table('session_cals', schema=None) as batch_op:
        batch_op.create_index('ix_session_cals_client_key', ['client_key'], unique=False)
        batch_op.create_index('ix_session_cals_released_at', ['released_at'], unique=False)
        batch_op.create_index('uq_session_cals_open_client', ['client_key'], unique=True, sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))

    op.create_table('site_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('allow_dynamic_assignment', sa.Boolean(), nullable=False),
    sa.Column('allow_license_lease', sa.Boolean(), nullable=False),
    sa.Column('identification_mode', sa.String(length=16), nullable=False),
    sa.Column('maintenance', sa.Boolean(), nullable=False),
    sa.CheckConstraint("identification_mode IN ('user', 'machine')", name=op.f('ck_site_state_identification_mode')),
    sa.CheckConstraint('id = 1', name=op.f('ck_site_state_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_state'))
    )
    op.create_table('users',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_users'))
    )
    op.create_table('document_cals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('user_key', sa.String(length=200), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('quarantined_until', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("source IN ('manual', 'dynamic')", name=op.f('ck_document_cals_source')),
    sa.CheckConstraint('quarantined_until IS NULL OR removed_at IS NOT NULL', name=op.f('ck_document_cals_quarantine_needs_removal')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_cals_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_cals')),
    sa.UniqueConstraint('document_id', 'user_key', name='uq_document_cals_document_user')
    )
    with op.batch_alter_table('document_cals', schema=None) as batch_op:
        batch_op.create_index('ix_document_cals_user_key', ['user_key'], unique=False)

    op.create_table('sessions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('cal_type', sa.String(length=16), nullable=False),
    sa.Column('cal_id', sa.Integer(), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('machine', sa.String(length=200), nullable=False),
    sa.Column('client', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("cal_type IN ('session', 'usage')", name=op.f('ck_sessions_cal_type')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_sessions_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions'))
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index('ix_sessions_cal', ['cal_type', 'cal_id'], unique=False)

    op.create_table('usage_cals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('holder_key', sa.String(length=200), nullable=False),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('machine', sa.String(length=200), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('consumed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('returns_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_usage_cals_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_cals'))
    )
    with op.batch_alter_table('usage_cals', schema=None) as batch_op:
        batch_op.create_index('ix_usage_cals_holder', ['holder_key', 'document_id'], unique=False)
        batch_op.create_index('ix_usage_cals_returns_at', ['returns_at'], unique=False)


    op.execute("INSERT INTO site_state (id, generation, allow_dynamic_assignment, allow_license_lease, "
               "identification_mode, maintenance) VALUES (1, 0, true, true, 'user', false)")
    for cal_type in ("named", "document", "session", "usage"):
        op.execute(f"INSERT INTO cal_pools (cal_type, claims) VALUES ('{cal_type}', 0)")
    _audit_triggers()


def _audit_triggers() -> None:
    """Refuse UPDATE and DELETE on the audit trail, in the database itself."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    with op.batch_alter_table('usage_cals', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_cals_returns_at')
        batch_op.drop_index('ix_usage_cals_holder')

    op.drop_table('usage_cals')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_cal')

    op.drop_table('sessions')
    with op.batch_alter_table('document_cals', schema=None) as batch_op:
        batch_op.drop_index('ix_document_cals_user_key')

    op.drop_table('document_cals')
    op.drop_table('users')
    op.drop_table('site_state')
    with op.batch_alter_table('session_cals', schema=None) as batch_op:
        batch_op.drop_index('uq_session_cals_open_client', sqlite_where=sa.text('released_at IS NULL'), postgresql_where=sa.text('released_at IS NULL'))
        batch_op.drop_index('ix_session_cals_released_at')
        batch_op.drop_index('ix_session_cals_client_key')

    op.drop_table('session_cals')
    with op.batch_alter_table('named_cals', schema=None) as batch_op:
        batch_op.drop_index('ix_named_cals_quarantined_until')

    op.drop_table('named_cals')
    op.drop_table('licenses')
    op.drop_table('documents')
    with op.batch_alter_table('denials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_denials_at'))

    op.drop_table('denials')
    op.drop_table('cal_pools')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
