"""Claims on CAL pools, made so that no pool is ever over-allocated, on one node or many.

Every claim first locks its pool's row in ``cal_pools`` (and the document's row for Document CALs),
then inserts with one conditional statement: the row goes in only while the rows already occupying
the pool number fewer than the license allows. Locks are always taken in the same order (named,
document, session, usage pool, then the document) so two claims never wait on each other in a cycle.
Unique constraints stop the same user from holding two CALs of a kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, delete, func, insert, literal, or_, select, update

from calkeeper.core.allocation import OpenRequest
from calkeeper.core.assignments import SessionRecord
from calkeeper.core.cals import USAGE_CAL_RECHARGE, USAGE_CAL_SESSION, CalType, new_grant_id
from calkeeper.core.clock import to_minute
from calkeeper.core.documents import DocumentInfo
from calkeeper.core.identities import Identity, machine_key
from calkeeper.infra.database import UtcDateTime, table_of
from calkeeper.store.schema import (
    CalPool,
    Document,
    DocumentCal,
    NamedCal,
    Session,
    SessionCal,
    UsageCal,
)
from calkeeper.store.site_state import bump_generation

named_t = table_of(NamedCal)
doc_t = table_of(Document)
doccal_t = table_of(DocumentCal)
session_cal_t = table_of(SessionCal)
usage_t = table_of(UsageCal)
session_t = table_of(Session)
pool_t = table_of(CalPool)


def occupying(table: object, now: datetime) -> ColumnElement[bool]:
    """Rows that hold a Named or Document CAL now: active ones and those still in quarantine."""
    return or_(table.c.quarantined_until.is_(None), table.c.quarantined_until > now)  # type: ignore[attr-defined]


def _now(now: datetime) -> ColumnElement[datetime]:
    return literal(now, UtcDateTime())


class Claims:
    """The allocation port on one transaction: reads, claims and session records."""

    def __init__(self, connection: Connection, now: datetime, *, postgres: bool) -> None:
        self.connection = connection
        self.now = now
        self.postgres = postgres
        self.freed: list[tuple[str, str, datetime]] = []  # quarantines that ended, to audit
        self.touched: list[tuple[CalType, int, datetime]] = []
        self.taken_over: list[SessionRecord] = []  # sessions another machine's open ended, to audit
        self.machines: dict[tuple[CalType, int], str | None] = {}  # the machine each CAL read here served last

    # -- locks ---------------------------------------------------------------------------------

    def lock_pool(self, cal_type: CalType) -> None:
        """Take the pool's row lock until the transaction ends (SQLite: the write lock)."""
        self.connection.execute(
            update(pool_t).where(pool_t.c.cal_type == cal_type.value).values(claims=pool_t.c.claims + 1)
        )

    def lock_document(self, document_id: int) -> None:
        """Take the document's row lock until the transaction ends."""
        self.connection.execute(
            update(doc_t).where(doc_t.c.id == document_id).values(claims=doc_t.c.claims + 1)
        )

    # -- counts ----------------------------------------------------------------------------------

    def _occupied(self, table: Any, *where: ColumnElement[bool]) -> ColumnElement[int]:
        """The rows occupying a CAL now, counted as all rows less those whose quarantine has ended.

        The same number as ``count(*) WHERE occupying(...)``, but SQLite counts a whole table from its
        b-tree pages and the ended rows from the quarantined_until index, where the OR filter visits every
        row (about 30 ms at 100,000 Named CALs, on every claim and every pool view).
        """
        every = select(func.count()).select_from(table).where(*where).scalar_subquery()
        ended = (
            select(func.count()).select_from(table).where(*where, table.c.quarantined_until <= self.now)
            .scalar_subquery()
        )
        return every - ended

    def named_occupied(self) -> ColumnElement[int]:
        return self._occupied(named_t)

    def document_occupied(self, document_id: int | None = None) -> ColumnElement[int]:
        if document_id is None:
            return self._occupied(doccal_t)
        return self._occupied(doccal_t, doccal_t.c.document_id == document_id)

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

    def held_named_cal(self, identity: Identity) -> int | None:
        row = self.connection.execute(
            select(named_t.c.id, named_t.c.machine).where(
                named_t.c.identity_kind == identity.kind,
                named_t.c.identity_key == identity.key,
                named_t.c.removed_at.is_(None),
            )
        ).first()
        if row is None:
            return None
        self.machines[(CalType.NAMED, row.id)] = row.machine
        return int(row.id)

    def free_ended_quarantine(self, table: Table, **where: object) -> None:
        """Delete rows whose quarantine has ended (they no longer occupy anything) and note them."""
        t = table
        conditions = [t.c.quarantined_until <= self.now] + [t.c[k] == v for k, v in where.items()]
        rows = self.connection.execute(delete(t).where(*conditions).returning(*t.c)).mappings().all()
        for row in rows:
            name = str(row.get("identity_name") or row.get("user_name"))
            kind = "named" if t is named_t else f"document:{row['document_id']}"
            self.freed.append((kind, name, row["quarantined_until"]))

    def claim_named_cals(self, identities: list[Identity], *, in_license: int, source: str = "manual") -> bool:
        """Claim Named CALs for many identities holding none, all or none of them, under the pool's lock: one
        count and one multi-row insert, so a pasted list of thousands costs about what one claim does."""
        self.lock_pool(CalType.NAMED)
        for first in range(0, len(identities), 500):
            chunk = identities[first:first + 500]
            for kind in {i.kind for i in chunk}:
                keys = [i.key for i in chunk if i.kind == kind]
                conditions = [named_t.c.quarantined_until <= self.now, named_t.c.identity_kind == kind,
                              named_t.c.identity_key.in_(keys)]
                rows = self.connection.execute(delete(named_t).where(*conditions).returning(*named_t.c)).mappings()
                self.freed.extend(("named", str(r["identity_name"]), r["quarantined_until"]) for r in rows)
        occupied = int(self.connection.execute(select(self.named_occupied())).scalar_one())
        if occupied + len(identities) > in_license:
            return False
        minute = to_minute(self.now) if source == "dynamic" else None
        self.connection.execute(insert(named_t), [
            {"identity_kind": i.kind, "identity_key": i.key, "identity_name": i.name, "source": source,
             "assigned_at": self.now, "last_used": minute} for i in identities])
        return True

    def claim_named_cal(self, identity: Identity, *, in_license: int, source: str = "dynamic") -> int | None:
        self.lock_pool(CalType.NAMED)
        self.free_ended_quarantine(named_t, identity_kind=identity.kind, identity_key=identity.key)
        already = (
            select(named_t.c.id)
            .where(named_t.c.identity_kind == identity.kind, named_t.c.identity_key == identity.key)
            .exists()
        )
        minute = to_minute(self.now) if source == "dynamic" else None
        row = select(
            literal(identity.kind), literal(identity.key), literal(identity.name), literal(source),
            _now(self.now), literal(minute, UtcDateTime()),
        ).where(self.named_occupied() < in_license, ~already)
        stmt = insert(named_t).from_select(
            ["identity_kind", "identity_key", "identity_name", "source", "assigned_at", "last_used"], row
        ).returning(named_t.c.id)
        return self.connection.execute(stmt).scalar()

    # -- Document CALs ---------------------------------------------------------------------------

    def held_document_cal(self, user: Identity, document: DocumentInfo) -> int | None:
        row = self.connection.execute(
            select(doccal_t.c.id, doccal_t.c.machine).where(
                doccal_t.c.document_id == document.id,
                doccal_t.c.user_key == user.key,
                doccal_t.c.removed_at.is_(None),
            )
        ).first()
        if row is None:
            return None
        self.machines[(CalType.DOCUMENT, row.id)] = row.machine
        return int(row.id)

    def claim_document_cal(
        self, user: Identity, document: DocumentInfo, *, in_license: int, source: str = "dynamic"
    ) -> int | None:
        self.lock_pool(CalType.DOCUMENT)
        self.lock_document(document.id)
        self.free_ended_quarantine(doccal_t, document_id=document.id, user_key=user.key)
        already = (
            select(doccal_t.c.id)
            .where(doccal_t.c.document_id == document.id, doccal_t.c.user_key == user.key)
            .exists()
        )
        allocated = select(doc_t.c.cals_allocated).where(doc_t.c.id == document.id).scalar_subquery()
        minute = to_minute(self.now) if source == "dynamic" else None
        row = select(
            literal(document.id), literal(user.key), literal(user.name), literal(source),
            _now(self.now), literal(minute, UtcDateTime()),
        ).where(
            self.document_occupied(document.id) < allocated,
            self.document_occupied() < in_license,
            ~already,
        )
        stmt = insert(doccal_t).from_select(
            ["document_id", "user_key", "user_name", "source", "assigned_at", "last_used"], row
        ).returning(doccal_t.c.id)
        return self.connection.execute(stmt).scalar()

    # -- Session CALs ----------------------------------------------------------------------------

    def held_session_cal(self, client_key: str) -> int | None:
        """The Session CAL this client instance holds (taken back if released within its 15 minutes)."""
        held = self.connection.execute(
            select(session_cal_t.c.id, session_cal_t.c.released_at).where(
                session_cal_t.c.client_key == client_key,
                or_(session_cal_t.c.released_at.is_(None), session_cal_t.c.released_at > self.now),
            ).order_by(session_cal_t.c.released_at.is_(None).desc())
        ).first()
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
        self.lock_pool(CalType.SESSION)
        # a request of the same client instance may have taken a Session CAL while this one waited
        held = self.held_session_cal(key)
        if held is not None:
            return held
        row = select(
            literal(key), literal(request.user.name if request.user else None), literal(request.machine.name),
            literal(request.client.value), _now(self.now),
        ).where(self.session_in_use() < in_license)
        stmt = insert(session_cal_t).from_select(
            ["client_key", "user_name", "machine", "client", "acquired_at"], row
        ).returning(session_cal_t.c.id)
        return self.connection.execute(stmt).scalar()

    # -- Usage CALs ------------------------------------------------------------------------------

    def held_usage_cal(self, request: OpenRequest) -> int | None:
        """The Usage CAL the holder consumed for the document within its 60 minutes."""
        return self.connection.execute(
            select(usage_t.c.id).where(
                usage_t.c.holder_key == request.holder_key,
                usage_t.c.document_id == request.document.id,
                usage_t.c.expires_at > self.now,
            )
        ).scalar()

    def claim_usage_cal(self, request: OpenRequest, *, in_license: int) -> int | None:
        held = self.held_usage_cal(request)
        if held is not None:
            return int(held)
        self.lock_pool(CalType.USAGE)
        # a request of the same holder may have consumed one for the document while this one waited
        held = self.held_usage_cal(request)
        if held is not None:
            return int(held)
        row = select(
            literal(request.holder_key), literal(request.user.name if request.user else None),
            literal(request.machine.name), literal(request.document.id), _now(self.now),
            literal(self.now + USAGE_CAL_SESSION, UtcDateTime()),
            literal(self.now + USAGE_CAL_RECHARGE, UtcDateTime()),
        ).where(self.usage_in_use() < in_license)
        stmt = insert(usage_t).from_select(
            ["holder_key", "user_name", "machine", "document_id", "consumed_at", "expires_at", "returns_at"], row
        ).returning(usage_t.c.id)
        return self.connection.execute(stmt).scalar()

    def consume_next_usage_cal(self, request: OpenRequest, *, at: datetime, in_license: int) -> int | None:
        """A session that goes on past its Usage CAL's hour consumes another, from ``at`` (that hour's end)."""
        self.lock_pool(CalType.USAGE)
        row = select(
            literal(request.holder_key), literal(request.user.name if request.user else None),
            literal(request.machine.name), literal(request.document.id), _now(at),
            literal(at + USAGE_CAL_SESSION, UtcDateTime()), literal(at + USAGE_CAL_RECHARGE, UtcDateTime()),
        ).where(self.usage_in_use() < in_license)
        stmt = insert(usage_t).from_select(
            ["holder_key", "user_name", "machine", "document_id", "consumed_at", "expires_at", "returns_at"], row
        ).returning(usage_t.c.id)
        return self.connection.execute(stmt).scalar()

    # -- use and sessions ------------------------------------------------------------------------

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

    def start_session(self, request: OpenRequest, cal_type: CalType, cal_id: int) -> str:
        session_id = new_grant_id(cal_type)
        self.connection.execute(
            insert(session_t).values(
                id=session_id, cal_type=cal_type.value, cal_id=cal_id,
                user_name=request.user.name if request.user else None, document_id=request.document.id,
                machine=request.machine.name, client=request.client.value, started_at=self.now,
                last_activity=self.now,
            )
        )
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
        table = named_t if cal_type is CalType.NAMED else doccal_t
        self.connection.execute(update(table).where(table.c.id == cal_id).values(machine=machine.name))
        self.machines[key] = machine.name
        if before:
            bump_generation(self.connection)

    def record_sessions(self, sessions: Sequence[Any]) -> None:
        """Record sessions the decision cache granted (``StartedSession`` values), in one statement."""
        if not sessions:
            return
        self.connection.execute(insert(session_t), [
            {"id": s.id, "cal_type": s.cal_type.value, "cal_id": s.cal_id, "user_name": s.user_name,
             "document_id": s.document_id, "machine": s.machine, "client": s.client, "started_at": s.started_at,
             "last_activity": s.started_at}
            for s in sessions
        ])

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

    def any_ended_quarantine(self) -> bool:
        """True when some removed CAL's quarantine has ended but its row is still there."""
        query = select(
            select(named_t.c.id).where(named_t.c.quarantined_until <= self.now).exists()
            | select(doccal_t.c.id).where(doccal_t.c.quarantined_until <= self.now).exists()
        )
        return bool(self.connection.execute(query).scalar())

    def free_all_ended_quarantines(self) -> None:
        """Free every CAL whose quarantine has ended."""
        self.free_ended_quarantine(named_t)
        self.free_ended_quarantine(doccal_t)

