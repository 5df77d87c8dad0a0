"""Property: whatever admins and users do, in any order, no pool hands out more CALs than the license holds,
and a restore gives back exactly the CAL that was removed.

A hypothesis state machine drives one SQLite site per example (a copy of a migrated template, so no
example pays for migrations) through assigns, removals, restores, opens (named and anonymous), session
ends, time passing (minutes to days), document allocations and licenses with more or fewer CALs.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

import calkeeper
from calkeeper.authority.signing import SigningKey
from calkeeper.contract.views import AssignedCal
from calkeeper.core.errors import AllocationRefused, NoCalAvailable, NotQuarantined, UnknownUser
from tests.kit import ANALYTIX, apply_license

USERS = [f"ACME\\u{n}" for n in range(4)]
MACHINES = [f"PC-{n}" for n in range(4)]

users = st.sampled_from(USERS)
user_lists = st.lists(users, min_size=1, max_size=3)
documents = st.sampled_from(ANALYTIX[:2])  # two documents: enough to share a pool, few enough to collide
time_steps = st.one_of(
    st.integers(1, 120).map(lambda n: timedelta(minutes=n)),
    st.integers(1, 10).map(lambda n: timedelta(days=n)),
)
licenses = st.fixed_dictionaries({
    "named": st.integers(1, 4), "document": st.integers(0, 6), "session": st.integers(0, 3), "usage": st.integers(0, 3),
})


def history(cal: AssignedCal) -> tuple[Any, ...]:
    """What a restore must give back: the same CAL, with its history."""
    return cal.identity_kind, cal.source, cal.assigned_at, cal.last_used


class PoolMachine(RuleBasedStateMachine):
    """The site under random use; ``template``, ``key``, ``root`` and ``folder`` are set per test run."""

    template: Path
    key: SigningKey
    root: Path
    folder: Path

    def __init__(self) -> None:
        super().__init__()
        self.path = self.folder / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self.template, self.path)
        self.clock = calkeeper.FrozenClock()
        self.site = calkeeper.open_site(
            f"sqlite:///{self.path}", clock=self.clock, trusted_keys={self.key.key_id: self.key.private.public_key()},
            root_folder=self.root, actor="tester", migrate_schema=False,
        )
        apply_license(self.site, self.key, named=2, document=4, session=2, usage=2)
        self.site.set_document_allocation(ANALYTIX[0], 2)
        self.site.set_document_dynamic(ANALYTIX[0], True)
        # (kind, document or "", user key) -> (history when removed, quarantined until)
        self.removed: dict[tuple[str, str, str], tuple[tuple[Any, ...], datetime]] = {}
        self.sessions: list[str] = []
        self.last_pools = self.pools()
        self.last_allocated = 0

    def teardown(self) -> None:
        self.site.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    # -- what the site shows ------------------------------------------------------------------------

    def pools(self) -> dict[str, Any]:
        return {p.cal_type: p for p in self.site.cal_overview().pools}

    def named(self) -> dict[str, AssignedCal]:
        return {cal.user.casefold(): cal for cal in self.site.list_named_cals(limit=1000).items}

    def document_cals(self, document: str) -> dict[str, AssignedCal]:
        return {cal.user.casefold(): cal for cal in self.site.list_document_cals(document)}

    def held(self, kind: str, document: str) -> dict[str, AssignedCal]:
        return self.named() if kind == "named" else self.document_cals(document)

    # -- removal and restore, for both kinds --------------------------------------------------------

    def remove(self, kind: str, document: str, names: list[str]) -> None:
        before = self.held(kind, document)
        try:
            if kind == "named":
                outcomes = self.site.remove_named_cals(";".join(names))
            else:
                outcomes = self.site.remove_document_cals(document, ";".join(names))
        except UnknownUser:
            assert any(n.casefold() not in before for n in names)
            assert self.held(kind, document) == before, "a refused removal changed nothing"
            return
        for outcome in outcomes:
            event(f"remove: {outcome.outcome}")
            cal = before[outcome.user.casefold()]
            slot = (kind, document, outcome.user.casefold())
            if outcome.outcome == "quarantined" and cal.quarantined_until is None:
                assert outcome.quarantined_until is not None and cal.last_used is not None
                assert outcome.quarantined_until == cal.last_used + timedelta(days=7) > self.clock.now()
                self.removed[slot] = (history(cal), outcome.quarantined_until)
            elif outcome.outcome == "freed":
                assert cal.last_used is None or cal.last_used + timedelta(days=7) <= self.clock.now()
                self.removed.pop(slot, None)
        after = self.held(kind, document)
        assert all(after[n.casefold()].quarantined_until for n in names if n.casefold() in after)

    def check_restored(self, kind: str, document: str, name: str) -> None:
        slot = (kind, document, name.casefold())
        assert slot in self.removed, f"{name} was restored without having been removed"
        removed_history, until = self.removed.pop(slot)
        event(f"restored a {kind} CAL")
        assert self.clock.now() < until, "a CAL was restored after its quarantine ended"
        cal = self.held(kind, document)[name.casefold()]
        assert history(cal) == removed_history
        assert cal.quarantined_until is None

    def restorable(self, kind: str, document: str, name: str) -> bool:
        slot = (kind, document, name.casefold())
        return slot in self.removed and self.clock.now() < self.removed[slot][1]

    def restore(self, kind: str, document: str, name: str) -> None:
        expected = self.restorable(kind, document, name)
        try:
            if kind == "named":
                self.site.restore_named_cals(name)
            else:
                self.site.restore_document_cals(document, name)
        except NotQuarantined:
            assert not expected, f"{name}'s removal could not be undone within its quarantine"
            event("restore refused")
            self.removed.pop((kind, document, name.casefold()), None)
            return
        assert expected
        self.check_restored(kind, document, name)

    # -- rules --------------------------------------------------------------------------------------

    @rule(names=user_lists)
    def assign_named_cals(self, names: list[str]) -> None:
        before = self.named()
        try:
            outcomes = self.site.assign_named_cals(";".join(names))
        except NoCalAvailable:
            assert self.named() == before, "a refused batch assigned nobody"
            return
        for outcome in outcomes:
            if outcome.outcome == "restored":
                self.check_restored("named", "", outcome.user)

    @rule(names=user_lists)
    def remove_named_cals(self, names: list[str]) -> None:
        self.remove("named", "", names)

    @rule(name=users)
    def restore_named_cal(self, name: str) -> None:
        self.restore("named", "", name)

    @precondition(lambda self: self.removed)
    @rule(data=st.data())
    def restore_a_removed_cal(self, data: st.DataObject) -> None:
        kind, document, name = data.draw(st.sampled_from(sorted(self.removed)))
        self.restore(kind, document, name)

    @rule(data=st.data())
    def remove_cals_in_use(self, data: st.DataObject) -> None:
        # removals of CALs that are held, most of them used lately: the way into quarantine
        document = data.draw(documents)
        kind = data.draw(st.sampled_from(["named", "document"]))
        held = sorted(cal.user for cal in self.held(kind, document).values() if cal.quarantined_until is None)
        if not held:
            return
        names = data.draw(st.lists(st.sampled_from(held), min_size=1, max_size=2))
        slot_document = document if kind == "document" else ""  # a Named CAL belongs to no document
        self.remove(kind, slot_document, names)
        if data.draw(st.booleans()):  # the admin changes their mind at once
            self.restore(kind, slot_document, names[0])

    @rule(document=documents, names=user_lists)
    def assign_document_cals(self, document: str, names: list[str]) -> None:
        before = self.document_cals(document)
        try:
            outcomes = self.site.assign_document_cals(document, ";".join(names))
        except NoCalAvailable:
            assert self.document_cals(document) == before, "a refused batch assigned nobody"
            return
        for outcome in outcomes:
            if outcome.outcome == "restored":
                self.check_restored("document", document, outcome.user)

    @rule(document=documents, names=user_lists)
    def remove_document_cals(self, document: str, names: list[str]) -> None:
        self.remove("document", document, names)

    @rule(document=documents, name=users)
    def restore_document_cal(self, document: str, name: str) -> None:
        self.restore("document", document, name)

    @rule(opens=st.lists(st.tuples(st.none() | users, documents, st.sampled_from(MACHINES)), min_size=1, max_size=3))
    def open_documents(self, opens: list[tuple[str | None, str, str]]) -> None:
        for name, document, machine in opens:
            self.open_document(name, document, machine)

    def open_document(self, name: str | None, document: str, machine: str) -> None:
        before = self.named().get(name.casefold()) if name else None
        decision = self.site.open_document(name, document, machine=machine)
        event(f"open: {decision.cal_type if decision.granted else decision.code}")
        if not decision.granted:
            return
        if decision.cal_type in {"session", "usage"}:
            self.sessions.append(decision.session_id)
        if before is not None and before.quarantined_until is None:
            assert decision.cal_type == "named", "a user holding a Named CAL opens with it"
        if before is not None and before.quarantined_until is not None:
            assert decision.cal_type != "named", "a CAL marked for removal serves nobody"
        if decision.dynamic:
            pool = self.pools()[str(decision.cal_type)]
            assert pool.assigned <= pool.in_license, f"a dynamic {decision.cal_type} CAL beyond the license"

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def close_session(self, data: st.DataObject) -> None:
        session_id = self.sessions.pop(data.draw(st.integers(0, len(self.sessions) - 1)))
        self.site.close_session(session_id)

    @rule(step=time_steps)
    def advance_clock(self, step: timedelta) -> None:
        self.clock.advance(step)
        self.site.sweep()

    @rule(document=documents, cals=st.integers(0, 6))
    def allocate_document_cals(self, document: str, cals: int) -> None:
        try:
            self.site.set_document_allocation(document, cals)
        except AllocationRefused:
            return

    @rule(document=documents, allow=st.booleans())
    def set_document_dynamic(self, document: str, allow: bool) -> None:
        self.site.set_document_dynamic(document, allow)

    @rule(allow=st.booleans())
    def set_dynamic_named(self, allow: bool) -> None:
        self.site.update_cal_settings(allow_dynamic_assignment=allow)

    @rule(counts=licenses)
    def apply_license(self, counts: dict[str, int]) -> None:
        apply_license(self.site, self.key, **counts)

    # -- invariants ---------------------------------------------------------------------------------

    @invariant()
    def no_pool_grows_beyond_its_license(self) -> None:
        pools = self.pools()
        for cal_type, pool in pools.items():
            # a decreased license may leave excess; then nothing of that type is handed out
            if pool.excess:
                event(f"{cal_type} pool in excess")
            if pool.assigned > self.last_pools[cal_type].assigned:
                assert pool.assigned <= pool.in_license, f"{cal_type}: {pool}"
            assert pool.free == max(0, pool.in_license - pool.assigned)
            assert pool.excess == max(0, pool.assigned - pool.in_license)
        allocated = pools["document"].allocated or 0
        if allocated > self.last_allocated:
            assert allocated <= pools["document"].in_license, "an allocation beyond the license"
        self.last_pools, self.last_allocated = pools, allocated

    @invariant()
    def no_document_has_more_cals_than_allocated(self) -> None:
        for document in self.site.list_documents(scan=False):
            assert document.cals_assigned <= document.cals_allocated, document


def test_pools_stay_within_the_license_and_restores_give_back_what_was_removed(
    tmp_path: Path, key: SigningKey, root: Path
) -> None:
    template = tmp_path / "template.db"
    site = calkeeper.open_site(f"sqlite:///{template}", root_folder=root)
    site.scan_documents()
    site.close()
    assert not Path(f"{template}-wal").exists(), "the template is whole in one file"
    machine = type("Machine", (PoolMachine,), {"template": template, "key": key, "root": root,
                                               "folder": tmp_path})
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=40, stateful_step_count=30, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )
