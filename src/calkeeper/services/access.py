"""The access gate: may this user open this document, and with which CAL? And ending sessions."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime, timedelta

from calkeeper.contract.views import SessionEnd, UserCals
from calkeeper.core.allocation import DocumentInfo, OpenRequest, SiteRules, allocate, unlicensed_reason
from calkeeper.core.cals import (
    CalType,
    ClientType,
    Decision,
    Denial,
    Grant,
    IdentificationMode,
    session_cal_release,
)
from calkeeper.core.clock import to_minute
from calkeeper.core.errors import InvalidInput, UnknownSession
from calkeeper.core.identities import Identity, parse_machine, parse_user
from calkeeper.services.base import SiteBase, assigned_cal
from calkeeper.services.decision_cache import CacheState, HeldCal
from calkeeper.services.documents import DocumentUseCases, document_info, match_document
from calkeeper.services.grant_history import grants_per_hour

ANONYMOUS_MACHINE = "UNKNOWN"
# The version (4) and variant (RFC 4122) bits of a random UUID, as uuid.uuid4() sets them.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def _parse(user: str | None, machine: str | None, client: str | ClientType) -> tuple[Identity | None, Identity,
                                                                                      ClientType]:
    who = parse_user(user) if user else None
    where = parse_machine(machine or ANONYMOUS_MACHINE)
    try:
        kind = client if isinstance(client, ClientType) else ClientType(client)
    except ValueError:
        raise InvalidInput(
            f"the client type is one of {', '.join(c.value for c in ClientType)}, not '{client}'"
        ) from None
    return who, where, kind


class AccessUseCases(DocumentUseCases, SiteBase):
    def _cache_state(self) -> CacheState:
        state = self.cache.current()
        if state is not None:
            return state
        with self.uow(write=False) as tx:
            state = self.cache.confirm(tx.records.generation())
            if state is not None:
                return state
            generation = tx.records.generation()
            rules = self.rules(tx)
            documents = {r["path_key"]: document_info(r) for r in tx.records.documents()}
        fresh = CacheState(generation, rules, documents)
        self.cache.replace(fresh)
        return fresh

    def open_document(
        self,
        user: str | None,
        document: str,
        *,
        machine: str | None = None,
        client: str | ClientType = ClientType.AJAX,
    ) -> Decision:
        """Decide which CAL serves user (None: anonymous) opening a document, in QlikView's order.

        Returns a Grant (CAL type, session id, why) or a Denial (reason the user can read).
        Raises InvalidUsers for a malformed name and UnknownDocument for a document not in the root folder.
        """
        who, where, kind = _parse(user, machine, client)
        state = self._cache_state()
        doc = state.documents.get(document.replace("\\", "/").casefold())
        if doc is None:
            doc = self._find_document(document)
        decision = self._from_cache(who, where, doc, state, write=True)
        if decision is not None:
            return decision
        decision = self._allocate(OpenRequest(who, where, kind, doc), state)
        if isinstance(decision, Grant):
            self.grant_tally.add(self.clock.now(), decision.cal_type)
        return decision

    def cached_open(
        self,
        user: str | None,
        document: str,
        *,
        machine: str | None = None,
        client: str | ClientType = ClientType.AJAX,
    ) -> Decision | None:
        """The decision open_document would make, when it can be made from memory alone; else None.

        For callers on an event loop: a None answer means "call open_document in a worker thread".
        """
        state = self.cache.current()
        if state is None or not user:
            return None
        who, where, _ = _parse(user, machine, client)
        doc = state.documents.get(document.replace("\\", "/").casefold())
        if doc is None:
            return None
        return self._from_cache(who, where, doc, state, write=False)

    def _from_cache(
        self, who: Identity | None, where: Identity, doc: DocumentInfo, state: CacheState, *, write: bool
    ) -> Decision | None:
        """Steps 1 and 2 of the order for a user whose CAL is cached; None when the database must decide."""
        if who is None or doc.missing:
            return None
        now = self.clock.now()  # one reading serves the license check, last_used and the tally
        if unlicensed_reason(state.rules, now) is not None:
            return None
        machine_mode = state.rules.identification_mode is IdentificationMode.MACHINE
        held = state.named.get((where.kind, where.key) if machine_mode else ("user", who.key))
        if held is not None:
            if not self._touch(CalType.NAMED, held, now, write=write):
                return None
            self.grant_tally.add(now, CalType.NAMED)
            return Grant(CalType.NAMED, self._grant_id("N"), who.name, doc.path,
                         f"{where.name if machine_mode else who.name} holds a Named User CAL", cal_id=held.cal_id)
        held = state.document_cals.get((who.key, doc.id))
        if held is not None:
            if not self._touch(CalType.DOCUMENT, held, now, write=write):
                return None
            self.grant_tally.add(now, CalType.DOCUMENT)
            return Grant(CalType.DOCUMENT, self._grant_id("D"), who.name, doc.path,
                         f"{who.name} holds a Document CAL for {doc.path}", cal_id=held.cal_id)
        return None

    @staticmethod
    def _grant_id(prefix: str) -> str:
        # uuid.uuid4().hex without building a UUID object (which costs more than the rest of the id)
        return f"{prefix}-{int.from_bytes(os.urandom(16), 'big') & _UUID4_CLEAR | _UUID4_SET:032x}"

    def _find_document(self, name: str) -> DocumentInfo:
        """A document not in the cache: look at the root folder again, then match loosely."""
        if self.root_folder is not None:
            self.scan_documents()
        with self.uow(write=False) as tx:
            return document_info(match_document(tx.records.documents(), name))

    def _touch(self, cal_type: CalType, held: HeldCal, now: datetime, *, write: bool) -> bool:
        """Record "last used" once a minute; False when that needs a write that is not allowed here."""
        minute = to_minute(now)
        if held.last_used is not None and held.last_used >= minute:
            return True
        if self.last_used_writes.deferred:
            self.last_used_writes.add(cal_type, held.cal_id, minute)
            held.last_used = minute
            return True
        if not write:
            return False
        with self.uow(write=True) as tx:
            tx.claims.touch(cal_type, held.cal_id)
        held.last_used = minute
        return True

    def keep_cache_fresh(self) -> None:
        """Confirm (or reload) the cached decisions now, so requests never wait for it."""
        self.cache.invalidate_soft()
        self._cache_state()

    def _allocate(self, request: OpenRequest, state: CacheState) -> Decision:
        with self.uow(write=True) as tx:
            if request.user is not None:
                # the first spelling seen is the one displayed, whatever CAL (if any) this open gets
                shown = tx.records.remember_users([request.user])[request.user.key]
                request = replace(request, user=Identity(shown, request.user.key, "user"))
            # every change to the settings or the license bumps the generation in its own transaction, so
            # while it is the one the cached rules were read at they are the rules in force; else re-read
            rules = state.rules if tx.records.generation() == state.generation else self.rules(tx)
            decision = allocate(request, rules, tx.claims, tx.now)
            if isinstance(decision, Denial):
                tx.records.record_denial(user=decision.user, document=decision.document,
                                         machine=request.machine.name, code=decision.code, reason=decision.reason)
            elif decision.dynamic:
                holder = self._named_holder(request, rules) if decision.cal_type is CalType.NAMED else request.user
                assert holder is not None
                action = "named_cal.assigned" if decision.cal_type is CalType.NAMED else "document_cal.assigned"
                tx.records.audit("calkeeper", action, holder.name, source="dynamic", document=request.document.path)
            self.audit_freed(tx)
            if self.grant_tally.due():
                self.grant_tally.flush(tx)
        if isinstance(decision, Grant) and decision.cal_id is not None and request.user is not None:
            held = HeldCal(decision.cal_id, to_minute(tx.now))
            if decision.cal_type is CalType.NAMED:
                holder = self._named_holder(request, rules)
                state.named[(holder.kind, holder.key)] = held
            else:
                state.document_cals[(request.user.key, request.document.id)] = held
        return decision

    @staticmethod
    def _named_holder(request: OpenRequest, rules: SiteRules) -> Identity:
        if rules.identification_mode is IdentificationMode.MACHINE or request.user is None:
            return request.machine
        return request.user

    def flush_grant_counts(self) -> None:
        """Write the grants counted in memory since the last write (the dashboard's chart reads them)."""
        with self.uow(write=True) as tx:
            self.grant_tally.flush(tx)

    def grant_history(self, *, hours: int = 24) -> dict[str, list[tuple[datetime, int]]]:
        """Grants per hour and CAL type over the last hours."""
        self.flush_grant_counts()
        with self.uow(write=False) as tx:
            return grants_per_hour(tx, since=tx.now - timedelta(hours=hours - 1))

    def close_session(self, session_id: str) -> SessionEnd:
        """End a session: a Session CAL is freed once its last session ends and 15 minutes have passed."""
        session_id = session_id.strip()
        if session_id[:2] in {"N-", "D-"} and len(session_id) == 34:
            return SessionEnd(session_id, "nothing to release: Named and Document CALs are held until removed")
        with self.uow(write=True) as tx:
            row = tx.records.session(session_id)
            if row is None:
                raise UnknownSession(f"there is no session '{session_id}'")
            if row["ended_at"] is not None:
                return SessionEnd(session_id, "already ended")
            tx.records.end_session(session_id)
            if row["cal_type"] == CalType.USAGE.value:
                return SessionEnd(session_id, "ended; the Usage CAL comes back 28 days after it was consumed")
            if tx.records.open_sessions_on(CalType.SESSION, row["cal_id"]) > 0:
                return SessionEnd(session_id, "ended; the client's other sessions still hold its Session CAL")
            cal = tx.records.session_cal(row["cal_id"])
            released = session_cal_release(cal["acquired_at"], tx.now)
            tx.records.release_session_cal(row["cal_id"], released)
            return SessionEnd(session_id, "ended; the Session CAL is free from the time given", released)

    def user_cals(self, user: str) -> UserCals:
        """Every CAL a user holds, of every type (QlikView's GetCALInfoForUser)."""
        who = parse_user(user)
        self.write_deferred_last_used()
        with self.uow(write=False) as tx:
            named = tx.records.named_row(who)
            documents = tx.records.user_document_cals(who)
            sessions = tx.records.user_session_cals(who)
            usage = tx.records.user_usage_cals(who)
            names = tx.records.users(search=who.key, limit=1000)
        display = next((r["name"] for r in names if r["key"] == who.key), who.name)
        occupying = named is not None and (named["quarantined_until"] is None or named["quarantined_until"] > tx.now)
        return UserCals(
            user=display,
            named_cal=assigned_cal(named) if named is not None and occupying else None,
            document_cals=[assigned_cal(r, document=r["path"]) for r in documents],
            session_cals=[{"machine": r["machine"], "client": r["client"], "acquired_at": r["acquired_at"],
                           "released_at": r["released_at"]} for r in sessions],
            usage_cals=[{"document": r["path"], "machine": r["machine"], "consumed_at": r["consumed_at"],
                         "expires_at": r["expires_at"], "returns_at": r["returns_at"]} for r in usage],
        )


