"""The access gate: may this user open this document, and with which CAL?

Every decision is the core's allocation order. Steps 1 and 2 (a CAL the user already holds) are
answered from the decision cache when it knows the holder; everything else, and every claim, is
decided in one database transaction. The request path never looks at the disk: documents are the
ones the site has discovered (see ``usecases.documents``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from calkeeper.core.allocation import (
    AccessAsk,
    OpenRequest,
    SiteRules,
    allocate,
    claimed_grant,
    first_claim,
    held_cal,
    named_holder,
    unlicensed_reason,
)
from calkeeper.core.cals import CalType, ClientType, Decision, Denial, Grant, SessionLimits
from calkeeper.core.clock import Clock, to_minute
from calkeeper.core.documents import DocumentInfo, document_key, match_document
from calkeeper.core.errors import StoreUnavailable
from calkeeper.core.identities import Identity
from calkeeper.store.unit_of_work import Transaction, UnitOfWork
from calkeeper.usecases.admin import audit_freed, site_rules
from calkeeper.usecases.decision_cache import (
    CachedHoldings,
    CacheState,
    DecisionCache,
    HeldCal,
    LastUsedWrites,
    NeedsDatabase,
    StartedSession,
)
from calkeeper.usecases.grant_tally import GrantTally
from calkeeper.usecases.outage import Outage

log = logging.getLogger("calkeeper.access")


class Access:
    """Decides opens, in QlikView's order, and keeps the decision cache."""

    def __init__(self, *, uow: UnitOfWork, clock: Clock, cache: DecisionCache, last_used: LastUsedWrites,
                 grant_tally: GrantTally, sessions: SessionLimits = SessionLimits(),
                 second_machine_takes_over: bool = False, outage: Outage | None = None) -> None:
        self.uow = uow
        self.clock = clock
        self.cache = cache
        self.last_used = last_used
        self.grant_tally = grant_tally
        self.sessions = sessions
        self.second_machine_takes_over = second_machine_takes_over
        self.outage = outage or Outage(uow=uow, clock=clock)

    def open_document(self, user: str | None, document: str, *, machine: str | None = None,
                      client: str | ClientType = ClientType.AJAX) -> Decision:
        """Decide which CAL serves user (None: anonymous) opening a document, in QlikView's order.

        Returns a Grant (CAL type, session id, why) or a Denial (reason the user can read).
        Raises InvalidUsers for a malformed name and UnknownDocument for a document the site does not know.
        """
        return self.decide(AccessAsk.parse(user, document, machine=machine, client=client))

    def decide(self, ask: AccessAsk) -> Decision:
        """The decision for a parsed question, from the cache when it can, else from the database.

        While the database is unavailable, a holder the cache knows is granted in degraded mode (within
        the outage's window); any other open raises StoreUnavailable.
        """
        try:
            waiting = self.outage.wait_before_trying()
            if waiting is not None:
                raise waiting
            state = self._state()
            request = ask.on(_document(state, ask.document))
            grant = self._from_cache(request, state, write_through=self._write_last_used,
                                     session_through=self._write_session)
            if grant is not None:
                return grant
            decision = self._claim_first(request, state) or self._allocate(request, state)
        except StoreUnavailable:
            degraded = self._degraded(ask)
            if degraded is None:
                raise
            return degraded
        if isinstance(decision, Grant):
            self.grant_tally.add(self.clock.now(), decision.cal_type, decision.user, decision.document)
        return decision

    def _degraded(self, ask: AccessAsk) -> Grant | None:
        """A holder's open answered from what this node knew before the database went away, if allowed.

        Only steps 1 and 2 on the machine the CAL serves: nothing new is claimed. What the grant writes
        waits in memory (bounded) for the database to come back.
        """
        state = self.cache.state
        writes = self.last_used
        if state is None or not self.outage.may_answer_from_memory() or writes.full():
            return None
        request = ask.on(_document(state, ask.document))
        grant = self._from_cache(request, state, write_through=writes.add, session_through=writes.add_session)
        if grant is None:
            return None
        return replace(grant, degraded=True,
                       reason=f"{grant.reason} (answered while the CAL database is unavailable)")

    def cached_decision(self, ask: AccessAsk) -> Decision | None:
        """The decision ``decide`` would make, when memory alone can make it; else None.

        For callers on an event loop: None means "call ``decide`` in a worker thread".
        """
        state = self.cache.current()
        if state is None or ask.user is None:
            return None
        return self._from_cache(ask.on(_document(state, ask.document)), state)

    def _from_cache(self, request: OpenRequest, state: CacheState, *,
                    write_through: Callable[[CalType, int, datetime], None] | None = None,
                    session_through: Callable[[StartedSession], None] | None = None) -> Grant | None:
        if request.user is None or request.document.missing:
            return None
        now = self.clock.now()  # one reading serves the license check, last used and the tally
        if unlicensed_reason(state.rules, now) is not None:
            return None
        try:
            decision = held_cal(request, state.rules,
                                CachedHoldings(state, now, self.last_used, write_through, session_through), now)
        except NeedsDatabase:
            return None
        if not isinstance(decision, Grant):
            return None  # a refusal is for the database to make (and record)
        self.grant_tally.add(now, decision.cal_type, decision.user, decision.document)
        return decision

    def _write_last_used(self, cal_type: CalType, cal_id: int, minute: datetime) -> None:
        """Record "last used" at once, in a transaction of its own (where it is not deferred)."""
        with self.uow.write() as tx:
            tx.claims.touch(cal_type, cal_id, minute=minute)

    def _write_session(self, started: StartedSession) -> None:
        """Record a session the cache granted at once, in a transaction of its own (where it is not deferred)."""
        with self.uow.write() as tx:
            tx.claims.record_sessions([started])

    def _claim_first(self, request: OpenRequest, state: CacheState) -> Grant | None:
        """An open whose holder holds no CAL yet, in one call to the store: the claim of the kind the order
        reaches first, its session and its audit row. None (nothing claimed) where the whole order must decide:
        the holder holds a CAL, the pool is full, the rules changed (``store.first_claims``)."""
        rules = state.rules
        cal_type = first_claim(request, rules, self.clock.now())
        if cal_type is None or self.grant_tally.due():  # the counts due are written by the order's transaction
            return None
        assert rules.terms is not None
        named = named_holder(request, rules) if request.user is not None else None
        audit = None
        if cal_type is CalType.NAMED or cal_type is CalType.DOCUMENT:
            action = "named_cal.assigned" if cal_type is CalType.NAMED else "document_cal.assigned"
            audit = (action, {"source": "dynamic", "document": request.document.path})
        with self.uow.write() as tx:
            claimed = tx.first_claims.claim(request, cal_type, in_license=rules.terms.in_license(cal_type),
                                            generation=state.generation, named=named, audit=audit)
        if claimed is None:
            return None
        if request.user is not None and claimed.shown is not None:
            request = replace(request, user=Identity(claimed.shown, request.user.key, "user"))
        grant = claimed_grant(request, rules, cal_type, claimed.session_id, claimed.cal_id)
        if grant.cal_id is not None and request.user is not None:
            _remember(state, request, rules, grant, tx.now)
        return grant

    def _allocate(self, request: OpenRequest, state: CacheState) -> Decision:
        with self.uow.write() as tx:
            tx.tail.defer()  # the session, audit and denial rows written here are not read back: sent with the commit
            if request.user is not None:
                # the first spelling seen is the one displayed, whatever CAL (if any) this open gets
                shown = tx.users.remember([request.user])[request.user.key]
                request = replace(request, user=Identity(shown, request.user.key, "user"))
            # every change to the settings or the license bumps the generation in its own transaction, so
            # while it is the one the cached rules were read at they are the rules in force; else re-read.
            # Where steps 1 and 2 will ask, the generation comes in the same statement as their answers (read
            # for the cached rules' holder: if the identification mode changed meanwhile, step 1 reads again).
            if request.user is not None and not request.document.missing:
                generation = tx.claims.look_up_together(named_holder(request, state.rules), request.user,
                                                        request.document)
            else:
                generation = tx.site_state.generation()
            rules = state.rules if generation == state.generation else self._rules(tx)
            decision = allocate(request, rules, tx.claims, tx.now)
            if isinstance(decision, Denial):
                tx.history.record_denial(user=decision.user, document=decision.document,
                                         machine=request.machine.name, code=decision.code, reason=decision.reason)
            elif decision.dynamic:
                holder = named_holder(request, rules) if decision.cal_type is CalType.NAMED else request.user
                assert holder is not None
                action = "named_cal.assigned" if decision.cal_type is CalType.NAMED else "document_cal.assigned"
                tx.history.audit("calkeeper", action, holder.name, source="dynamic", document=request.document.path)
            for ended in tx.claims.taken_over:
                tx.history.audit("calkeeper", "session.taken_over", ended.user_name or "", document=ended.document,
                                 machine=ended.machine, cal=ended.cal_type, by_machine=request.machine.name)
            audit_freed(tx)
            if self.grant_tally.due():
                self.grant_tally.flush(tx)
        if isinstance(decision, Grant) and decision.cal_id is not None and request.user is not None:
            _remember(state, request, rules, decision, tx.now)
        return decision

    # -- the cache ---------------------------------------------------------------------------------

    def _state(self, *, check: bool = False) -> CacheState:
        """The cached state, confirmed (or reloaded) first when it is past its refresh bound or ``check``."""
        if not check:
            state = self.cache.current()
            if state is not None:
                return state
        asked_at = self.clock.monotonic()  # the bound runs from before the database answered
        with self.uow.read() as tx:
            generation = tx.site_state.generation()
            state = self.cache.confirm(generation, asked_at)
            if state is not None:
                return state
            rules = self._rules(tx)
            documents = {d.key: d.info for d in tx.documents.all()}
        fresh = CacheState(generation, rules, documents)
        self.cache.replace(fresh, asked_at)
        return fresh

    def _rules(self, tx: Transaction) -> SiteRules:
        return site_rules(tx, sessions=self.sessions, second_machine_takes_over=self.second_machine_takes_over)

    def keep_cache_fresh(self) -> None:
        """Confirm (or reload) the cached decisions now, so requests never wait for it.

        Opens go on being answered from the cached state meanwhile, as it was confirmed less than the
        refresh bound ago: until the database answers, nothing newer is known.
        """
        self._state(check=True)


def _document(state: CacheState, name: str) -> DocumentInfo:
    """The document a name finds among those the site knows (the extension and folders may be left out).

    An unknown name is refused without the list of documents: an app server learns only decisions.
    """
    found = state.documents.get(document_key(name))
    return found if found is not None else match_document(list(state.documents.values()), name, list_known=False)


def _remember(state: CacheState, request: OpenRequest, rules: SiteRules, grant: Grant, now: datetime) -> None:
    """Cache a CAL the database just served, so the user's next open skips the database."""
    assert request.user is not None and grant.cal_id is not None
    held = HeldCal(grant.cal_id, to_minute(now), request.machine.key)
    if grant.cal_type is CalType.NAMED:
        holder = named_holder(request, rules)
        state.named[(holder.kind, holder.key)] = held
    else:
        state.document_cals[(request.user.key, request.document.id)] = held
