"""A first open's claim in one call: the CAL, its session and its audit row, where the holder holds none yet.

Most opens that reach the database are a user's first (every Session or Usage CAL site's, every
morning). For those the order comes down to one claim of the kind it reaches first
(``core.allocation.first_claim``). This claims it with no statement built or converted by SQLAlchemy:

- PostgreSQL: one call of the function ``calkeeper_first_claim`` (migration 0016), on a connection that
  commits the statement as it ends: one round trip, the pool's row lock held only while the server runs
  the rest of the function and commits.
- SQLite: the same steps as a few statements straight to the driver, in the transaction the unit of
  work opened (its write lock taken, or its place in a group commit).

Either way, nothing is claimed (and None returned) where the whole order must decide instead: the rules
were read at another generation, the holder holds a CAL already (a Named CAL, or a Document CAL for the
document; the client instance a Session CAL; the holder a Usage CAL for the document within its hour),
the pool is full (a sweep may free one), or another transaction claimed for the same holder meanwhile.
The pool's counter is changed with its row, as every claim changes it (``store.counters``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from calkeeper.core.allocation import OpenRequest
from calkeeper.core.cals import USAGE_CAL_RECHARGE, USAGE_CAL_SESSION, CalType, new_grant_id
from calkeeper.core.clock import to_minute
from calkeeper.core.identities import Identity
from calkeeper.store.claim_sessions import session_t
from calkeeper.store.tail_writes import driver_errors

CALL_PG = (
    "SELECT o_cal_id, o_shown FROM calkeeper_first_claim(%(generation)s::integer, %(pool)s::text, "
    "%(in_license)s::integer, %(named_kind)s::text, %(named_key)s::text, %(named_name)s::text, %(user_key)s::text, "
    "%(user_name)s::text, %(document)s::integer, %(client_key)s::text, %(holder_key)s::text, %(machine)s::text, "
    "%(client)s::text, %(at)s::timestamptz, %(minute)s::timestamptz, %(expires)s::timestamptz, "
    "%(returns)s::timestamptz, %(session_id)s::text, %(node)s::text, %(audit_action)s::text, "
    "%(audit_details)s::text)"
)

# SQLite: the same steps, each a statement (named parameters, as the driver reads them)
FREE_SQLITE = (
    "SELECT coalesce((SELECT generation FROM site_state WHERE id = 1) = :generation, 0) AND NOT ("
    "EXISTS (SELECT 1 FROM named_cals WHERE identity_kind = :named_kind AND identity_key = :named_key "
    "AND removed_at IS NULL) "
    "OR EXISTS (SELECT 1 FROM document_cals WHERE document_id = :document AND user_key = :user_key "
    "AND removed_at IS NULL) "
    "OR (:pool = 'session' AND EXISTS (SELECT 1 FROM session_cals WHERE client_key = :client_key AND counted "
    "AND (released_at IS NULL OR released_at > :at))) "
    "OR (:pool = 'usage' AND EXISTS (SELECT 1 FROM usage_cals WHERE holder_key = :holder_key "
    "AND document_id = :document AND expires_at > :at)))"
)
SHOWN_SQLITE = "SELECT name FROM users WHERE key = :user_key"
NEW_USER_SQLITE = "INSERT INTO users (key, name, first_seen) VALUES (:user_key, :user_name, :at) ON CONFLICT DO NOTHING"
RESERVE_SQLITE = (
    "UPDATE cal_pools SET used = used + :delta WHERE cal_type = :pool AND (:delta < 0 OR used < :in_license)")
RESERVE_DOCUMENT_SQLITE = (
    "UPDATE documents SET used = used + :delta WHERE id = :document AND (:delta < 0 OR used < cals_allocated)")
INSERT_SQLITE = {
    CalType.NAMED: (
        "INSERT INTO named_cals (identity_kind, identity_key, identity_name, source, assigned_at, last_used, machine) "
        "VALUES (:named_kind, :named_key, :named_name, 'dynamic', :at, :minute, :machine) "
        "ON CONFLICT DO NOTHING RETURNING id"),
    CalType.DOCUMENT: (
        "INSERT INTO document_cals (document_id, user_key, user_name, source, assigned_at, last_used, machine) "
        "VALUES (:document, :user_key, :user_name, 'dynamic', :at, :minute, :machine) "
        "ON CONFLICT DO NOTHING RETURNING id"),
    CalType.SESSION: (
        "INSERT INTO session_cals (client_key, user_name, machine, client, acquired_at, counted) "
        "VALUES (:client_key, :user_name, :machine, :client, :at, 1) ON CONFLICT DO NOTHING RETURNING id"),
    CalType.USAGE: (
        "INSERT INTO usage_cals (holder_key, user_name, machine, document_id, consumed_at, expires_at, returns_at, "
        "counted) SELECT :holder_key, :user_name, :machine, :document, :at, :expires, :returns, 1 "
        "WHERE NOT EXISTS (SELECT 1 FROM usage_cals WHERE holder_key = :holder_key AND document_id = :document "
        "AND expires_at > :at) RETURNING id"),
}
SESSION_SQLITE = (
    "INSERT INTO sessions (id, cal_type, cal_id, user_name, document_id, machine, client, started_at, last_activity, "
    "node) VALUES (:session_id, :pool, :cal_id, :user_name, :document, :machine, :client, :at, :at, :node)")
AUDIT_SQLITE = (
    "INSERT INTO audit_log (at, actor, action, target, details) "
    "VALUES (:at, 'calkeeper', :audit_action, :audit_target, :audit_details)")


@dataclass(frozen=True, slots=True)
class FirstClaimed:
    """A CAL claimed by a first open: its id, the session it started, and the user's displayed spelling."""

    cal_id: int
    session_id: str
    shown: str | None  # the first spelling of the user's name seen (None: anonymous)


