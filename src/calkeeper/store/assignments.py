"""Named and Document CALs as the admin sees them: find, list, count, mark for removal, restore."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, delete, func, literal, or_, select, true, update

from calkeeper.core.assignments import CalAssignment
from calkeeper.core.cals import CalType, Pool
from calkeeper.core.comparison import comparison_key
from calkeeper.core.identities import Identity
from calkeeper.core.license import LicenseTerms
from calkeeper.store.claims import Claims, doc_t, doccal_t, named_t, occupying
from calkeeper.store.site_state import bump_generation

NAMED_SORTS = {"last_used": named_t.c.last_used, "quarantined_until": named_t.c.quarantined_until,
               "source": named_t.c.source}


def listed(table: Any, now: datetime) -> ColumnElement[bool]:
    """``occupying`` written so that no index serves the filter: a page in last-used (or any indexed) order then
    walks that order's index and stops at the page, where the OR would fetch and sort every row first."""
    return func.coalesce(table.c.quarantined_until > now, true())


def named_assignment(row: Any) -> CalAssignment:
    return CalAssignment(
        id=row["id"], holder=Identity(row["identity_name"], row["identity_key"], row["identity_kind"]),
        source=row["source"], assigned_at=row["assigned_at"], last_used=row["last_used"],
        removed_at=row["removed_at"], quarantined_until=row["quarantined_until"],
    )


def document_assignment(row: Any, path: str | None = None) -> CalAssignment:
    return CalAssignment(
        id=row["id"], holder=Identity(row["user_name"], row["user_key"], "user"), source=row["source"],
        assigned_at=row["assigned_at"], last_used=row["last_used"], removed_at=row["removed_at"],
        quarantined_until=row["quarantined_until"], document_id=row["document_id"], document=path,
    )


