"""Claims on CAL pools, made so that no pool is ever over-allocated, on one node or many.

Every claim first takes capacity from its pool's counter with one conditional UPDATE
(``used = used + 1 WHERE used < in license``), which is also the pool row's lock until the transaction
ends, then inserts the row (and, for a Document CAL, takes capacity from the document's counter the
same way). Only when the pool looks full does a claim sweep what no longer occupies it (ended
quarantines, Session CALs released, Usage CALs returned) under the lock and check again: see
``store.counters``. Locks are always taken in the same order (the named, document, session, usage pool
rows, then the document's row, then CAL rows) so two transactions never wait on each other in a cycle.
Unique constraints stop the same user from holding two CALs of a kind. On PostgreSQL a Named, Document
or Session claim takes the counter and inserts its row in one statement (``store.claim_statements``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from calkeeper.core.allocation import OpenRequest
from calkeeper.core.assignments import SessionRecord
from calkeeper.core.cals import USAGE_CAL_RECHARGE, USAGE_CAL_SESSION, CalType
from calkeeper.core.clock import to_minute
from calkeeper.core.documents import DocumentInfo
from calkeeper.core.identities import Identity
from calkeeper.store.claim_sessions import ClaimSessions, session_t
from calkeeper.store.claim_statements import (
    CLAIM_DOCUMENT_CAL_PG,
    CLAIM_NAMED_PG,
    CLAIM_SESSION_CAL_PG,
    HELD_BOTH,
    HELD_DOCUMENT_CAL,
    HELD_NAMED,
    HELD_SESSION_CAL,
    HELD_USAGE_CAL,
    INSERT_DOCUMENT_CAL,
    INSERT_NAMED,
    INSERT_NEXT_USAGE_CAL,
    INSERT_SESSION_CAL,
    INSERT_USAGE_CAL,
)
from calkeeper.store.counters import (
    ADJUST,
    ADJUST_DOCUMENT,
    LOCK,
    RESERVE,
    RESERVE_DOCUMENT,
    SWEEP_SESSION_CALS,
    SWEEP_USAGE_CALS,
    doc_t,
    doccal_t,
    named_t,
    pool_t,
    session_cal_t,
    usage_t,
)
from calkeeper.store.tail_writes import TailWrites

__all__ = ["Claims", "doc_t", "doccal_t", "named_t", "occupying", "pool_t", "session_cal_t", "session_t", "usage_t"]


def occupying(table: object, now: datetime) -> ColumnElement[bool]:
    """Rows that hold a Named or Document CAL now: active ones and those still in quarantine."""
    return or_(table.c.quarantined_until.is_(None), table.c.quarantined_until > now)  # type: ignore[attr-defined]


class Claims(ClaimSessions):
    """The allocation port on one transaction: reads and claims (the sessions they start: ``ClaimSessions``)."""

    def __init__(self, connection: Connection, now: datetime, *, postgres: bool, node: str | None = None,
                 tail: TailWrites | None = None, before_pool_lock: Callable[[], None] | None = None) -> None:
        self.connection = connection
        # called before the transaction's first pool or document lock (PostgreSQL: a turn among the process's
        # transactions that lock pools, store.group_commit.WriterTurns)
        self.before_pool_lock = before_pool_lock
        self.now = now
        self.postgres = postgres
        self.tail = tail if tail is not None else TailWrites(connection, postgres=postgres)
        self.node = node  # the server node sessions started here are granted by
        self.freed: list[tuple[str, str, datetime]] = []  # quarantines that ended, to audit
        self.touched: list[tuple[CalType, int, datetime]] = []
        self.taken_over: list[SessionRecord] = []  # sessions another machine's open ended, to audit
        self.machines: dict[tuple[CalType, int], str | None] = {}  # the machine each CAL read here served last
        self.locked: set[CalType] = set()  # pools whose row lock this transaction holds
        self.swept: set[CalType] = set()  # pools swept in this transaction
        # answers read ahead by ``look_up_together``, each used once: (kind, key) -> the CAL's id or None
        self.read_ahead: dict[tuple[CalType, tuple[object, ...]], int | None] = {}

    # -- locks and counters ----------------------------------------------------------------------

    def _turn_to_lock(self) -> None:
        if self.before_pool_lock is not None:
            self.before_pool_lock()
            self.before_pool_lock = None

    def lock_pool(self, cal_type: CalType) -> None:
        """Take the pool's row lock until the transaction ends (SQLite: the write lock)."""
        if cal_type not in self.locked:
            self._turn_to_lock()
            self.connection.execute(LOCK, {"pool": cal_type.value})
            self.locked.add(cal_type)

    def lock_document(self, document_id: int) -> None:
        """Take the document's row lock until the transaction ends."""
        self._turn_to_lock()
        self.connection.execute(
            update(doc_t).where(doc_t.c.id == document_id).values(claims=doc_t.c.claims + 1)
        )

    def lock_pools(self, *cal_types: CalType) -> None:
        """Take several pools' row locks, in the one order every transaction takes them."""
        for cal_type in CalType:
            if cal_type in cal_types:
                self.lock_pool(cal_type)

    def adjust(self, cal_type: CalType, delta: int, *, document_id: int | None = None) -> None:
        """Change a pool's counter (and a document's) by ``delta`` rows; the caller holds the pool's lock."""
        if delta:
            self.connection.execute(ADJUST, {"pool": cal_type.value, "delta": delta})
            if document_id is not None:
                self.connection.execute(ADJUST_DOCUMENT, {"document": document_id, "delta": delta})

    def reserve(self, cal_type: CalType, in_license: int) -> bool:
        """Take one CAL of the pool's counter while it is below the license (sweeping once when it is not)."""
        params = {"pool": cal_type.value, "limit": in_license}
        self._turn_to_lock()
        if self.connection.execute(RESERVE, params).first() is not None:
            self.locked.add(cal_type)
            return True
        if self.sweep(cal_type) == 0:
            return False
        return self.connection.execute(RESERVE, params).first() is not None

    def _claim_in_one(self, statement: Any, cal_type: CalType, in_license: int, params: dict[str, Any]) -> Any:
        """PostgreSQL: run a statement that takes one from the pool's counter and inserts the row; its one row."""
        self._turn_to_lock()
        row = self.connection.execute(statement, {**params, "pool": cal_type.value, "limit": in_license}).one()
        if row.reserved:
            self.locked.add(cal_type)
        return row

    def _take(self, cal_type: CalType, in_license: int, in_one: Any, insert: Any,
              params: dict[str, Any]) -> tuple[bool, int | None]:
        """Take one from the pool's counter and insert the row: whether the counter took one, and the row's id
        (None where the unique constraints refused it). PostgreSQL does both in one statement (``in_one``)
        while the counter has room; else the counter first (sweeping once), then the insert."""
        if self.postgres:
            claimed = self._claim_in_one(in_one, cal_type, in_license, params)
            if claimed.reserved:
                return True, claimed.id
        if not self.reserve(cal_type, in_license):
            return False, None
        return True, self.connection.execute(insert, params).scalar()

    def sweep(self, cal_type: CalType) -> int:
        """Un-count what no longer occupies the pool now (once a transaction); how many rows it found."""
        if cal_type in self.swept:
            return 0
        self.lock_pool(cal_type)
        self.swept.add(cal_type)
        if cal_type is CalType.NAMED:
            return self.free_ended_quarantine(named_t)
        if cal_type is CalType.DOCUMENT:
            return self.free_ended_quarantine(doccal_t)
        statement = SWEEP_SESSION_CALS if cal_type is CalType.SESSION else SWEEP_USAGE_CALS
        found = int(self.connection.execute(statement, {"now": self.now}).rowcount)
        self.adjust(cal_type, -found)
        return found

    # -- counts ----------------------------------------------------------------------------------

    def _occupied(self, counter: ColumnElement[int], table: Any, *where: ColumnElement[bool]) -> ColumnElement[int]:
        """The rows occupying a CAL now: the counter (every row) less those whose quarantine has ended but that no
        sweep has freed yet, which the quarantine index finds without reading the others. For the pool views."""
        ended = (
            select(func.count()).select_from(table).where(table.c.quarantined_until <= self.now, *where)
            .scalar_subquery()
        )
        return counter - ended

    @staticmethod
    def _pool_used(cal_type: CalType) -> ColumnElement[int]:
        return select(pool_t.c.used).where(pool_t.c.cal_type == cal_type.value).scalar_subquery()

    def named_occupied(self) -> ColumnElement[int]:
        return self._occupied(self._pool_used(CalType.NAMED), named_t)

    def document_occupied(self, document_id: int | None = None) -> ColumnElement[int]:
        if document_id is None:
            return self._occupied(self._pool_used(CalType.DOCUMENT), doccal_t)
        # the document's rows among the ended ones: "+ 0" keeps SQLite on the quarantine index, where the
        # document's own index would have it read every row the document holds
        return self._occupied(select(doc_t.c.used).where(doc_t.c.id == document_id).scalar_subquery(), doccal_t,
                              doccal_t.c.document_id + 0 == document_id)

    def session_in_use(self) -> ColumnElement[int]:
        return (
            select(func.count())
            .select_from(session_cal_t)
            .where(or_(session_cal_t.c.released_at.is_(None), session_cal_t.c.released_at > self.now))
            .scalar_subquery()
        )

    def usage_in_use(self) -> ColumnElement[int]:
        return select(func.count()).select_from(usage_t).where(usage_t.c.returns_at > self.now).scalar_subquery()

    # -- Named CALs ------------------------------------------------------------------------------

    def look_up_together(self, holder: Identity, user: Identity, document: DocumentInfo) -> int:
        """Read the CALs steps 1 and 2 ask for next (``held_named_cal(holder)``, ``held_document_cal(user,
        document)``) in one statement, and return the site's generation (``SiteState.generation``) read in it;
        each answer serves the first ask only, later ones read again."""
        rows = self.connection.execute(HELD_BOTH, {"kind": holder.kind, "key": holder.key, "document": document.id,
                                                   "user": user.key}).all()
        found = {row.kind: row for row in rows}
        for cal_type, key in ((CalType.NAMED, (holder.kind, holder.key)), (CalType.DOCUMENT, (user.key, document.id))):
            row = found.get(cal_type.value)
            self.read_ahead[(cal_type, key)] = None if row is None else int(row.id)
            if row is not None:
                self.machines[(cal_type, int(row.id))] = row.machine
        return int(found["generation"].id)

    def held_named_cal(self, identity: Identity) -> int | None:
        ahead = (CalType.NAMED, (identity.kind, identity.key))
        if ahead in self.read_ahead:
            return self.read_ahead.pop(ahead)
        row = self.connection.execute(HELD_NAMED, {"kind": identity.kind, "key": identity.key}).first()
        if row is None:
            return None
        self.machines[(CalType.NAMED, row.id)] = row.machine
        return int(row.id)

    def free_ended_quarantine(self, table: Table, **where: object) -> int:
        """Delete rows whose quarantine has ended (they no longer occupy anything), count them off and note them."""
        t = table
        cal_type = CalType.NAMED if t is named_t else CalType.DOCUMENT
        self.lock_pool(cal_type)
        conditions = [t.c.quarantined_until <= self.now] + [t.c[k] == v for k, v in where.items()]
        rows = self.connection.execute(delete(t).where(*conditions).returning(*t.c)).mappings().all()
        per_document: dict[int, int] = {}
        for row in rows:
            name = str(row.get("identity_name") or row.get("user_name"))
            kind = "named" if t is named_t else f"document:{row['document_id']}"
            self.freed.append((kind, name, row["quarantined_until"]))
            if t is doccal_t:
                per_document[row["document_id"]] = per_document.get(row["document_id"], 0) + 1
        self.adjust(cal_type, -len(rows))
        for document_id, count in per_document.items():
            self.connection.execute(ADJUST_DOCUMENT, {"document": document_id, "delta": -count})
        return len(rows)

    def claim_named_cals(self, identities: list[Identity], *, in_license: int, source: str = "manual") -> bool:
        """Claim Named CALs for many identities holding none, all or none of them: the pool's counter takes them
        all at once while the license allows, then one multi-row insert, so a pasted list of thousands costs
        about what one claim does."""
        self.lock_pool(CalType.NAMED)
        self.sweep(CalType.NAMED)  # quarantines that ended free their CALs (and identities) first
        taken = self.connection.execute(
            update(pool_t).where(pool_t.c.cal_type == CalType.NAMED.value,
                                 pool_t.c.used + len(identities) <= in_license)
            .values(used=pool_t.c.used + len(identities)).returning(pool_t.c.used)
        ).first()
        if taken is None:
            return False
        minute = to_minute(self.now) if source == "dynamic" else None
        self.connection.execute(insert(named_t), [
            {"identity_kind": i.kind, "identity_key": i.key, "identity_name": i.name, "source": source,
             "assigned_at": self.now, "last_used": minute} for i in identities])
        return True

    def claim_named_cal(self, identity: Identity, *, in_license: int, source: str = "dynamic",
                        machine: str | None = None) -> int | None:
        params = {"kind": identity.kind, "key": identity.key, "name": identity.name, "source": source,
                  "at": self.now, "minute": to_minute(self.now) if source == "dynamic" else None, "machine": machine}
        taken, cal_id = self._take(CalType.NAMED, in_license, CLAIM_NAMED_PG, INSERT_NAMED, params)
        if not taken:
            return None
        if cal_id is None and self.free_ended_quarantine(named_t, identity_kind=identity.kind,
                                                         identity_key=identity.key):
            cal_id = self.connection.execute(INSERT_NAMED, params).scalar()
        if cal_id is None:  # the identity has a Named CAL (held, or in quarantine): none is taken
            self.adjust(CalType.NAMED, -1)
        elif machine is not None:
            self.machines[(CalType.NAMED, cal_id)] = machine  # written with the row: the session need not
        return cal_id

    # -- Document CALs ---------------------------------------------------------------------------

    def held_document_cal(self, user: Identity, document: DocumentInfo) -> int | None:
        ahead = (CalType.DOCUMENT, (user.key, document.id))
        if ahead in self.read_ahead:
            return self.read_ahead.pop(ahead)
        row = self.connection.execute(HELD_DOCUMENT_CAL, {"document": document.id, "key": user.key}).first()
        if row is None:
            return None
        self.machines[(CalType.DOCUMENT, row.id)] = row.machine
        return int(row.id)

    def _reserve_document(self, document_id: int) -> bool:
        self._turn_to_lock()
        if self.connection.execute(RESERVE_DOCUMENT, {"document": document_id}).first() is not None:
            return True
        if self.sweep(CalType.DOCUMENT) == 0:
            return False
        return self.connection.execute(RESERVE_DOCUMENT, {"document": document_id}).first() is not None

    def claim_document_cal(
        self, user: Identity, document: DocumentInfo, *, in_license: int, source: str = "dynamic",
        machine: str | None = None,
    ) -> int | None:
        params = {"document": document.id, "key": user.key, "name": user.name, "source": source, "at": self.now,
                  "minute": to_minute(self.now) if source == "dynamic" else None, "machine": machine}
        reserved, document_reserved, cal_id = False, False, None
        if self.postgres:
            claimed = self._claim_in_one(CLAIM_DOCUMENT_CAL_PG, CalType.DOCUMENT, in_license, params)
            reserved, document_reserved, cal_id = claimed.reserved, claimed.document_reserved, claimed.id
        if not reserved and not self.reserve(CalType.DOCUMENT, in_license):
            return None
        if not document_reserved:
            if not self._reserve_document(document.id):
                self.adjust(CalType.DOCUMENT, -1)
                return None
            cal_id = self.connection.execute(INSERT_DOCUMENT_CAL, params).scalar()
        if cal_id is None and self.free_ended_quarantine(doccal_t, document_id=document.id, user_key=user.key):
            cal_id = self.connection.execute(INSERT_DOCUMENT_CAL, params).scalar()
        if cal_id is None:  # the user has a Document CAL for it (held, or in quarantine): none is taken
            self.adjust(CalType.DOCUMENT, -1, document_id=document.id)
        elif machine is not None:
            self.machines[(CalType.DOCUMENT, cal_id)] = machine
        return cal_id

    # -- Session CALs ----------------------------------------------------------------------------

    def held_session_cal(self, client_key: str) -> int | None:
        """The Session CAL this client instance holds (taken back if released within its 15 minutes)."""
        held = self.connection.execute(HELD_SESSION_CAL, {"key": client_key, "now": self.now}).first()
        if held is None:
            return None
        if held.released_at is not None:
            # the client came back within its 15 minutes: the same Session CAL serves it again
            self.connection.execute(
                update(session_cal_t).where(session_cal_t.c.id == held.id).values(released_at=None)
            )
        return int(held.id)

    def claim_session_cal(self, request: OpenRequest, *, in_license: int) -> int | None:
        key = request.client_key
        held = self.held_session_cal(key)
        if held is not None:
            return held
        params = {"key": key, "user": request.user.name if request.user else None, "machine": request.machine.name,
                  "client": request.client.value, "at": self.now}
        taken, cal_id = self._take(CalType.SESSION, in_license, CLAIM_SESSION_CAL_PG, INSERT_SESSION_CAL, params)
        if not taken:
            return None
        if cal_id is not None:
            return int(cal_id)
        # a request of the same client instance took a Session CAL while this one waited: that one serves
        self.adjust(CalType.SESSION, -1)
        return self.held_session_cal(key)

    # -- Usage CALs ------------------------------------------------------------------------------

    def held_usage_cal(self, request: OpenRequest) -> int | None:
        """The Usage CAL the holder consumed for the document within its 60 minutes."""
        return self.connection.execute(
            HELD_USAGE_CAL, {"key": request.holder_key, "document": request.document.id, "now": self.now}
        ).scalar()

    def _usage_row(self, request: OpenRequest, at: datetime) -> dict[str, Any]:
        return {"key": request.holder_key, "user": request.user.name if request.user else None,
                "machine": request.machine.name, "document": request.document.id, "at": at,
                "expires": at + USAGE_CAL_SESSION, "returns": at + USAGE_CAL_RECHARGE}

    def claim_usage_cal(self, request: OpenRequest, *, in_license: int) -> int | None:
        held = self.held_usage_cal(request)
        if held is not None:
            return int(held)
        # not in one statement with the counter: its "none consumed meanwhile" must be read after the pool's lock
        # is taken, and a statement reads as of when it began (no unique constraint stands in for it)
        if not self.reserve(CalType.USAGE, in_license):
            return None
        cal_id = self.connection.execute(INSERT_USAGE_CAL, {
            **self._usage_row(request, self.now), "holder": request.holder_key, "held_document": request.document.id,
            "now": self.now,
        }).scalar()
        if cal_id is not None:
            return int(cal_id)
        self.adjust(CalType.USAGE, -1)  # the holder consumed one for the document meanwhile: that one serves
        return self.held_usage_cal(request)

    def consume_next_usage_cal(self, request: OpenRequest, *, at: datetime, in_license: int) -> int | None:
        """A session that goes on past its Usage CAL's hour consumes another, from ``at`` (that hour's end)."""
        if not self.reserve(CalType.USAGE, in_license):
            return None
        return self.connection.execute(INSERT_NEXT_USAGE_CAL, self._usage_row(request, at)).scalar()

    # -- use --------------------------------------------------------------------------------------------

    def touch(self, cal_type: CalType, cal_id: int, *, minute: datetime | None = None) -> None:
        """Record "last used" (this transaction's minute, or the one given) unless a later one is there."""
        table = named_t if cal_type is CalType.NAMED else doccal_t
        minute = minute or to_minute(self.now)
        self.connection.execute(
            update(table)
            .where(table.c.id == cal_id, or_(table.c.last_used.is_(None), table.c.last_used < minute))
            .values(last_used=minute)
        )
        self.touched.append((cal_type, cal_id, minute))

    def any_ended_quarantine(self) -> bool:
        """True when some removed CAL's quarantine has ended but its row is still there."""
        query = select(
            select(named_t.c.id).where(named_t.c.quarantined_until <= self.now).exists()
            | select(doccal_t.c.id).where(doccal_t.c.quarantined_until <= self.now).exists()
        )
        return bool(self.connection.execute(query).scalar())

    def free_all_ended_quarantines(self) -> None:
        """Free every CAL whose quarantine has ended."""
        self.sweep(CalType.NAMED)
        self.sweep(CalType.DOCUMENT)

    def any_time_passed(self) -> bool:
        """True when some Session or Usage CAL is still counted after its time passed (a sweep would un-count it)."""
        query = select(
            select(session_cal_t.c.id).where(session_cal_t.c.counted, session_cal_t.c.released_at <= self.now).exists()
            | select(usage_t.c.id).where(usage_t.c.counted, usage_t.c.returns_at <= self.now).exists()
        )
        return bool(self.connection.execute(query).scalar())

    def sweep_passed_times(self) -> None:
        """Un-count the Session CALs released and the Usage CALs returned by now."""
        self.sweep(CalType.SESSION)
        self.sweep(CalType.USAGE)

