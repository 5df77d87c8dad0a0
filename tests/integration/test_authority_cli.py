"""The vendor's commands, run in-process: ``calkeeper authority site|key|token ...`` on a folder."""

from __future__ import annotations

import json
import stat

import pytest
from typer.testing import CliRunner

from calkeeper.authority.keys import active_key_id
from calkeeper.cli.main import app
from calkeeper.core import lef as lefs
from calkeeper.core.keys import load_public_keys
from calkeeper.core.serials import control_number


@pytest.fixture
def vendor(tmp_path, monkeypatch):
    for name in ("CALKEEPER_AUTHORITY_DIR", "CALKEEPER_AUTHORITY_DATABASE_URL", "CALKEEPER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args, expect=0):
        done = runner.invoke(app, ["--data-dir", str(tmp_path / "data"), "authority", *args],
                             env={"COLUMNS": "200"})
        assert done.exit_code == expect, f"{args}: {done.exit_code}\n{done.output}"
        return done.output

    run.folder = tmp_path / "data" / "authority"
    return run


def test_site_create_prints_the_serial_and_its_control_number(vendor):
    printed = vendor("site", "create", "--owner", "Example Site", "--org", "Example Org", "--named", "25",
                     "--document", "100", "--session", "10", "--usage", "280", "--time-limit", "2027-12-31",
                     "--maintenance-until", "2027-12-31", "--no-lease")
    serial = printed.split("Serial number:")[1].split()[0]
    assert printed.split("Control number:")[1].split()[0] == control_number(serial)
    shown = json.loads(vendor("site", "show", serial, "--json"))
    assert shown["cals"] == {"named": 25, "document": 100, "session": 10, "usage": 280}
    assert (shown["time_limit"], shown["lease_allowed"]) == ("2027-12-31", False)
    assert (vendor.folder / "authority.db").exists()
    assert stat.S_IMODE(vendor.folder.stat().st_mode) == 0o700


def test_a_purchase_a_change_and_the_history_of_a_site(vendor):
    serial = json.loads(vendor("site", "create", "--owner", "S", "--org", "O", "--named", "25", "--json"))["serial"]
    assert "now holds 30 Named" in vendor("site", "add-cals", serial, "--named", "5")
    vendor("site", "set", serial, "--maintenance-until", "2028-06-30", "--usage", "10")
    history = json.loads(vendor("site", "history", serial, "--json"))
    assert [e["action"] for e in history] == ["terms_changed", "cals_added", "created"]
    assert history[1]["details"]["named"] == "25 -> 30"
    listed = vendor("site", "list")
    assert serial in listed and "2028-06-30" in listed


def test_the_lef_of_a_site_is_signed_with_the_active_key(vendor, tmp_path):
    serial = json.loads(vendor("site", "create", "--owner", "S", "--org", "O", "--named", "2", "--json"))["serial"]
    vendor("site", "lef", serial, expect=1)  # no signing key yet: 'authority init' or the first serve makes one
    vendor("init")
    target = tmp_path / "site.lef"
    vendor("site", "lef", serial, "--out", str(target))
    lef = lefs.verify(target.read_text(), load_public_keys([vendor.folder / "keys"]))
    assert (lef.serial, lef.count("NAMED_CALS"), lef.key_id) == (serial, 2, active_key_id(vendor.folder / "keys"))


def test_keys_are_rotated_listed_and_activated(vendor):
    vendor("init")
    first = active_key_id(vendor.folder / "keys")
    assert "now signs new LEFs" in vendor("key", "rotate")
    second = active_key_id(vendor.folder / "keys")
    ahead = vendor("key", "rotate", "--publish-only").split("New signing key ")[1].split()[0]
    assert active_key_id(vendor.folder / "keys") == second
    listed = json.loads(vendor("key", "list", "--json"))
    assert [(k["key_id"], k["active"]) for k in listed] == [(first, False), (second, True), (ahead, False)]
    vendor("key", "activate", ahead)
    assert active_key_id(vendor.folder / "keys") == ahead
    assert "no private key" in vendor("key", "activate", "ck-000000000000", expect=2)


def test_admin_tokens_are_created_once_and_revoked(vendor):
    made = json.loads(vendor("token", "create", "--name", "ops", "--json"))
    assert made["secret"].startswith("cka_") and made["token"]["name"] == "ops"
    assert "Revoked 1 token" in vendor("token", "revoke", "ops")
    assert "no live authority token" in vendor("token", "revoke", "ops", expect=2)


@pytest.mark.parametrize(("args", "says"), [
    (("site", "create", "--owner", "S", "--org", "O", "--named", "0"), "--named"),
    (("site", "create", "--owner", "S", "--org", "O", "--named", "1", "--time-limit", "31/12/2027"), "YYYY-MM-DD"),
    (("site", "add-cals", "1234567812345678", "--named", "1"), "no site with serial"),
    (("site", "create", "--owner", "S", "--org", "O", "--named", "1", "--db", "mysql://x"), "sqlite:///"),
])
def test_bad_input_is_refused_with_a_reason(vendor, args, says):
    assert says in vendor(*args, expect=2)