class Assignments:
    def __init__(self, connection: Connection, now: datetime, claims: Claims) -> None:
        self.connection = connection
        self.now = now
        self.claims = claims

    # -- one CAL ---------------------------------------------------------------------------------

    def named(self, identity: Identity) -> CalAssignment | None:
        """The Named CAL of a user or machine (marked for removal or not)."""
        row = self.connection.execute(
            select(named_t).where(named_t.c.identity_kind == identity.kind, named_t.c.identity_key == identity.key)
        ).mappings().first()
        return named_assignment(row) if row is not None else None

    def named_many(self, identities: list[Identity]) -> dict[tuple[str, str], CalAssignment]:
        """The Named CALs of many users or machines at once, by (kind, key)."""
        found: dict[tuple[str, str], CalAssignment] = {}
        for first in range(0, len(identities), 500):
            chunk = identities[first:first + 500]
            for kind in {i.kind for i in chunk}:
                keys = [i.key for i in chunk if i.kind == kind]
                rows = self.connection.execute(select(named_t).where(
                    named_t.c.identity_kind == kind, named_t.c.identity_key.in_(keys))).mappings()
                found.update({(r["identity_kind"], r["identity_key"]): named_assignment(r) for r in rows})
        return found

    def document_cal(self, document_id: int, user: Identity) -> CalAssignment | None:
        """The Document CAL of a user for a document (marked for removal or not)."""
        row = self.connection.execute(
            select(doccal_t).where(doccal_t.c.document_id == document_id, doccal_t.c.user_key == user.key)
        ).mappings().first()
        return document_assignment(row) if row is not None else None

    def _table(self, cal: CalAssignment) -> Any:
        return named_t if cal.document_id is None else doccal_t

    def mark_removed(self, cal: CalAssignment, quarantined_until: datetime | None) -> None:
        """Quarantine a CAL, or delete it when it is freed at once; every node's cache drops it."""
        table = self._table(cal)
        if quarantined_until is None:
            cal_type = CalType.NAMED if cal.document_id is None else CalType.DOCUMENT
            self.claims.lock_pool(cal_type)
            deleted = self.connection.execute(delete(table).where(table.c.id == cal.id)).rowcount
            self.claims.adjust(cal_type, -deleted, document_id=cal.document_id)
        else:
            values = {"removed_at": self.now, "quarantined_until": quarantined_until}
            self.connection.execute(update(table).where(table.c.id == cal.id).values(**values))
        bump_generation(self.connection)  # other nodes may have cached this CAL as held: they must drop it

    def unmark_removed(self, cal: CalAssignment) -> None:
        """Undo a removal: the same CAL, with its history."""
        table = self._table(cal)
        self.connection.execute(update(table).where(table.c.id == cal.id)
                                .values(removed_at=None, quarantined_until=None))
        bump_generation(self.connection)

    # -- lists -----------------------------------------------------------------------------------

    def _named_filtered(self, query: Any, *, search: str, source: str, quarantined: bool | None,
                        unused_days: int | None) -> Any:
        """The Named CALs a list shows: those occupying a CAL, narrowed by the console's filters."""
        if search:  # first: SQLite tests it on the name's index before it reads the row for the other terms
            query = query.where(named_t.c.identity_key.contains(comparison_key(search), autoescape=True))
        if quarantined is True:  # in quarantine now: the few rows the quarantine index finds
            query = query.where(named_t.c.quarantined_until > self.now)
        else:
            query = query.where(listed(named_t, self.now))
        if quarantined is False:
            query = query.where(named_t.c.quarantined_until.is_(None))
        if source:
            query = query.where(named_t.c.source == source)
        if unused_days is not None:
            since = self.now - timedelta(days=unused_days)
            query = query.where(or_(named_t.c.last_used.is_(None), named_t.c.last_used < since))
        return query

    def list_named(self, *, after: str = "", limit: int = 100, search: str = "", sort: str = "user",
                   offset: int = 0, source: str = "", quarantined: bool | None = None,
                   unused_days: int | None = None) -> list[CalAssignment]:
        """A page of Named CALs: in name order after the key ``after``, or in another order from ``offset``.

        ``source`` ("manual" or "dynamic"), ``quarantined`` and ``unused_days`` (not used for that many days,
        or never) narrow the list."""
        query = self._named_filtered(select(named_t), search=search, source=source, quarantined=quarantined,
                                     unused_days=unused_days).limit(limit)
        if sort == "user":
            query = query.order_by(named_t.c.identity_key)
            if after:
                query = query.where(named_t.c.identity_key > after)
        elif sort == "-user":
            query = query.order_by(named_t.c.identity_key.desc())
        else:
            column = NAMED_SORTS[sort.lstrip("-")]
            ordered = column.desc().nulls_last() if sort.startswith("-") else column.asc().nulls_last()
            query = query.order_by(ordered, named_t.c.identity_key)
        return [named_assignment(r) for r in self.connection.execute(query.offset(offset)).mappings()]

    def named_holders(self, *, search: str = "", source: str = "", quarantined: bool | None = None,
                      unused_days: int | None = None) -> list[str]:
        """The names holding every Named CAL a filtered list shows (all its pages), in name order."""
        query = self._named_filtered(select(named_t.c.identity_name), search=search, source=source,
                                     quarantined=quarantined, unused_days=unused_days)
        return [str(name) for name in self.connection.execute(query.order_by(named_t.c.identity_key)).scalars()]

    def count_named_of_kind(self, kind: str) -> int:
        """Named CALs held (quarantined ones included) by users or by machines."""
        query = select(func.count()).select_from(named_t).where(occupying(named_t, self.now),
                                                                 named_t.c.identity_kind == kind)
        return int(self.connection.execute(query).scalar_one())

    def count_named(self, *, search: str = "", source: str = "", quarantined: bool | None = None,
                    unused_days: int | None = None) -> int:
        if not (search or source or quarantined is not None or unused_days is not None):
            return int(self.connection.execute(select(self.claims.named_occupied())).scalar_one())
        query = self._named_filtered(select(func.count()).select_from(named_t), search=search, source=source,
                                     quarantined=quarantined, unused_days=unused_days)
        return int(self.connection.execute(query).scalar_one())

    def count_quarantined(self) -> int:
        """Named and Document CALs in quarantine now."""
        named = select(func.count()).select_from(named_t).where(named_t.c.quarantined_until > self.now)
        documents = select(func.count()).select_from(doccal_t).where(doccal_t.c.quarantined_until > self.now)
        return int(self.connection.execute(select(named.scalar_subquery() + documents.scalar_subquery()))
                   .scalar_one())

    def quarantined(self, *, limit: int = 100) -> list[tuple[str, str | None, datetime]]:
        """Quarantined Named and Document CALs as (user, document or None, quarantined until), soonest first."""
        named = select(named_t.c.identity_name.label("user"), literal(None, String).label("document"),
                       named_t.c.quarantined_until).where(named_t.c.quarantined_until > self.now)
        documents = (select(doccal_t.c.user_name.label("user"), doc_t.c.path.label("document"),
                            doccal_t.c.quarantined_until)
                     .join(doc_t, doc_t.c.id == doccal_t.c.document_id)
                     .where(doccal_t.c.quarantined_until > self.now))
        union = named.union_all(documents).subquery()
        rows = self.connection.execute(select(union).order_by(union.c.quarantined_until).limit(limit))
        return [(r.user, r.document, r.quarantined_until) for r in rows]

    def of_document(self, document_id: int, path: str, *, search: str = "", sort: str = "user",
                    limit: int | None = None, offset: int = 0) -> list[CalAssignment]:
        """The Document CALs occupying a document's allocation, in name order (or ``sort``), a page at a time."""
        query = self._of_document(select(doccal_t), document_id, search)
        if sort in ("user", "-user"):
            query = query.order_by(doccal_t.c.user_key.desc() if sort == "-user" else doccal_t.c.user_key)
        else:
            column = doccal_t.c[sort.lstrip("-")]
            ordered = column.desc().nulls_last() if sort.startswith("-") else column.asc().nulls_last()
            query = query.order_by(ordered, doccal_t.c.user_key)
        if limit is not None:
            query = query.limit(limit).offset(offset)
        return [document_assignment(r, path) for r in self.connection.execute(query).mappings()]

    def count_of_document(self, document_id: int, *, search: str = "") -> int:
        if not search:  # counted from the document's index, as the pools are (no OR filter over every row)
            return int(self.connection.execute(select(self.claims.document_occupied(document_id))).scalar_one())
        # the matching rows, counted on the document's index alone, less those whose quarantine has ended (not yet
        # freed), which the quarantine index finds: no row of the document is read
        matching = doccal_t.c.user_key.contains(comparison_key(search), autoescape=True)
        every = select(func.count()).where(doccal_t.c.document_id == document_id, matching)
        ended = select(func.count()).where(doccal_t.c.quarantined_until <= self.now,
                                           doccal_t.c.document_id + 0 == document_id, matching)
        return int(self.connection.execute(select(every.scalar_subquery() - ended.scalar_subquery())).scalar_one())

    def _of_document(self, query: Any, document_id: int, search: str) -> Any:
        query = query.where(doccal_t.c.document_id == document_id)
        if search:  # before ``listed``: SQLite tests it on the document's index before it reads the row
            query = query.where(doccal_t.c.user_key.contains(comparison_key(search), autoescape=True))
        return query.where(listed(doccal_t, self.now))

    def documents_of(self, user: Identity) -> list[CalAssignment]:
        """The Document CALs a user holds (quarantined ones included), by document."""
        rows = self.connection.execute(
            select(doccal_t, doc_t.c.path).join(doc_t, doc_t.c.id == doccal_t.c.document_id)
            .where(doccal_t.c.user_key == user.key, occupying(doccal_t, self.now)).order_by(doc_t.c.path_key)
        ).mappings()
        return [document_assignment(r, r["path"]) for r in rows]

    def inactive(self, *, before: datetime, kind: str = "") -> list[CalAssignment]:
        """Named (``kind`` "named") and Document ("document") CALs, not marked for removal, last used before a
        time, or never used and assigned before it; in name order."""
        found: list[CalAssignment] = []
        if kind in ("", "named"):
            last = func.coalesce(named_t.c.last_used, named_t.c.assigned_at)
            rows = self.connection.execute(
                select(named_t).where(named_t.c.removed_at.is_(None), last < before).order_by(named_t.c.identity_key)
            ).mappings()
            found += [named_assignment(r) for r in rows]
        if kind in ("", "document"):
            last = func.coalesce(doccal_t.c.last_used, doccal_t.c.assigned_at)
            rows = self.connection.execute(
                select(doccal_t, doc_t.c.path).join(doc_t, doc_t.c.id == doccal_t.c.document_id)
                .where(doccal_t.c.removed_at.is_(None), last < before).order_by(doccal_t.c.user_key, doc_t.c.path_key)
            ).mappings()
            found += [document_assignment(r, r["path"]) for r in rows]
        return found

    # -- pools -----------------------------------------------------------------------------------

    def pools(self, terms: LicenseTerms | None) -> dict[CalType, Pool]:
        """Count every pool from its rows."""
        c = self.claims
        quarantined_named = select(func.count()).select_from(named_t).where(named_t.c.quarantined_until > self.now)
        quarantined_doc = select(func.count()).select_from(doccal_t).where(doccal_t.c.quarantined_until > self.now)
        allocated = select(func.coalesce(func.sum(doc_t.c.cals_allocated), 0))
        row = self.connection.execute(
            select(
                c.named_occupied(), quarantined_named.scalar_subquery(), c.document_occupied(),
                quarantined_doc.scalar_subquery(), allocated.scalar_subquery(), c.session_in_use(), c.usage_in_use(),
            )
        ).one()

        def licensed(t: CalType) -> int:
            return terms.in_license(t) if terms else 0

        return {
            CalType.NAMED: Pool(CalType.NAMED, licensed(CalType.NAMED), row[0], row[1]),
            CalType.DOCUMENT: Pool(CalType.DOCUMENT, licensed(CalType.DOCUMENT), row[2], row[3], allocated=row[4]),
            CalType.SESSION: Pool(CalType.SESSION, licensed(CalType.SESSION), row[5], 0),
            CalType.USAGE: Pool(CalType.USAGE, licensed(CalType.USAGE), row[6], 0),
        }
