"""A backup taken while threads open documents for the first time and admins assign CALs restores to a
consistent site: counters equal rows, every CAL on a document that exists, no pool over its license, and an
audit entry for every assignment the backup holds (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import calkeeper
from calkeeper.core.errors import NoCalAvailable, StoreUnavailable
from tests.integration.steps import AR, SALES
from tests.kit import apply_license, postgres_database, sqlite_database

OPENERS = 4
USERS_EACH = 12
ASSIGNED = 12


def user(n: int) -> str:
    return f"ACME\\load{n:03d}"


@contextmanager
def fresh_database(database_url: str, folder: Path) -> Iterator[str]:
    """An empty, migrated database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        folder.mkdir()
        yield sqlite_database(folder)
    else:
        with postgres_database() as url:
            yield url


def retried(action):  # a busy SQLite may answer "try again"; the load goes on, as a client would retry
    for _ in range(20):
        try:
            return action()
        except StoreUnavailable:
            continue
    return action()


def test_a_backup_taken_during_first_time_opens_and_assignments_restores_to_a_consistent_state(
        site, key, clock, root, tmp_path, database_url):
    apply_license(site, key, named=20, document=10, session=5, usage=8)
    site.update_cal_settings(allow_dynamic_assignment=True)
    site.update_document(SALES, cals_allocated=6, allow_dynamic_assignment=True)
    site.update_document(AR, cals_allocated=4)
    done, started, errors = [0], threading.Event(), []
    lock = threading.Lock()

    def count() -> None:
        with lock:
            done[0] += 1
            if done[0] >= OPENERS * USERS_EACH // 3:
                started.set()

    def opener(slot: int) -> None:
        for n in range(slot * USERS_EACH, (slot + 1) * USERS_EACH):
            document = SALES if n % 3 else AR
            retried(lambda: site.open_document(user(n), document, machine=f"PC-{n:03d}"))  # noqa: B023
            retried(lambda: site.open_document(user(n), document, machine=f"PC-{n:03d}"))  # noqa: B023 (a repeat)
            count()

    def assigner() -> None:
        for n in range(500, 500 + ASSIGNED):
            try:
                if n % 2:
                    retried(lambda: site.assign_named_cals(user(n)))  # noqa: B023
                else:
                    retried(lambda: site.assign_document_cals(AR, user(n)))  # noqa: B023
            except NoCalAvailable:
                pass  # the pool is full: the load outruns the license, as it should
            count()

    backups = [tmp_path / "during-1.json", tmp_path / "during-2.json"]

    def backer() -> None:
        started.wait()
        for path in backups:
            retried(lambda: site.backup(path))  # noqa: B023

    def guarded(target, *args) -> None:
        try:
            target(*args)
        except Exception as error:  # reported to the test, never swallowed
            errors.append(repr(error))
            started.set()

    threads = [threading.Thread(target=guarded, args=(opener, slot)) for slot in range(OPENERS)]
    threads += [threading.Thread(target=guarded, args=(assigner,)), threading.Thread(target=guarded, args=(backer,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == [] and not any(t.is_alive() for t in threads)

    audit = site.audit(limit=10_000)
    named = {e.target for e in audit if e.action == "named_cal.assigned"}
    assigned = {(e.target, e.details.get("document")) for e in audit if e.action == "document_cal.assigned"}
    for number, path in enumerate(backups):
        content = json.loads(path.read_text(encoding="utf-8"))
        tables = content["tables"]
        documents = {row["id"]: row["path"] for row in tables["documents"]}
        # every assignment the backup holds was audited in its own transaction
        assert {row["identity_name"] for row in tables["named_cals"]} <= named
        for row in tables["document_cals"]:
            assert (row["user_name"], documents[row["document_id"]]) in assigned, row
        with fresh_database(database_url, tmp_path / f"fresh-{number}") as url:
            fresh = calkeeper.open_site(url, clock=clock, root_folder=root, actor="tester",
                                        trusted_keys={key.key_id: key.private.public_key()})
            try:
                fresh.restore(path)
                assert_consistent(fresh, tables)
            finally:
                fresh.close()


def assert_consistent(site: calkeeper.LocalSite, tables: dict[str, list[dict[str, object]]]) -> None:
    """Counters equal rows, every CAL and session on a document that exists, no pool over its license."""
    with site.app.uow.read() as tx:
        assert tx.site_data.counter_drift() == {}
        counts = tx.site_data.row_counts()
    assert counts["named_cals"] == len(tables["named_cals"])
    assert counts["document_cals"] == len(tables["document_cals"])
    documents = {d.path: d for d in site.list_documents()}
    for path, document in documents.items():
        held = site.list_document_cals(path)
        assert len(held) == document.cals_assigned <= document.cals_allocated, path
    known = {row["id"] for row in tables["documents"]}
    assert all(row["document_id"] in known for row in tables["document_cals"] + tables["sessions"])
    for pool in site.cal_overview().pools:
        assert pool.assigned <= pool.in_license, pool
    assert sum(d.cals_allocated for d in documents.values()) <= next(
        p.in_license for p in site.cal_overview().pools if p.cal_type == "document")

