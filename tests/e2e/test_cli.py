"""The ``calkeeper`` command as an admin runs it: real processes, real exit codes, a real data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from calkeeper.core.serials import control_number

CLI = [sys.executable, "-m", "calkeeper.cli"]


class Shell:
    def __init__(self, data_dir: Path, database_url: str | None = None) -> None:
        self.env = {**os.environ, "CALKEEPER_DATA_DIR": str(data_dir), "COLUMNS": "200"}
        if database_url:
            self.env["CALKEEPER_DATABASE_URL"] = database_url
        else:
            self.env.pop("CALKEEPER_DATABASE_URL", None)

    def __call__(self, *args: str, stdin: str | None = None, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*CLI, *args], env=self.env, input=stdin, capture_output=True, text=True, timeout=60)
        assert done.returncode == expect, f"{args}: rc={done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def json(self, *args: str, expect: int = 0) -> object:
        return json.loads(self(*args, "--json", expect=expect).stdout)


@pytest.fixture
def sh(tmp_path: Path) -> Shell:
    shell = Shell(tmp_path / "site")
    shell("demo")
    return shell


def test_the_demo_sets_up_a_licensed_site_with_the_four_analytix_documents(sh: Shell) -> None:
    pools = {p["cal_type"]: p for p in sh.json("cal", "show")["pools"]}
    assert (pools["named"]["in_license"], pools["document"]["in_license"]) == (5, 20)
    assert (pools["session"]["in_license"], pools["usage"]["in_license"]) == (5, 28)
    paths = sorted(d["path"] for d in sh.json("doc", "list"))
    assert paths == ["AR Analytix.qvw", "Advertising Analytix.qvw", "Contract Analytix.qvw", "SalesFlash.qvw"]
    assert "serial 4600123456789012" in sh("license", "show").stdout.replace("Serial number:   ", "serial ")


def test_running_the_demo_twice_leaves_the_site_as_it_was(sh: Shell) -> None:
    before = sh.json("cal", "list")
    assert "already set up" in sh("demo").stdout
    assert sh.json("cal", "list") == before


def test_an_admin_assigns_with_a_semicolon_list_and_an_invalid_entry_assigns_nobody(sh: Shell) -> None:
    bad = sh("cal", "assign", "ACME\\dan;not-a-user;ACME\\erin", expect=2)
    assert "not-a-user" in bad.stderr and "nothing was applied" in bad.stderr
    assert {c["user"] for c in sh.json("cal", "list")["items"]} == {"ACME\\alice", "ACME\\bob"}
    sh("cal", "assign", "ACME\\dan;ACME\\erin")
    assert {c["user"] for c in sh.json("cal", "list")["items"]} == {"ACME\\alice", "ACME\\bob", "ACME\\dan",
                                                                     "ACME\\erin"}


def test_open_prints_the_grant_and_a_denial_exits_1_with_the_reason(sh: Shell) -> None:
    granted = sh("open", "ACME\\rep1", "SalesFlash.qvw", "--machine", "PC-17", "--client", "ajax")
    assert "GRANTED with a Document CAL" in granted.stdout
    sh("cal", "settings", "--no-dynamic")
    sh("doc", "dynamic", "SalesFlash.qvw", "off")
    for n in range(5):
        sh("open", f"ACME\\walkin{n}", "Contract Analytix.qvw", "--machine", f"PC-{n}")
    used = sum(p["assigned"] for p in sh.json("cal", "show")["pools"] if p["cal_type"] in {"session", "usage"})
    assert used == 5
    decision = sh.json("open", "ACME\\late", "AR Analytix.qvw", "--machine", "PC-99")
    assert decision["granted"] is True and decision["cal_type"] in {"session", "usage"}


def test_open_of_an_unknown_document_is_bad_usage_and_records_nothing(sh: Shell) -> None:
    done = sh("open", "ACME\\rep1", "Nope.qvw", expect=2)
    assert "unknown document 'Nope.qvw'" in done.stderr
    assert sh.json("denials") == []


def test_removing_a_used_cal_quarantines_it_and_restore_undoes_it(sh: Shell) -> None:
    sh("open", "ACME\\alice", "SalesFlash.qvw", "--machine", "PC-1")
    removed = sh("cal", "remove", "ACME\\alice")
    assert "quarantined until" in removed.stdout
    listed = {c["user"]: c for c in sh.json("cal", "list")["items"]}
    assert listed["ACME\\alice"]["quarantined_until"] is not None
    assert "restored" in sh("cal", "restore", "acme\\ALICE").stdout
    assert sh("cal", "remove", "ACME\\bob").stdout.count("freed at once") == 1


def test_document_allocation_and_assignment_follow_the_pool(sh: Shell) -> None:
    done = sh("doc", "allocate", "Contract Analytix.qvw", "99", expect=1)
    assert "can be allocated" in done.stderr
    sh("doc", "allocate", "Contract Analytix.qvw", "-1", expect=2)
    sh("doc", "allocate", "Contract Analytix.qvw", "2")
    sh("doc", "assign", "Contract Analytix.qvw", "ACME\\x1;ACME\\x2")
    full = sh("doc", "assign", "Contract Analytix.qvw", "ACME\\x3", expect=1)
    assert "nothing was assigned" in full.stderr.lower()
    users = [c["user"] for c in sh.json("doc", "users", "Contract Analytix.qvw")]
    assert users == ["ACME\\x1", "ACME\\x2"]
    user = sh.json("user", "ACME\\x1")
    assert [c["document"] for c in user["document_cals"]] == ["Contract Analytix.qvw"]


def test_a_wrong_control_number_or_a_tampered_lef_is_refused_and_the_license_stays(sh: Shell, tmp_path: Path) -> None:
    before = sh.json("license", "show")
    lef = tmp_path / "site" / "authority" / "demo-license.lef"
    serial = before["serial"]
    wrong = "00000" if control_number(serial) != "00000" else "11111"
    done = sh("license", "apply", "--serial", serial, "--control", wrong, "--owner", "O", "--org", "G",
              "--lef", str(lef), expect=1)
    assert "control number does not match" in done.stderr
    tampered = tmp_path / "tampered.lef"
    tampered.write_text(lef.read_text().replace("NAMED_CALS;5;;", "NAMED_CALS;500;;"), newline="")
    done = sh("license", "apply", "--serial", serial, "--control", control_number(serial), "--owner", "O",
              "--org", "G", "--lef", str(tampered), expect=1)
    assert "signature is not valid" in done.stderr
    assert sh.json("license", "show") == before


def test_a_vendor_issues_more_cals_and_the_site_applies_them(sh: Shell, tmp_path: Path) -> None:
    serial = sh.json("license", "show")["serial"]
    lef = tmp_path / "more.lef"
    sh("authority", "issue", "--serial", serial, "--owner", "Analytix Demo Site", "--org", "ACME Corporation",
       "--named", "10", "--document", "20", "--maintenance-until", "2027-12-31", "--out", str(lef))
    sh("license", "apply", "--serial", serial, "--control", control_number(serial), "--owner", "Analytix Demo Site",
       "--org", "ACME Corporation", "--lef", str(lef))
    assert sh.json("license", "show")["cals"]["named"] == 10
    history = sh.json("license", "history")
    assert history[0]["changes"]["named"] == "5 -> 10"


def test_clear_cal_data_asks_first_writes_a_backup_and_restore_brings_it_back(sh: Shell, tmp_path: Path) -> None:
    before = sh.json("cal", "list")
    refused = sh("clear-cal-data", stdin="n\n", expect=1)
    assert "Nothing was changed" in refused.stdout
    assert sh.json("cal", "list") == before
    backup = tmp_path / "before-clear.json"
    outcome = sh.json("clear-cal-data", "--yes", "--backup", str(backup))
    assert outcome["backup"] == str(backup) and backup.exists()
    assert sh.json("cal", "list")["items"] == []
    assert sh.json("license", "show")["serial"] == "4600123456789012"
    sh("restore", str(backup))
    assert sh.json("cal", "list") == before
    actions = [e["action"] for e in sh.json("audit", "--limit", "10")]
    assert "data.restored" in actions and "cal_data.cleared" in actions


def test_a_damaged_backup_is_refused_and_changes_nothing(sh: Shell, tmp_path: Path) -> None:
    before = sh.json("cal", "list")
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"format": "calkeeper-backup", "version": 1, "tables": {}}')
    done = sh("restore", str(damaged), expect=1)
    assert "incomplete" in done.stderr
    assert sh.json("cal", "list") == before


def test_the_cli_works_the_same_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    sh = Shell(tmp_path / "pg-site", database_url=pg_url)
    sh("demo")
    assert sh.json("open", "ACME\\newcomer", "SalesFlash.qvw", "--machine", "PC-5")["cal_type"] == "named"
    assert len(sh.json("cal", "list")["items"]) == 3


def test_a_bad_database_url_is_a_clear_usage_error(tmp_path: Path) -> None:
    sh = Shell(tmp_path / "x", database_url="mysql://nope")
    done = sh("cal", "show", expect=2)
    assert "sqlite:///" in done.stderr and "postgresql+psycopg://" in done.stderr


def test_cal_export_and_import_move_cals_and_migrate_to_moves_the_whole_site(sh: Shell, tmp_path: Path) -> None:
    sh("cal", "assign", "ACME\\mover")
    written = sh("cal", "export", str(tmp_path / "cals.json"), "--format", "json").stdout
    assert "CALs written to" in written
    refused = sh("cal", "import", str(tmp_path / "cals.json"), expect=2)
    assert "already holds a Named CAL" in refused.stdout + refused.stderr
    target = f"sqlite:///{tmp_path / 'moved.db'}"
    moved = sh("migrate-to", target).stdout
    assert "Every table's rows and every pool counter match" in moved
    again = sh("migrate-to", target, expect=2)
    assert "is not empty" in again.stdout + again.stderr
    there = Shell(tmp_path / "site", database_url=target)
    assert "ACME\\mover" in {c["user"] for c in there.json("cal", "list")["items"]}  # type: ignore[index]
