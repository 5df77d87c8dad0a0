"""Property: the pool counters always equal the rows they count, whatever happens, on SQLite and PostgreSQL.

A hypothesis state machine drives one site through first-time claims of every kind (dynamic Named and
Document, Session, Usage), manual assignments, removals (freed at once or quarantined), restores,
session ends, time passing (quarantines end, Session CALs are released, Usage CALs return; sometimes
swept by the server, sometimes left to the next claim that finds its pool full), clearing CAL data,
backups restored, licenses with more or fewer CALs, allocation changes and documents released. After
every step the reconciliation check (``Pools.counter_drift``) must find nothing.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

import calkeeper
from calkeeper.authority.signing import SigningKey
from calkeeper.core.errors import CalkeeperError
from tests.kit import ANALYTIX, apply_license

USERS = [f"ACME\\c{n}" for n in range(5)]
MACHINES = ["PC-1", "PC-2", "KIOSK-1"]
users = st.sampled_from(USERS)
documents = st.sampled_from(ANALYTIX[:3])
time_steps = st.one_of(
    st.integers(1, 90).map(lambda n: timedelta(minutes=n)),
    st.integers(1, 10).map(lambda n: timedelta(days=n)),
    st.just(timedelta(days=29)),  # past a Usage CAL's 28 days
)
licenses = st.fixed_dictionaries({
    "named": st.integers(1, 3), "document": st.integers(0, 4), "session": st.integers(0, 2), "usage": st.integers(0, 2),
})


class CounterMachine(RuleBasedStateMachine):
    """The site under random use; set per test run: ``site``, ``clock``, ``key``, ``root``, ``folder``."""

    site: calkeeper.LocalSite
    clock: calkeeper.FrozenClock
    key: SigningKey
    root: Path
    folder: Path

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[str] = []
        self.backups: list[Path] = []
        # every example starts from the same CAL data (one site serves them all: a database each is too slow)
        self.site.clear_cal_data(backup_to=self.folder / f"{uuid.uuid4().hex}.json")
        apply_license(self.site, self.key, named=2, document=3, session=2, usage=2)
        self.site.update_cal_settings(allow_dynamic_assignment=True)
        self.site.set_document_allocation(ANALYTIX[0], 2)
        self.site.set_document_dynamic(ANALYTIX[0], True)

    def attempt(self, name: str, call: object) -> None:
        try:
            call()  # type: ignore[operator]
        except CalkeeperError as error:
            event(f"{name}: {type(error).__name__}")

    @rule(opens=st.lists(st.tuples(st.none() | users, documents, st.sampled_from(MACHINES)), min_size=1, max_size=4))
    def open_documents(self, opens: list[tuple[str | None, str, str]]) -> None:
        for name, document, machine in opens:
            try:
                decision = self.site.open_document(name, document, machine=machine)
            except CalkeeperError as error:
                event(f"open: {type(error).__name__}")
                continue
            event(f"open: {decision.cal_type if decision.granted else decision.code}")
            if decision.granted and decision.session_id:
                self.sessions.append(decision.session_id)

    @rule(names=st.lists(users, min_size=1, max_size=3))
    def assign_named_cals(self, names: list[str]) -> None:
        self.attempt("assign named", lambda: self.site.assign_named_cals(";".join(names)))

    @rule(document=documents, names=st.lists(users, min_size=1, max_size=3))
    def assign_document_cals(self, document: str, names: list[str]) -> None:
        self.attempt("assign document", lambda: self.site.assign_document_cals(document, ";".join(names)))

    @rule(names=st.lists(users, min_size=1, max_size=3))
    def remove_named_cals(self, names: list[str]) -> None:
        self.attempt("remove named", lambda: self.site.remove_named_cals(";".join(names)))

    @rule(document=documents, names=st.lists(users, min_size=1, max_size=3))
    def remove_document_cals(self, document: str, names: list[str]) -> None:
        self.attempt("remove document", lambda: self.site.remove_document_cals(document, ";".join(names)))

    @rule(name=users, document=st.none() | documents)
    def restore_cal(self, name: str, document: str | None) -> None:
        if document is None:
            self.attempt("restore named", lambda: self.site.restore_named_cals(name))
        else:
            self.attempt("restore document", lambda: self.site.restore_document_cals(document, name))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def close_session(self, data: st.DataObject) -> None:
        session_id = self.sessions.pop(data.draw(st.integers(0, len(self.sessions) - 1)))
        self.attempt("close", lambda: self.site.close_session(session_id))

    @rule(step=time_steps, sweep=st.booleans())
    def advance_clock(self, step: timedelta, sweep: bool) -> None:
        self.clock.advance(step)
        if sweep:  # else the next claim that finds its pool full sweeps
            self.site.sweep()

    @rule(counts=licenses)
    def apply_license(self, counts: dict[str, int]) -> None:
        self.attempt("license", lambda: apply_license(self.site, self.key, **counts))

    @rule(document=documents, cals=st.integers(0, 4), dynamic=st.booleans())
    def allocate_document_cals(self, document: str, cals: int, dynamic: bool) -> None:
        self.attempt("allocate", lambda: self.site.set_document_allocation(document, cals))
        self.site.set_document_dynamic(document, dynamic)

    @rule(allow=st.booleans())
    def set_dynamic_named(self, allow: bool) -> None:
        self.site.update_cal_settings(allow_dynamic_assignment=allow)

    @rule()
    def back_up(self) -> None:
        path = self.folder / f"{uuid.uuid4().hex}.json"
        self.site.backup(path)
        self.backups.append(path)

    @precondition(lambda self: self.backups)
    @rule(data=st.data())
    def restore_a_backup(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(self.backups))
        self.attempt("restore", lambda: self.site.restore(path))
        self.sessions.clear()

    @rule()
    def clear_cal_data(self) -> None:
        self.attempt("clear", lambda: self.site.clear_cal_data(backup_to=self.folder / f"{uuid.uuid4().hex}.json"))
        self.sessions.clear()

    @rule(document=documents)
    def release_a_document(self, document: str) -> None:
        file = self.root / document
        file.unlink()
        self.site.scan_documents()
        self.attempt("release", lambda: self.site.release_missing_document(document))
        file.write_bytes(b"QVW")
        self.site.scan_documents()

    @invariant()
    def counters_equal_rows(self) -> None:
        assert self.site.app.pools.counter_drift() == {}


def test_pool_counters_equal_their_rows_after_every_step(
    database_url: str, clock: calkeeper.FrozenClock, key: SigningKey, root: Path, tmp_path: Path
) -> None:
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, actor="tester")
    try:
        apply_license(site, key, named=2, document=3, session=2, usage=2)
        machine = type("Machine", (CounterMachine,), {"site": site, "clock": clock, "key": key, "root": root,
                                                      "folder": tmp_path})
        run_state_machine_as_test(
            machine,
            settings=settings(max_examples=25, stateful_step_count=30, deadline=None, database=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
        )
    finally:
        site.close()
