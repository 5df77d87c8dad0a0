"""How an admin's action runs: one write transaction, with what every change needs done first and after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from calkeeper.core.allocation import SiteRules
from calkeeper.core.cals import CalType, IdentificationMode, SessionLimits
from calkeeper.core.errors import StoreUnavailable
from calkeeper.store.unit_of_work import Transaction, UnitOfWork
from calkeeper.usecases.decision_cache import DecisionCache, LastUsedWrites


@dataclass(frozen=True)
class AdminTransactions:
    """The transactions of admin use cases, and whom the audit trail names when a call does not say."""

    uow: UnitOfWork
    cache: DecisionCache
    last_used: LastUsedWrites
    default_actor: str

    def actor(self, given: str | None) -> str:
        return given or self.default_actor

    @contextmanager
    def change(self) -> Iterator[Transaction]:
        """The one transaction of an admin change.

        In it, before the change: "last used" minutes the server deferred are written (so a removal
        computes its quarantine from the right minute) and CALs whose quarantine ended are freed.
        After it, committed or not: this node's cached decisions are dropped (other nodes see the
        generation move).
        """
        changed = True
        try:
            with writing_pending(self.uow, self.last_used, lock_pools=True) as tx:
                free_ended_quarantines(tx)
                yield tx
        except StoreUnavailable:
            changed = False  # nothing was: the node keeps what it knew, to answer holders while the outage lasts
            raise
        finally:
            if changed:
                self.cache.invalidate()

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        """The transaction of an admin listing: it reads "last used" as of now (writing deferred minutes in it)."""
        if not self.last_used.any():
            with self.uow.read() as tx:
                yield tx
            return
        with writing_pending(self.uow, writes=self.last_used) as tx:
            yield tx


@contextmanager
def writing_pending(uow: UnitOfWork, writes: LastUsedWrites, *, lock_pools: bool = False) -> Iterator[Transaction]:
    """A write transaction that first writes what repeat opens left waiting (their sessions, "last used").

    ``lock_pools``: for an admin change, the Named and Document pools' locks are taken first.
    When the transaction does not commit (a refused change, a database outage), what it took is put
    back to wait for the next one: nothing waiting is lost to a failed change.
    """
    taken = writes.take_all()
    try:
        with uow.write() as tx:
            if lock_pools:
                # an admin change may free CALs (counting them off their pools): it takes the pools' locks
                # before any CAL row's, in the order claims take them, so the two never wait on each other
                tx.claims.lock_pools(CalType.NAMED, CalType.DOCUMENT)
            sessions, minutes = taken
            tx.claims.record_sessions(sessions)
            for (cal_type, cal_id), minute in minutes.items():
                tx.claims.touch(cal_type, cal_id, minute=minute)
            yield tx
    except BaseException:
        writes.put_back(taken)
        raise


def free_ended_quarantines(tx: Transaction) -> None:
    """Free CALs whose quarantine ended, with an audit row each."""
    if tx.claims.any_ended_quarantine():
        tx.claims.free_all_ended_quarantines()
    audit_freed(tx)


def audit_freed(tx: Transaction) -> None:
    """Write an audit row for each CAL a claim or a sweep freed in this transaction."""
    for kind, name, until in tx.claims.freed:
        # stamped when the quarantine ended, which may be before the transaction that noticed it
        tx.history.audit("calkeeper", "cal.quarantine_ended", name, happened_at=min(until, tx.now), cal=kind,
                         quarantined_until=until)
    if tx.claims.freed:
        tx.site_state.bump()
    tx.claims.freed.clear()


def site_rules(tx: Transaction, *, sessions: SessionLimits = SessionLimits(),
               second_machine_takes_over: bool = False) -> SiteRules:
    """The license in force and the server-wide settings the allocation order runs under."""
    state = tx.site_state.get()
    return SiteRules(
        terms=tx.licenses.terms(),
        allow_dynamic_assignment=state.allow_dynamic_assignment,
        identification_mode=IdentificationMode(state.identification_mode),
        maintenance=state.maintenance,
        sessions=sessions,
        second_machine_takes_over=second_machine_takes_over,
    )
