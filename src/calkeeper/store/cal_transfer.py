"""Named and Document CAL assignments moved between sites: read for an export, written by an import.

An import writes its rows and moves the pool counters (``store.counters``) by as many, in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, literal, select

from calkeeper.core.cals import CalType
from calkeeper.core.clock import to_minute
from calkeeper.store.claims import Claims, doc_t, doccal_t, named_t
from calkeeper.store.counters import ADJUST_DOCUMENT
from calkeeper.store.site_state import bump_generation


class CalTransfer:
    def __init__(self, connection: Connection, now: datetime, claims: Claims) -> None:
        self.connection = connection
        self.now = now
        self.claims = claims

    def rows(self) -> list[dict[str, Any]]:
        """Every Named CAL (in holder order), then every Document CAL (by document, then user)."""
        named = select(literal("named").label("type"), named_t.c.identity_name.label("user"), named_t.c.identity_kind,
                       named_t.c.source, named_t.c.assigned_at, named_t.c.last_used, named_t.c.removed_at,
                       named_t.c.quarantined_until, named_t.c.machine
                       ).order_by(named_t.c.identity_kind, named_t.c.identity_key)
        documents = (select(literal("document").label("type"), doccal_t.c.user_name.label("user"),
                            literal("user").label("identity_kind"), doc_t.c.path.label("document"), doccal_t.c.source,
                            doccal_t.c.assigned_at, doccal_t.c.last_used, doccal_t.c.removed_at,
                            doccal_t.c.quarantined_until, doccal_t.c.machine)
                     .join(doc_t, doc_t.c.id == doccal_t.c.document_id).order_by(doc_t.c.path_key, doccal_t.c.user_key))
        return ([dict(row) for row in self.connection.execute(named).mappings()]
                + [dict(row) for row in self.connection.execute(documents).mappings()])

    def named_holders(self) -> set[tuple[str, str]]:
        """(identity kind, key) of every Named CAL the site holds, quarantined ones included."""
        return {(k, key) for k, key in self.connection.execute(select(named_t.c.identity_kind, named_t.c.identity_key))}

    def document_holders(self) -> set[tuple[int, str]]:
        """(document id, user key) of every Document CAL the site holds, quarantined ones included."""
        return {(d, key) for d, key in self.connection.execute(select(doccal_t.c.document_id, doccal_t.c.user_key))}

    def add(self, named: list[dict[str, Any]], document: list[dict[str, Any]]) -> None:
        """Insert CALs (each a row's values; Document CALs with their ``document_id``) and count them.

        The caller holds the Named and Document pools' locks and has checked that they fit.
        """
        if named:
            self.connection.execute(insert(named_t), [self._values(row) for row in named])
            self.claims.adjust(CalType.NAMED, len(named))
        if document:
            self.connection.execute(insert(doccal_t), [self._values(row) for row in document])
            self.claims.adjust(CalType.DOCUMENT, len(document))
            per_document: dict[int, int] = {}
            for row in document:
                per_document[row["document_id"]] = per_document.get(row["document_id"], 0) + 1
            for document_id, count in per_document.items():
                self.connection.execute(ADJUST_DOCUMENT, {"document": document_id, "delta": count})
        bump_generation(self.connection)  # every node's cache learns of the new holders

    def _values(self, row: dict[str, Any]) -> dict[str, Any]:
        values = {**row, "assigned_at": row.get("assigned_at") or self.now}
        if values.get("last_used") is not None:
            values["last_used"] = to_minute(values["last_used"])  # "last used" is kept to the minute
        return values
