"""The sessions a claim's transaction starts, the machine each Named or Document CAL serves, and the
sessions the decision cache granted, written later: the session half of the allocation port (``Claims``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, bindparam, func, insert, select, update

from calkeeper.core.allocation import OpenRequest
from calkeeper.core.assignments import SessionRecord
from calkeeper.core.cals import CalType, new_grant_id
from calkeeper.core.identities import Identity, machine_key
from calkeeper.infra.database import table_of
from calkeeper.store.counters import doc_t, doccal_t, named_t
from calkeeper.store.schema import Session
from calkeeper.store.site_state import bump_generation
from calkeeper.store.tail_writes import TailWrites

session_t = table_of(Session)

INSERT_SESSION = insert(session_t)
# Sessions the decision cache granted, written later, a thousand in one statement that reads them from one
# parameter (PostgreSQL: one binary array per column, unnested; SQLite: one JSON array of rows). Row by row,
# the driver would take the interpreter's lock back for each row, and wait for it each time while the
# event loop answers opens. One recorded already (a batch written again after a commit whose answer was
# lost) is left as it is.
_COLUMNS = "id, cal_type, cal_id, user_name, document_id, machine, client, started_at, last_activity, node"
RECORD_SESSIONS_PG = (
    f"INSERT INTO sessions ({_COLUMNS}) SELECT id, cal_type, cal_id, user_name, document_id, machine, client, at, at, "
    "%(node)b FROM unnest(%(id)b::varchar[], %(cal_type)b::varchar[], %(cal_id)b::int[], %(user_name)b::varchar[], "
    "%(document_id)b::int[], %(machine)b::varchar[], %(client)b::varchar[], %(at)b::timestamptz[]) "
    "AS t(id, cal_type, cal_id, user_name, document_id, machine, client, at) ON CONFLICT DO NOTHING")
RECORD_SESSIONS_SQLITE = (
    f"INSERT INTO sessions ({_COLUMNS}) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, "
    "value ->> 5, value ->> 6, value ->> 7, value ->> 7, :node FROM json_each(:rows) WHERE true "
    "ON CONFLICT DO NOTHING")  # "WHERE true": SQLite's parser tells ON CONFLICT from a join's ON by it
RecordParameters = Callable[[Sequence[Any], str | None], dict[str, Any]]
_RECORDING: dict[str, tuple[str, RecordParameters]] = {}


def _recording(dialect: Dialect) -> tuple[str, RecordParameters]:
    """The driver's SQL that records a batch of sessions on this database, and the batch's parameters.

    The statement goes straight to the driver: SQLAlchemy would build and convert each row's parameters
    one by one (about two thirds of the time a row takes). A time is converted once, by the column
    type's own conversion.
    """
    found = _RECORDING.get(dialect.name)
    if found is not None:
        return found
    convert: Callable[[Any], Any] = session_t.c.started_at.type.dialect_impl(dialect).bind_processor(dialect) or (
        lambda at: at)
    if dialect.name == "postgresql":
        def columns(batch: Sequence[Any], node: str | None) -> dict[str, Any]:
            return {"node": node, "id": [s.id for s in batch], "cal_type": [s.cal_type.value for s in batch],
                    "cal_id": [s.cal_id for s in batch], "user_name": [s.user_name for s in batch],
                    "document_id": [s.document_id for s in batch], "machine": [s.machine for s in batch],
                    "client": [s.client for s in batch], "at": [convert(s.started_at) for s in batch]}
        found = _RECORDING[dialect.name] = (RECORD_SESSIONS_PG, columns)
        return found

    def rows(batch: Sequence[Any], node: str | None) -> dict[str, Any]:
        return {"node": node, "rows": json.dumps([
            (s.id, s.cal_type.value, s.cal_id, s.user_name, s.document_id, s.machine, s.client, convert(s.started_at))
            for s in batch])}
    found = _RECORDING[dialect.name] = (RECORD_SESSIONS_SQLITE, rows)
    return found


SERVES = {
    CalType.NAMED: update(named_t).where(named_t.c.id == bindparam("cal")).values(machine=bindparam("machine")),
    CalType.DOCUMENT: update(doccal_t).where(doccal_t.c.id == bindparam("cal")).values(machine=bindparam("machine")),
}



class ClaimSessions:
    """Session records on one transaction; ``Claims`` sets the state they share with its claims."""

    connection: Connection
    now: datetime
    tail: TailWrites  # the session rows a claim starts may wait for the commit
    node: str | None  # the server node sessions started here are granted by
    machines: dict[tuple[CalType, int], str | None]  # the machine each CAL read here served last
    taken_over: list[SessionRecord]  # sessions another machine's open ended, to audit

    def start_session(self, request: OpenRequest, cal_type: CalType, cal_id: int) -> str:
        session_id = new_grant_id(cal_type, self.now)
        self.tail.insert(INSERT_SESSION, {
            "id": session_id, "cal_type": cal_type.value, "cal_id": cal_id,
            "user_name": request.user.name if request.user else None, "document_id": request.document.id,
            "machine": request.machine.name, "client": request.client.value, "started_at": self.now,
            "last_activity": self.now, "node": self.node,
        })
        if cal_type is CalType.NAMED or cal_type is CalType.DOCUMENT:
            self._serves(cal_type, cal_id, request.machine)
        return session_id

    def _serves(self, cal_type: CalType, cal_id: int, machine: Identity) -> None:
        """Record the machine a Named or Document CAL serves now.

        When it moves from one machine to another, every node's cache is told (the generation moves),
        so none keeps answering opens from the machine it left.
        """
        key = (cal_type, cal_id)
        before = self.machines.get(key, "")  # "" : not read in this transaction (a CAL just claimed)
        if before is not None and machine_key(before) == machine.key:
            return
        self.connection.execute(SERVES[cal_type], {"cal": cal_id, "machine": machine.name})
        self.machines[key] = machine.name
        if before:
            bump_generation(self.connection)

    def record_sessions(self, sessions: Sequence[Any]) -> None:
        """Record sessions the decision cache granted (``StartedSession`` values), a thousand per statement.

        One whose document was released since, or that is recorded already (a batch written again after
        a commit whose answer was lost), is left out, so that no batch can fail for good. A busy gate
        records thousands a second: the rows go to the driver as it takes them (see ``_recording``).
        """
        sql, parameters = _recording(self.connection.dialect)
        for start in range(0, len(sessions), 1000):
            chunk = sessions[start:start + 1000]
            documents = {s.document_id for s in chunk}
            known = set(self.connection.execute(select(doc_t.c.id).where(doc_t.c.id.in_(documents))).scalars())
            batch = [s for s in chunk if s.document_id in known]
            if batch:
                self.connection.exec_driver_sql(sql, parameters(batch, self.node))

    def _live_sessions(self, cal_type: CalType, cal_id: int, *, active_since: datetime,
                       started_since: datetime) -> list[Any]:
        last = func.coalesce(session_t.c.last_activity, session_t.c.started_at)
        return list(self.connection.execute(
            select(session_t.c.id, session_t.c.machine, session_t.c.user_name, session_t.c.document_id,
                   session_t.c.client, session_t.c.started_at, session_t.c.last_activity).where(
                session_t.c.cal_type == cal_type.value, session_t.c.cal_id == cal_id, session_t.c.ended_at.is_(None),
                last > active_since, session_t.c.started_at > started_since,
            )
        ))

    def machines_in_use(self, cal_type: CalType, cal_id: int, machine: Identity, *,
                        active_since: datetime, started_since: datetime) -> list[str]:
        live = self._live_sessions(cal_type, cal_id, active_since=active_since, started_since=started_since)
        return [row.machine for row in live if machine_key(row.machine) != machine.key]

    def end_sessions_elsewhere(self, cal_type: CalType, cal_id: int, machine: Identity, *, reason: str) -> None:
        rows = self.connection.execute(
            select(session_t, doc_t.c.path).join(doc_t, doc_t.c.id == session_t.c.document_id).where(
                session_t.c.cal_type == cal_type.value, session_t.c.cal_id == cal_id, session_t.c.ended_at.is_(None)
            )
        ).mappings().all()
        ended = [r for r in rows if machine_key(str(r["machine"])) != machine.key]
        if not ended:
            return
        self.connection.execute(
            update(session_t).where(session_t.c.id.in_([r["id"] for r in ended]))
            .values(ended_at=self.now, end_reason=reason[:200])
        )
        self.taken_over.extend(
            SessionRecord(r["id"], r["cal_type"], r["cal_id"], self.now, r["user_name"], r["machine"], r["client"],
                          r["document_id"], r["path"], r["started_at"], r["last_activity"], reason)
            for r in ended
        )
