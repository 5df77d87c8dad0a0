"""Failed sign-ins and bad API tokens counted in the database; token names unique among live tokens

Live tokens that share a name keep it on the newest one; each older one is renamed "NAME (id N)",
and the audit trail says so (action token.renamed), so that a name says which token to revoke.

Revision ID: 0007
Revises: 0006
"""

import json
import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LIVE = sa.text("revoked_at IS NULL")
NAME_LENGTH = 100


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('sign_in_user', 'sign_in_address', 'token_address')",
                           name=op.f("ck_auth_failures_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_failures")),
    )
    with op.batch_alter_table("auth_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_failures_at"), ["at"], unique=False)
        batch_op.create_index("ix_auth_failures_subject", ["kind", "subject", "at"], unique=False)
    _rename_older_namesakes()
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index("uq_api_tokens_live_name", ["name"], unique=True, sqlite_where=LIVE,
                              postgresql_where=LIVE)


def _rename_older_namesakes() -> None:
    """Rename each older live token that shares its name with a newer one, and write why in the audit trail."""
    bind = op.get_bind()
    tokens = sa.table("api_tokens", sa.column("id", sa.Integer), sa.column("name", sa.String),
                      sa.column("revoked_at", sa.DateTime(timezone=True)))
    audit = sa.table("audit_log", sa.column("at", sa.DateTime(timezone=True)), sa.column("actor", sa.String),
                     sa.column("action", sa.String), sa.column("target", sa.String), sa.column("details", sa.Text))
    live = bind.execute(sa.select(tokens.c.id, tokens.c.name).where(LIVE).order_by(tokens.c.id.desc())).all()
    taken, renamed = {name for _, name in live}, []
    seen: set[str] = set()
    for token_id, name in live:  # newest first: the newest keeps the name
        if name not in seen:
            seen.add(name)
            continue
        new_name, n = _suffixed(name, f" (id {token_id})"), 1
        while new_name in taken:
            n += 1
            new_name = _suffixed(name, f" (id {token_id}, {n})")
        taken.add(new_name)
        renamed.append((token_id, name, new_name))
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # calkeeper keeps UTC times without a zone in SQLite
    for token_id, name, new_name in renamed:
        bind.execute(sa.update(tokens).where(tokens.c.id == token_id).values(name=new_name))
        why = "token names are unique among live tokens; the newest token named so keeps the name"
        bind.execute(sa.insert(audit).values(
            at=now, actor="calkeeper", action="token.renamed", target=new_name,
            details=json.dumps({"token_id": token_id, "was": name, "why": why}, sort_keys=True)))
        logging.getLogger("calkeeper.store").warning(
            "API token %d was renamed from '%s' to '%s': %s", token_id, name, new_name, why)


def _suffixed(name: str, suffix: str) -> str:
    return name[: NAME_LENGTH - len(suffix)] + suffix


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index("uq_api_tokens_live_name", sqlite_where=LIVE, postgresql_where=LIVE)
    with op.batch_alter_table("auth_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_failures_subject")
        batch_op.drop_index(batch_op.f("ix_auth_failures_at"))
    op.drop_table("auth_failures")
