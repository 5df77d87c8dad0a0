"""first claim in one call: PostgreSQL's function for an open whose holder holds no CAL yet

Revision ID: 0016
Revises: 0015

A first open (the user, or machine, holds no CAL the order would serve it from) claims one CAL of the
kind the caller names, starts its session and writes its audit row in one call, made on a connection
that commits each statement as it ends: the transaction is one round trip to the server, and holds the
pool's row lock only while the server runs the rest of it and commits. It returns no row, having changed nothing but perhaps the user's first spelling,
wherever the general path must decide instead: the rules the caller read are no longer the ones in force
(the generation moved), the holder holds a CAL already (or its client instance a Session CAL, or a
Usage CAL for the document within its hour), the pool is full, or another transaction claimed for the
same holder meanwhile. ``store.first_claims`` calls it; SQLite runs the same steps from Python.

Locks are taken in the order every claim takes them: the user's row, the pool's row, the document's row,
then the CAL's row. Each statement reads as of when it starts (READ COMMITTED), so the checks made after
the pool's lock see every claim committed before it.
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

FIRST_CLAIM = """
CREATE OR REPLACE FUNCTION calkeeper_first_claim(
    p_generation integer, p_pool text, p_in_license integer,
    p_named_kind text, p_named_key text, p_named_name text,
    p_user_key text, p_user_name text, p_document integer,
    p_client_key text, p_holder_key text, p_machine text, p_client text,
    p_at timestamptz, p_minute timestamptz, p_expires timestamptz, p_returns timestamptz,
    p_session_id text, p_node text,
    p_audit_action text, p_audit_details text
) RETURNS TABLE (o_cal_id integer, o_shown text)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_shown text := p_user_name;
    v_named text := p_named_name;
    v_cal integer;
BEGIN
    IF (SELECT generation FROM site_state WHERE id = 1) IS DISTINCT FROM p_generation THEN
        RETURN;
    END IF;
    IF p_user_key IS NOT NULL AND (
        EXISTS (SELECT 1 FROM named_cals WHERE identity_kind = p_named_kind AND identity_key = p_named_key
                AND removed_at IS NULL)
        OR EXISTS (SELECT 1 FROM document_cals WHERE document_id = p_document AND user_key = p_user_key
                   AND removed_at IS NULL)) THEN
        RETURN;
    END IF;
    IF p_pool = 'session' AND EXISTS (
        SELECT 1 FROM session_cals WHERE client_key = p_client_key AND counted
        AND (released_at IS NULL OR released_at > p_at)) THEN
        RETURN;
    END IF;
    IF p_pool = 'usage' AND EXISTS (
        SELECT 1 FROM usage_cals WHERE holder_key = p_holder_key AND document_id = p_document
        AND expires_at > p_at) THEN
        RETURN;
    END IF;
    IF p_user_key IS NOT NULL THEN  -- the first spelling seen is the one displayed
        INSERT INTO users (key, name, first_seen) VALUES (p_user_key, p_user_name, p_at)
            ON CONFLICT DO NOTHING RETURNING name INTO v_shown;
        IF v_shown IS NULL THEN
            SELECT name INTO v_shown FROM users WHERE key = p_user_key;
        END IF;
        IF p_named_kind = 'user' THEN
            v_named := v_shown;
        END IF;
    END IF;

    UPDATE cal_pools SET used = used + 1 WHERE cal_type = p_pool AND used < p_in_license;
    IF NOT FOUND THEN
        RETURN;  -- full, or full until a sweep frees what no longer occupies it: the general path sweeps
    END IF;
    IF p_pool = 'named' THEN
        INSERT INTO named_cals (identity_kind, identity_key, identity_name, source, assigned_at, last_used, machine)
            VALUES (p_named_kind, p_named_key, v_named, 'dynamic', p_at, p_minute, p_machine)
            ON CONFLICT DO NOTHING RETURNING id INTO v_cal;
    ELSIF p_pool = 'document' THEN
        UPDATE documents SET used = used + 1 WHERE id = p_document AND used < cals_allocated;
        IF NOT FOUND THEN
            UPDATE cal_pools SET used = used - 1 WHERE cal_type = p_pool;
            RETURN;
        END IF;
        INSERT INTO document_cals (document_id, user_key, user_name, source, assigned_at, last_used, machine)
            VALUES (p_document, p_user_key, v_shown, 'dynamic', p_at, p_minute, p_machine)
            ON CONFLICT DO NOTHING RETURNING id INTO v_cal;
        IF v_cal IS NULL THEN
            UPDATE documents SET used = used - 1 WHERE id = p_document;
        END IF;
    ELSIF p_pool = 'session' THEN
        INSERT INTO session_cals (client_key, user_name, machine, client, acquired_at, counted)
            VALUES (p_client_key, v_shown, p_machine, p_client, p_at, true)
            ON CONFLICT DO NOTHING RETURNING id INTO v_cal;
    ELSE  -- usage: none consumed for the document meanwhile (read now, under the pool's lock)
        INSERT INTO usage_cals (holder_key, user_name, machine, document_id, consumed_at, expires_at, returns_at,
                                counted)
            SELECT p_holder_key, v_shown, p_machine, p_document, p_at, p_expires, p_returns, true
            WHERE NOT EXISTS (SELECT 1 FROM usage_cals WHERE holder_key = p_holder_key
                              AND document_id = p_document AND expires_at > p_at)
            RETURNING id INTO v_cal;
    END IF;
    IF v_cal IS NULL THEN  -- claimed for the same holder meanwhile: the general path finds that one
        UPDATE cal_pools SET used = used - 1 WHERE cal_type = p_pool;
        RETURN;
    END IF;

    INSERT INTO sessions (id, cal_type, cal_id, user_name, document_id, machine, client, started_at,
                          last_activity, node)
        VALUES (p_session_id, p_pool, v_cal, v_shown, p_document, p_machine, p_client, p_at, p_at, p_node);
    IF p_audit_action IS NOT NULL THEN
        INSERT INTO audit_log (at, actor, action, target, details)
            VALUES (p_at, 'calkeeper', p_audit_action, CASE WHEN p_pool = 'named' THEN v_named ELSE v_shown END,
                    p_audit_details);
    END IF;
    o_cal_id := v_cal;
    o_shown := v_shown;
    RETURN NEXT;
END
$fn$
"""

DROP = ("DROP FUNCTION IF EXISTS calkeeper_first_claim(integer, text, integer, text, text, text, text, text, integer, "
        "text, text, text, text, timestamptz, timestamptz, timestamptz, timestamptz, text, text, text, text)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FIRST_CLAIM)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP)