class FirstClaims:
    """A first open's claim on one transaction (PostgreSQL: the function's call is a transaction of its own)."""

    def __init__(self, connection: Connection, now: datetime, *, postgres: bool, node: str | None) -> None:
        self.connection = connection
        self.now = now
        self.postgres = postgres
        self.node = node

    def claim(self, request: OpenRequest, cal_type: CalType, *, in_license: int, generation: int,
              named: Identity | None, audit: tuple[str, dict[str, Any]] | None) -> FirstClaimed | None:
        """Claim a CAL of ``cal_type`` for an open whose holder holds none, under the rules of ``generation``,
        start its session and write ``audit`` (action, details; target: the CAL's holder); None, having
        claimed nothing, where the whole order must decide (see the module's docstring). ``named``: who a
        Named CAL goes to (steps 1 and 3), None for an anonymous open."""
        user = request.user
        session_id = new_grant_id(cal_type, self.now)
        params: dict[str, Any] = {
            "generation": generation, "pool": cal_type.value, "in_license": in_license,
            "named_kind": named.kind if named else None, "named_key": named.key if named else None,
            "named_name": named.name if named else None, "user_key": user.key if user else None,
            "user_name": user.name if user else None, "document": request.document.id,
            "client_key": request.client_key, "holder_key": request.holder_key, "machine": request.machine.name,
            "client": request.client.value, "at": self.now,
            "minute": to_minute(self.now) if cal_type is CalType.NAMED or cal_type is CalType.DOCUMENT else None,
            "expires": self.now + USAGE_CAL_SESSION, "returns": self.now + USAGE_CAL_RECHARGE,
            "session_id": session_id, "node": self.node,
            "audit_action": audit[0] if audit else None,
            "audit_details": json.dumps(audit[1], default=str, sort_keys=True) if audit else None,
        }
        if self.postgres:
            row = self._call_pg(params)
            return None if row is None else FirstClaimed(int(row[0]), session_id, row[1])
        return self._claim_sqlite(cal_type, params)

    def _call_pg(self, params: dict[str, Any]) -> Any:
        """The function's one call, in a transaction of its own: the connection commits each statement as it
        ends (the unit of work's transaction, which has sent nothing, commits nothing)."""
        from psycopg.pq import TransactionStatus  # only PostgreSQL comes here

        raw: Any = self.connection.connection.driver_connection
        with driver_errors(self.connection):
            raw.autocommit = True
            try:
                return raw.execute(CALL_PG, params).fetchone()
            finally:
                if raw.info.transaction_status == TransactionStatus.IDLE:  # else the connection is given up
                    raw.autocommit = False

    def _claim_sqlite(self, cal_type: CalType, params: dict[str, Any]) -> FirstClaimed | None:
        import sqlite3  # only SQLite comes here

        raw: Any = self.connection.connection.driver_connection
        convert = _sqlite_time(self.connection)
        for name in ("at", "minute", "expires", "returns"):
            params[name] = convert(params[name])
        try:
            if not raw.execute(FREE_SQLITE, params).fetchone()[0]:
                return None
            if params["user_key"] is not None:
                shown = raw.execute(SHOWN_SQLITE, params).fetchone()
                if shown is None:
                    raw.execute(NEW_USER_SQLITE, params)
                else:
                    params["user_name"] = shown[0]
                if params["named_kind"] == "user":
                    params["named_name"] = params["user_name"]
            if raw.execute(RESERVE_SQLITE, {**params, "delta": 1}).rowcount != 1:
                return None
            document = cal_type is CalType.DOCUMENT
            if document and raw.execute(RESERVE_DOCUMENT_SQLITE, {**params, "delta": 1}).rowcount != 1:
                raw.execute(RESERVE_SQLITE, {**params, "delta": -1})
                return None
            row = raw.execute(INSERT_SQLITE[cal_type], params).fetchone()
            if row is None:  # claimed for the same holder meanwhile (or the holder's CAL is in quarantine)
                raw.execute(RESERVE_SQLITE, {**params, "delta": -1})
                if document:
                    raw.execute(RESERVE_DOCUMENT_SQLITE, {**params, "delta": -1})
                return None
            params["cal_id"] = row[0]
            raw.execute(SESSION_SQLITE, params)
            if params["audit_action"] is not None:
                params["audit_target"] = params["named_name"] if cal_type is CalType.NAMED else params["user_name"]
                raw.execute(AUDIT_SQLITE, params)
        except sqlite3.Error as error:
            raise DBAPIError.instance(None, None, error, sqlite3.Error, dialect=self.connection.dialect) from error
        return FirstClaimed(int(row[0]), params["session_id"], params["user_name"])


_CONVERTERS: dict[str, Any] = {}


def _sqlite_time(connection: Connection) -> Any:
    """How the timestamp columns' type stores a time on this database (as SQLAlchemy would store it)."""
    dialect = connection.dialect
    found = _CONVERTERS.get(dialect.name)
    if found is None:
        processor = session_t.c.started_at.type.dialect_impl(dialect).bind_processor(dialect)
        found = _CONVERTERS[dialect.name] = lambda at: None if at is None else processor(at) if processor else at
    return found
