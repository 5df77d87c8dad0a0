"""The site's lists as rows for CSV exports, read in batches from a server-side cursor (little memory).

``EXPORTS`` names each list and its columns; a new list (license leases, say) adds its query here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select

from calkeeper.infra.database import table_of
from calkeeper.store.claims import doc_t, doccal_t, named_t, session_t
from calkeeper.store.schema import AuditEntry, DenialRecord, User

audit_t, denial_t, users_t = table_of(AuditEntry), table_of(DenialRecord), table_of(User)
BATCH = 2000


def _named() -> Select[Any]:
    return select(named_t.c.identity_name, named_t.c.identity_kind, named_t.c.source, named_t.c.assigned_at,
                  named_t.c.last_used, named_t.c.removed_at, named_t.c.quarantined_until,
                  named_t.c.machine).order_by(named_t.c.identity_key)


def _document_cals() -> Select[Any]:
    return (select(doc_t.c.path, doccal_t.c.user_name, doccal_t.c.source, doccal_t.c.assigned_at,
                   doccal_t.c.last_used, doccal_t.c.removed_at, doccal_t.c.quarantined_until, doccal_t.c.machine)
            .join(doc_t, doc_t.c.id == doccal_t.c.document_id).order_by(doc_t.c.path_key, doccal_t.c.user_key))


def _users() -> Select[Any]:
    return select(users_t.c.name, users_t.c.first_seen).order_by(users_t.c.key)


def _sessions() -> Select[Any]:
    return (select(session_t.c.id, session_t.c.user_name, session_t.c.machine, session_t.c.client, doc_t.c.path,
                   session_t.c.cal_type, session_t.c.started_at, session_t.c.last_activity, session_t.c.ended_at,
                   session_t.c.end_reason, session_t.c.node)
            .join(doc_t, doc_t.c.id == session_t.c.document_id).order_by(session_t.c.started_at, session_t.c.id))


def _denials() -> Select[Any]:
    return select(denial_t.c.at, denial_t.c.user_name, denial_t.c.document, denial_t.c.machine, denial_t.c.code,
                  denial_t.c.reason).order_by(denial_t.c.id)


def _audit() -> Select[Any]:
    return select(audit_t.c.at, audit_t.c.actor, audit_t.c.action, audit_t.c.target,
                  audit_t.c.details).order_by(audit_t.c.id)


# name: (columns, query). License leases join here once the site records them.
EXPORTS: dict[str, tuple[list[str], Callable[[], Select[Any]]]] = {
    "named-cals": (["user", "identity_kind", "source", "assigned_at", "last_used", "removed_at", "quarantined_until",
                    "machine"], _named),
    "document-cals": (["document", "user", "source", "assigned_at", "last_used", "removed_at", "quarantined_until",
                       "machine"], _document_cals),
    "users": (["user", "first_seen"], _users),
    "sessions": (["session_id", "user", "machine", "client", "document", "cal_type", "started_at", "last_activity",
                  "ended_at", "end_reason", "node"], _sessions),
    "denials": (["at", "user", "document", "machine", "code", "reason"], _denials),
    "audit": (["at", "actor", "action", "target", "details"], _audit),
}


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return "" if value is None else value


class Exports:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def rows(self, name: str) -> Iterator[list[Any]]:
        """The list's rows, read ``BATCH`` at a time."""
        query = EXPORTS[name][1]()
        result = self.connection.execution_options(stream_results=True, yield_per=BATCH).execute(query)
        for partition in result.partitions():
            for row in partition:
                yield [_cell(v) for v in row]
