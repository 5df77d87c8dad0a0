"""The statements of claims on CAL pools (``store.claims``), built once with bound parameters.

ON CONFLICT DO NOTHING: a row the unique constraints refuse (the user has one already) is not inserted, and
the transaction goes on.
"""

from __future__ import annotations

from sqlalchemy import bindparam, or_, select, text

from calkeeper.infra.database import UtcDateTime, typed_text
from calkeeper.store.counters import doccal_t, named_t, session_cal_t, usage_t

INSERT_NAMED = typed_text(
    "INSERT INTO named_cals (identity_kind, identity_key, identity_name, source, assigned_at, last_used, machine) "
    "VALUES (:kind, :key, :name, :source, :at, :minute, :machine) ON CONFLICT DO NOTHING RETURNING id", "at", "minute")
INSERT_DOCUMENT_CAL = typed_text(
    "INSERT INTO document_cals (document_id, user_key, user_name, source, assigned_at, last_used, machine) "
    "VALUES (:document, :key, :name, :source, :at, :minute, :machine) ON CONFLICT DO NOTHING RETURNING id",
    "at", "minute")
INSERT_SESSION_CAL = typed_text(
    "INSERT INTO session_cals (client_key, user_name, machine, client, acquired_at, counted) "
    "VALUES (:key, :user, :machine, :client, :at, true) ON CONFLICT DO NOTHING RETURNING id", "at")
# a request of the same holder may have consumed one for the document while this one waited for the lock
USAGE_COLUMNS = "holder_key, user_name, machine, document_id, consumed_at, expires_at, returns_at, counted"
INSERT_USAGE_CAL = typed_text(
    f"INSERT INTO usage_cals ({USAGE_COLUMNS}) "
    "SELECT :key, :user, :machine, :document, :at, :expires, :returns, true WHERE NOT EXISTS "
    "(SELECT 1 FROM usage_cals WHERE holder_key = :holder AND document_id = :held_document AND expires_at > :now) "
    "RETURNING id", "at", "expires", "returns", "now")
INSERT_NEXT_USAGE_CAL = typed_text(
    f"INSERT INTO usage_cals ({USAGE_COLUMNS}) "
    "VALUES (:key, :user, :machine, :document, :at, :expires, :returns, true) RETURNING id", "at", "expires", "returns")
# PostgreSQL: the pool's counter and the CAL row in one statement, one round trip under the pool's lock
# ("reserved": the counter took one; "id": the row inserted, none when the unique constraints refused it).
# Where the counter is full, the claim goes the long way (sweep, then RESERVE and the insert above). The
# statement reads as of when it began, before it waited for the lock: only the unique constraints (which see
# every committed row) may decide that a row is there already, so Usage CALs are not claimed this way.
_RESERVED = ("WITH reserved AS (UPDATE cal_pools SET used = used + 1 WHERE cal_type = :pool AND used < :limit "
             "RETURNING used), ")
CLAIM_NAMED_PG = typed_text(
    _RESERVED + "inserted AS (INSERT INTO named_cals (identity_kind, identity_key, identity_name, source, assigned_at, "
    "last_used, machine) SELECT :kind, :key, :name, :source, CAST(:at AS timestamptz), CAST(:minute AS timestamptz), "
    "CAST(:machine AS text) FROM reserved ON CONFLICT DO NOTHING RETURNING id) "
    "SELECT EXISTS (SELECT 1 FROM reserved) AS reserved, (SELECT id FROM inserted) AS id", "at", "minute")
CLAIM_DOCUMENT_CAL_PG = typed_text(
    _RESERVED + "held AS (UPDATE documents SET used = used + 1 WHERE id = :document AND used < cals_allocated "
    "AND EXISTS (SELECT 1 FROM reserved) RETURNING id), "
    "inserted AS (INSERT INTO document_cals (document_id, user_key, user_name, source, assigned_at, last_used, "
    "machine) SELECT :document, :key, :name, :source, CAST(:at AS timestamptz), CAST(:minute AS timestamptz), "
    "CAST(:machine AS text) FROM held ON CONFLICT DO NOTHING RETURNING id) "
    "SELECT EXISTS (SELECT 1 FROM reserved) AS reserved, EXISTS (SELECT 1 FROM held) AS document_reserved, "
    "(SELECT id FROM inserted) AS id", "at", "minute")
CLAIM_SESSION_CAL_PG = typed_text(
    _RESERVED + "inserted AS (INSERT INTO session_cals (client_key, user_name, machine, client, acquired_at, counted) "
    "SELECT :key, CAST(:user AS text), :machine, :client, CAST(:at AS timestamptz), true FROM reserved "
    "ON CONFLICT DO NOTHING RETURNING id) "
    "SELECT EXISTS (SELECT 1 FROM reserved) AS reserved, (SELECT id FROM inserted) AS id", "at")
HELD_NAMED = select(named_t.c.id, named_t.c.machine).where(
    named_t.c.identity_kind == bindparam("kind"), named_t.c.identity_key == bindparam("key"),
    named_t.c.removed_at.is_(None),
)
HELD_DOCUMENT_CAL = select(doccal_t.c.id, doccal_t.c.machine).where(
    doccal_t.c.document_id == bindparam("document"), doccal_t.c.user_key == bindparam("key"),
    doccal_t.c.removed_at.is_(None),
)
# steps 1 and 2 of the order in one statement: the Named CAL the holder holds, the Document CAL the user holds,
# and the generation of the site's rules (whether the rules a node has cached are still the ones in force)
HELD_BOTH = text(
    "SELECT 'named' AS kind, id, machine FROM named_cals "
    "WHERE identity_kind = :kind AND identity_key = :key AND removed_at IS NULL "
    "UNION ALL SELECT 'document' AS kind, id, machine FROM document_cals "
    "WHERE document_id = :document AND user_key = :user AND removed_at IS NULL "
    "UNION ALL SELECT 'generation' AS kind, generation AS id, NULL AS machine FROM site_state WHERE id = 1"
)
# a swept Session CAL (not counted) is never taken back: its place in the pool is gone
HELD_SESSION_CAL = select(session_cal_t.c.id, session_cal_t.c.released_at).where(
    session_cal_t.c.client_key == bindparam("key"), session_cal_t.c.counted,
    or_(session_cal_t.c.released_at.is_(None), session_cal_t.c.released_at > bindparam("now", type_=UtcDateTime())),
).order_by(session_cal_t.c.released_at.is_(None).desc())
HELD_USAGE_CAL = select(usage_t.c.id).where(
    usage_t.c.holder_key == bindparam("key"), usage_t.c.document_id == bindparam("document"),
    usage_t.c.expires_at > bindparam("now", type_=UtcDateTime()),
)
