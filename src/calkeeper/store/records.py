"""Reads and writes for the admin's use cases: settings, licenses, users, CAL rows, documents, audit."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, String, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from calkeeper.core.cals import CalType, Pool, session_cal_release
from calkeeper.core.identities import Identity
from calkeeper.core.license import LicenseTerms
from calkeeper.store.claims import Claims, doc_t, doccal_t, named_t, occupying, session_cal_t, session_t, usage_t
from calkeeper.store.schema import AuditEntry, DenialRecord, LicenseRecord, SiteState, User

state_t = SiteState.__table__
license_t = LicenseRecord.__table__
user_t = User.__table__
audit_t = AuditEntry.__table__
denial_t = DenialRecord.__table__


class Records:
    """The admin side of one transaction."""

    def __init__(self, connection: Connection, now: datetime, claims: Claims) -> None:
        self.connection = connection
        self.now = now
        self.claims = claims

    # -- settings --------------------------------------------------------------------------------

    def state(self) -> RowMapping:
        return self.connection.execute(select(state_t).where(state_t.c.id == 1)).mappings().one()

    def generation(self) -> int:
        return int(self.connection.execute(select(state_t.c.generation).where(state_t.c.id == 1)).scalar_one())

    def update_state(self, **values: Any) -> None:
        """Change settings and tell every node's cache that decisions may have changed."""
        self.connection.execute(
            update(state_t).where(state_t.c.id == 1).values(generation=state_t.c.generation + 1, **values)
        )

    # -- license ---------------------------------------------------------------------------------

    def license_row(self) -> RowMapping | None:
        return self.connection.execute(select(license_t).order_by(license_t.c.id.desc()).limit(1)).mappings().first()

    def license_history(self) -> list[RowMapping]:
        return list(self.connection.execute(select(license_t).order_by(license_t.c.id.desc())).mappings())

    def insert_license(self, terms: LicenseTerms, actor: str) -> None:
        self.connection.execute(
            insert(license_t).values(
                serial=terms.serial, control=terms.control, owner=terms.owner, organization=terms.organization,
                lef_text=terms.lef_text, key_id=terms.key_id,
                named_cals=terms.in_license(CalType.NAMED), document_cals=terms.in_license(CalType.DOCUMENT),
                session_cals=terms.in_license(CalType.SESSION), usage_cals=terms.in_license(CalType.USAGE),
                lease_allowed=terms.lease_allowed, time_limit=terms.time_limit,
                maintenance_until=terms.maintenance_until, applied_at=self.now, applied_by=actor,
            )
        )
        self.update_state()

    # -- users -----------------------------------------------------------------------------------

    def remember_users(self, identities: list[Identity]) -> dict[str, str]:
        """Record names first seen now and return the displayed spelling of each key."""
        users = [i for i in identities if i.kind == "user"]
        if users:
            maker = pg_insert if self.claims.postgres else sqlite_insert
            rows = [{"key": i.key, "name": i.name, "first_seen": self.now} for i in users]
            # executemany, not .values(rows): a multi-row VALUES statement is compiled anew on every call
            self.connection.execute(maker(user_t).on_conflict_do_nothing(index_elements=["key"]), rows)
        keys = [i.key for i in users]
        names = dict(self.connection.execute(select(user_t.c.key, user_t.c.name).where(user_t.c.key.in_(keys))).all())
        return {i.key: names.get(i.key, i.name) for i in identities}

    def users(self, *, search: str = "", limit: int = 100) -> list[RowMapping]:
        query = select(user_t).order_by(user_t.c.key).limit(limit)
        if search:
            query = query.where(user_t.c.key.contains(search.casefold(), autoescape=True))
        return list(self.connection.execute(query).mappings())

    # -- Named and Document CAL rows -------------------------------------------------------------

    def named_row(self, identity: Identity) -> RowMapping | None:
        return self.connection.execute(
            select(named_t).where(named_t.c.identity_kind == identity.kind, named_t.c.identity_key == identity.key)
        ).mappings().first()

    def document_cal_row(self, document_id: int, user: Identity) -> RowMapping | None:
        return self.connection.execute(
            select(doccal_t).where(doccal_t.c.document_id == document_id, doccal_t.c.user_key == user.key)
        ).mappings().first()

    def mark_removed(self, table: Any, row_id: int, quarantined_until: datetime | None) -> None:
        """Quarantine a CAL row, or delete it when it is freed at once."""
        if quarantined_until is None:
            self.connection.execute(delete(table).where(table.c.id == row_id))
        else:
            values = {"removed_at": self.now, "quarantined_until": quarantined_until}
            self.connection.execute(update(table).where(table.c.id == row_id).values(**values))
        self.update_state()  # other nodes may have cached this CAL as held: they must drop it

    def unmark_removed(self, table: Any, row_id: int) -> None:
        values = {"removed_at": None, "quarantined_until": None}
        self.connection.execute(update(table).where(table.c.id == row_id).values(**values))
        self.update_state()

    def list_named(self, *, after: str = "", limit: int = 100, search: str = "", sort: str = "user",
                   offset: int = 0) -> list[RowMapping]:
        """A page of Named CALs: in name order after the key ``after``, or in another order from ``offset``."""
        query = select(named_t).where(occupying(named_t, self.now)).limit(limit)
        if search:
            query = query.where(named_t.c.identity_key.contains(search.casefold(), autoescape=True))
        if sort == "user":
            query = query.order_by(named_t.c.identity_key)
            if after:
                query = query.where(named_t.c.identity_key > after)
        elif sort == "-user":
            query = query.order_by(named_t.c.identity_key.desc())
        else:
            column = {"last_used": named_t.c.last_used, "quarantined_until": named_t.c.quarantined_until,
                      "source": named_t.c.source}[sort.lstrip("-")]
            ordered = column.desc().nulls_last() if sort.startswith("-") else column.asc().nulls_last()
            query = query.order_by(ordered, named_t.c.identity_key)
        return list(self.connection.execute(query.offset(offset)).mappings())

    def count_named(self, *, search: str = "") -> int:
        if not search:
            return int(self.connection.execute(select(self.claims.named_occupied())).scalar_one())
        query = select(func.count()).select_from(named_t).where(occupying(named_t, self.now))
        query = query.where(named_t.c.identity_key.contains(search.casefold(), autoescape=True))
        return int(self.connection.execute(query).scalar_one())

    def quarantined(self, *, limit: int = 100) -> list[RowMapping]:
        """Quarantined Named and Document CALs, soonest free first."""
        named = select(named_t.c.identity_name.label("user"), literal(None, String).label("document"),
                       named_t.c.quarantined_until).where(named_t.c.quarantined_until > self.now)
        documents = (select(doccal_t.c.user_name.label("user"), doc_t.c.path.label("document"),
                            doccal_t.c.quarantined_until)
                     .join(doc_t, doc_t.c.id == doccal_t.c.document_id)
                     .where(doccal_t.c.quarantined_until > self.now))
        union = named.union_all(documents).subquery()
        return list(self.connection.execute(
            select(union).order_by(union.c.quarantined_until).limit(limit)).mappings())

    def list_document_cals(self, document_id: int) -> list[RowMapping]:
        return list(
            self.connection.execute(
                select(doccal_t)
                .where(doccal_t.c.document_id == document_id, occupying(doccal_t, self.now))
                .order_by(doccal_t.c.user_key)
            ).mappings()
        )

    def user_document_cals(self, user: Identity) -> list[RowMapping]:
        return list(
            self.connection.execute(
                select(doccal_t, doc_t.c.path)
                .join(doc_t, doc_t.c.id == doccal_t.c.document_id)
                .where(doccal_t.c.user_key == user.key, occupying(doccal_t, self.now))
                .order_by(doc_t.c.path_key)
            ).mappings()
        )

    def user_session_cals(self, user: Identity) -> list[RowMapping]:
        held = or_(session_cal_t.c.released_at.is_(None), session_cal_t.c.released_at > self.now)
        return list(
            self.connection.execute(
                select(session_cal_t).where(func.lower(session_cal_t.c.user_name) == user.key, held)
            ).mappings()
        )

    def user_usage_cals(self, user: Identity) -> list[RowMapping]:
        return list(
            self.connection.execute(
                select(usage_t, func.coalesce(doc_t.c.path, "(a released document)").label("path"))
                .outerjoin(doc_t, doc_t.c.id == usage_t.c.document_id)
                .where(usage_t.c.holder_key == user.key, usage_t.c.returns_at > self.now)
                .order_by(usage_t.c.consumed_at)
            ).mappings()
        )

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

    # -- documents -------------------------------------------------------------------------------

    def documents(self) -> list[RowMapping]:
        assigned = (
            select(func.count()).select_from(doccal_t)
            .where(doccal_t.c.document_id == doc_t.c.id, occupying(doccal_t, self.now))
            .scalar_subquery().label("cals_assigned")
        )
        return list(self.connection.execute(select(doc_t, assigned).order_by(doc_t.c.path_key)).mappings())

    def add_document(self, path: str) -> int:
        return int(self.connection.execute(
            insert(doc_t).values(path=path, path_key=path.casefold(), cals_allocated=0,
                                 allow_dynamic_assignment=False, claims=0).returning(doc_t.c.id)
        ).scalar_one())

    def update_document(self, document_id: int, **values: Any) -> None:
        self.connection.execute(update(doc_t).where(doc_t.c.id == document_id).values(**values))
        self.update_state()

    def delete_document(self, document_id: int) -> None:
        # The document's open sessions end with it; a Session CAL they alone held is released as if they
        # had ended now, or nothing could ever close them and the CAL would stay held for good.
        open_on_document = select(session_t.c.cal_id).where(
            session_t.c.document_id == document_id, session_t.c.cal_type == CalType.SESSION.value,
            session_t.c.ended_at.is_(None),
        )
        session_cal_ids = list(self.connection.execute(open_on_document).scalars())
        for table in (doccal_t, session_t):
            self.connection.execute(delete(table).where(table.c.document_id == document_id))
        # Usage CALs consumed on it still come back only 28 days after their consumption.
        self.connection.execute(update(usage_t).where(usage_t.c.document_id == document_id).values(document_id=None))
        self.connection.execute(delete(doc_t).where(doc_t.c.id == document_id))
        for cal_id in set(session_cal_ids):
            if self.open_sessions_on(CalType.SESSION, cal_id) == 0:
                cal = self.session_cal(cal_id)
                if cal["released_at"] is None:
                    self.release_session_cal(cal_id, session_cal_release(cal["acquired_at"], self.now))
        self.update_state()

    # -- sessions --------------------------------------------------------------------------------

    def session(self, session_id: str) -> RowMapping | None:
        return self.connection.execute(select(session_t).where(session_t.c.id == session_id)).mappings().first()

    def end_session(self, session_id: str) -> None:
        self.connection.execute(update(session_t).where(session_t.c.id == session_id).values(ended_at=self.now))

    def open_sessions_on(self, cal_type: CalType, cal_id: int) -> int:
        return int(self.connection.execute(
            select(func.count()).select_from(session_t).where(
                session_t.c.cal_type == cal_type.value, session_t.c.cal_id == cal_id, session_t.c.ended_at.is_(None)
            )
        ).scalar_one())

    def session_cal(self, cal_id: int) -> RowMapping:
        return self.connection.execute(select(session_cal_t).where(session_cal_t.c.id == cal_id)).mappings().one()

    def release_session_cal(self, cal_id: int, at: datetime) -> None:
        self.connection.execute(update(session_cal_t).where(session_cal_t.c.id == cal_id).values(released_at=at))

    # -- CAL data as a whole ---------------------------------------------------------------------

    def clear_cal_data(self) -> dict[str, int]:
        """Remove every assignment, allocation, quarantine, session and usage record."""
        counts = {}
        for name, table in (("sessions", session_t), ("session_cals", session_cal_t), ("usage_cals", usage_t),
                            ("document_cals", doccal_t), ("named_cals", named_t)):
            counts[name] = self.connection.execute(delete(table)).rowcount
        counts["document_allocations"] = self.connection.execute(
            update(doc_t).where(doc_t.c.cals_allocated > 0).values(cals_allocated=0)
        ).rowcount
        self.update_state()
        return counts

    # -- history ---------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str, **details: Any) -> None:
        self.connection.execute(
            insert(audit_t).values(at=self.now, actor=actor, action=action, target=target,
                                   details=json.dumps(details, default=str, sort_keys=True))
        )

    def audit_entries(self, *, limit: int = 100, action: str = "", target: str = "") -> list[RowMapping]:
        query = select(audit_t).order_by(audit_t.c.id.desc()).limit(limit)
        if action:
            query = query.where(audit_t.c.action == action)
        if target:
            query = query.where(func.lower(audit_t.c.target).contains(target.casefold(), autoescape=True))
        return list(self.connection.execute(query).mappings())

    def record_denial(self, *, user: str | None, document: str, machine: str, code: str, reason: str) -> None:
        self.connection.execute(
            insert(denial_t).values(at=self.now, user_name=user, document=document, machine=machine,
                                    code=code, reason=reason)
        )

    def denials(self, *, limit: int = 100) -> list[RowMapping]:
        return list(self.connection.execute(select(denial_t).order_by(denial_t.c.id.desc()).limit(limit)).mappings())
