"""The license lifecycle with two real processes on loopback: the vendor's license authority and a
site's CAL server. A site is created at the authority, its license is applied on the server (fetched),
it buys 5 more Named CALs, "Update license from server" brings them; every refusal leaves the license
in force exactly as it was."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from calkeeper.core.serials import control_number
from tests.e2e.servers import CLI, RunningServer, free_port, running_server

START_TIMEOUT = 60.0


@dataclass
class Authority:
    """A running ``calkeeper authority serve`` and the vendor's CLI on its folder."""

    url: str
    token: str
    folder: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*CLI, "authority", *args], env=self.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == expect, f"{args}: rc={done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, self.url + path, headers={"Authorization": f"Bearer {self.token}"},
                             timeout=10, **kwargs)

    def create_site(self, *args: str) -> dict[str, Any]:
        made: dict[str, Any] = json.loads(self.cli("site", "create", "--owner", "Example Site", "--org",
                                                   "Example Org", *args, "--json").stdout)
        return made

    def start(self, port: int) -> None:
        self.process = subprocess.Popen([*CLI, "authority", "serve", "--port", str(port)], env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "calkeeper authority serve exited"
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the authority did not come up at {self.url}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[Authority]:
    folder = tmp_path / "vendor"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALKEEPER_")}
    env.update({"CALKEEPER_AUTHORITY_DIR": str(folder), "CALKEEPER_DATA_DIR": str(tmp_path / "vendor-home"),
                "COLUMNS": "200"})
    port = free_port()
    vendor = Authority(f"http://127.0.0.1:{port}", "", folder, env)
    vendor.token = json.loads(vendor.cli("token", "create", "--name", "e2e-vendor", "--json").stdout)["secret"]
    vendor.start(port)
    yield vendor
    vendor.stop()


def pin_keys(site_dir: Path, authority: Authority) -> None:
    """The site admin pins the authority's public keys (files fetched from GET /keys)."""
    for key in httpx.get(authority.url + "/keys", timeout=10).json()["keys"]:
        pub = site_dir.parent / f"{key['key_id']}.pub"
        pub.write_text(httpx.get(f"{authority.url}/keys/{key['key_id']}.pub", timeout=10).text)
        subprocess.run([*CLI, "--data-dir", str(site_dir), "authority", "trust", str(pub)], check=True,
                       capture_output=True, timeout=60, env={k: v for k, v in os.environ.items()
                                                             if not k.startswith("CALKEEPER_")})


def cal_server(site_dir: Path, authority: Authority, *, timeout: str = "2"):  # type: ignore[no-untyped-def]
    return running_server(site_dir, demo=False, extra_env={"CALKEEPER_AUTHORITY_URL": authority.url,
                                                           "CALKEEPER_AUTHORITY_TIMEOUT_SECONDS": timeout})


@pytest.fixture
def server(tmp_path: Path, authority: Authority) -> Iterator[RunningServer]:
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    pin_keys(site_dir, authority)
    with cal_server(site_dir, authority) as running:
        yield running


def call(server: RunningServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, server.url + path, headers={"Authorization": f"Bearer {server.admin_token}"},
                         timeout=30, **kwargs)


def license_in_force(server: RunningServer) -> dict[str, Any]:
    answer = call(server, "GET", "/api/v1/license")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def apply_body(site: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {"serial": site["serial"], "control": site["control"], "owner": "Example Site",
            "organization": "Example Org", "lef": None, **overrides}


def refused(answer: httpx.Response, status: int, code: str | set[str]) -> str:
    codes = {code} if isinstance(code, str) else code
    assert answer.status_code == status and answer.json()["error"]["code"] in codes, answer.text
    message: str = answer.json()["error"]["message"]
    return message


@pytest.fixture
def licensed(server: RunningServer, authority: Authority) -> tuple[RunningServer, dict[str, Any]]:
    """The CAL server with the license of a new site (25/100/10/280) applied, fetched from the authority."""
    site = authority.create_site("--named", "25", "--document", "100", "--session", "10", "--usage", "280",
                                 "--maintenance-until", "2027-12-31")
    answer = call(server, "PUT", "/api/v1/license", json=apply_body(site))
    assert answer.status_code == 200, answer.text
    return server, site


def test_a_site_applies_its_fetched_license_buys_5_more_named_cals_and_updates_from_server(server, authority):
    made = authority.cli("site", "create", "--owner", "Example Site", "--org", "Example Org", "--named", "25",
                         "--document", "100", "--session", "10", "--usage", "280", "--maintenance-until",
                         "2027-12-31").stdout
    serial = made.split("Serial number:")[1].split()[0]
    control = made.split("Control number:")[1].split()[0]
    assert len(serial) == 16 and control == control_number(serial)

    applied = server.local_cli("license", "apply", "--serial", serial, "--control", control, "--owner",
                               "Example Site", "--org", "Example Org").stdout
    assert "25 Named, 100 Document, 10 Session, 280 Usage" in applied
    before = license_in_force(server)
    assert before["cals"] == {"named": 25, "document": 100, "session": 10, "usage": 280}

    bought = authority.api("POST", f"/api/v1/sites/{serial}/purchases", json={"named": 5})
    assert bought.status_code == 200 and bought.json()["cals"]["named"] == 30
    assert license_in_force(server)["cals"]["named"] == 25  # nothing changes until the admin asks

    update = call(server, "POST", "/api/v1/license/update")
    assert update.status_code == 200, update.text
    assert update.json()["updated"] is True and update.json()["changes"] == {"named": "25 -> 30"}
    after = license_in_force(server)
    assert after["cals"] == {"named": 30, "document": 100, "session": 10, "usage": 280}
    admin = f"token:e2e-admin-{server.url.rsplit(':', 1)[1]}"  # tests/e2e/servers.py names it by its port
    assert after["applied_by"] == admin
    pools = {p["cal_type"]: p for p in call(server, "GET", "/api/v1/cals").json()["pools"]}
    assert pools["named"]["in_license"] == 30

    assert "up to date" in server.local_cli("license", "update").stdout
    history = call(server, "GET", "/api/v1/license/history").json()
    assert [(h["applied_by"], h["changes"].get("named")) for h in history] == [(admin, "25 -> 30"),
                                                                                (history[1]["applied_by"],
                                                                                 "0 -> 25")]
    assert history[1]["applied_by"].startswith("cli")
    shown = json.loads(authority.cli("site", "show", serial, "--json").stdout)
    assert shown["last_fetched_at"] is not None and shown["last_fetched_from"].startswith("127.0.0.1")
    assert [e["action"] for e in json.loads(authority.cli("site", "history", serial, "--json").stdout)] == [
        "cals_added", "lease_key_recorded", "created"]  # newest first; the site sent its lease key


def test_each_refused_license_leaves_the_license_in_force(licensed, authority, tmp_path):
    server, site = licensed
    before = license_in_force(server)
    serial = site["serial"]
    lef = httpx.get(authority.url + "/lef", params={"serial": serial, "control": site["control"]}, timeout=10).text
    other_key = tmp_path / "other-keys"
    subprocess.run([*CLI, "authority", "init", "--keys", str(other_key)], check=True, capture_output=True,
                   env=authority.env, timeout=60)
    foreign = authority.cli("issue", "--keys", str(other_key), "--serial", serial, "--owner", "Example Site",
                            "--org", "Example Org", "--named", "25").stdout
    no_named = authority.cli("issue", "--serial", serial, "--owner", "Example Site", "--org", "Example Org",
                             "--named", "0", "--document", "100").stdout
    another = authority.create_site("--named", "3")
    another_lef = authority.api("GET", f"/api/v1/sites/{another['serial']}/lef").text
    wrong_control = f"{(int(site['control']) + 1) % 100000:05d}"
    unknown = "1234567812345678"

    attempts = [
        (apply_body(site, control=wrong_control), "control_number_mismatch"),
        (apply_body(site, serial=unknown, control=control_number(unknown)), "serial_not_found"),
        (apply_body(site, lef=lef.replace("NAMED_CALS;25;;", "NAMED_CALS;26;;")), "lef_signature_invalid"),
        (apply_body(site, lef=lef.replace("\n", "\r\n")), {"lef_signature_invalid", "lef_malformed"}),
        (apply_body(site, lef=lef.replace("Example Org;;;", "Example Org;;; ", 1)), "lef_signature_invalid"),
        (apply_body(site, lef=foreign), "lef_unknown_key"),
        (apply_body(site, lef=another_lef), "lef_serial_mismatch"),
        (apply_body(site, lef=no_named), "lef_no_named_cal"),
    ]
    for body, code in attempts:
        refused(call(server, "PUT", "/api/v1/license", json=body), 422, code)
        assert license_in_force(server) == before, body

    for terms, code in ((("--time-limit", "2020-01-31"), "license_expired"),
                        (("--maintenance-until", "2020-01-31"), "lef_maintenance_expired")):
        authority.cli("site", "set", serial, *terms)
        message = refused(call(server, "POST", "/api/v1/license/update"), 422, code)
        assert "2020-01-31" in message
        assert license_in_force(server) == before, body
        authority.cli("site", "set", serial, "--time-limit", "none", "--maintenance-until", "2027-12-31")
    assert call(server, "POST", "/api/v1/license/update").json()["updated"] is False


def test_a_decrease_from_the_authority_keeps_every_assignment_and_shows_the_excess(licensed, authority):
    server, site = licensed
    assert call(server, "POST", "/api/v1/cals/named", json={"users": "ACME\\a1;ACME\\a2;ACME\\a3"}).status_code == 200
    authority.cli("site", "set", site["serial"], "--named", "1")
    assert call(server, "POST", "/api/v1/license/update").json()["changes"] == {"named": "25 -> 1"}
    named = {p["cal_type"]: p for p in call(server, "GET", "/api/v1/cals").json()["pools"]}["named"]
    assert (named["in_license"], named["assigned"], named["excess"], named["free"]) == (1, 3, 2, 0)
    users = [c["user"] for c in call(server, "GET", "/api/v1/cals/named").json()["items"]]
    assert users == ["ACME\\a1", "ACME\\a2", "ACME\\a3"]
    refused(call(server, "POST", "/api/v1/cals/named", json={"users": "ACME\\a4"}), 409, "no_cal_available")


def test_a_stopped_authority_is_reported_as_unreachable_at_once_and_the_license_stays(licensed, authority):
    server, _ = licensed
    before = license_in_force(server)
    authority.stop()
    started = time.monotonic()
    message = refused(call(server, "POST", "/api/v1/license/update"), 502, "authority_unreachable")
    assert time.monotonic() - started < 3 and authority.url in message
    assert license_in_force(server) == before
    done = server.local_cli("license", "update", expect=1)
    assert "authority_unreachable" in done.stderr


def test_after_a_key_rotation_the_site_pins_the_new_key_and_updates(licensed, authority, tmp_path):
    server, site = licensed
    before = license_in_force(server)
    rotated = authority.cli("key", "rotate").stdout
    new_key = rotated.split("New signing key ")[1].split()[0]
    authority.cli("site", "add-cals", site["serial"], "--named", "5")
    message = refused(call(server, "POST", "/api/v1/license/update"), 422, "lef_unknown_key")
    assert new_key in message
    assert license_in_force(server) == before
    published = httpx.get(authority.url + "/keys", timeout=10).json()
    assert published["active"] == new_key and before["key_id"] in [k["key_id"] for k in published["keys"]]
    server.process.terminate()  # pins are read when the server starts: pin, then restart
    server.process.wait(timeout=15)
    pin_keys(server.data_dir, authority)
    with cal_server(server.data_dir, authority) as restarted:
        restarted.admin_token = server.admin_token
        assert license_in_force(restarted) == before  # the license signed with the old key stays in force
        update = call(restarted, "POST", "/api/v1/license/update").json()
        assert update["license"]["key_id"] == new_key
        assert update["changes"] == {"named": "25 -> 30", "signing key": f"{before['key_id']} -> {new_key}"}


def test_the_authority_prints_a_one_time_admin_token_and_makes_its_key_on_first_start(tmp_path):
    folder = tmp_path / "fresh-vendor"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALKEEPER_")}
    env.update({"CALKEEPER_AUTHORITY_DIR": str(folder), "PYTHONUNBUFFERED": "1"})
    port = free_port()
    process = subprocess.Popen([*CLI, "authority", "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    vendor = Authority(f"http://127.0.0.1:{port}", "", folder, env, process)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        token = next(line for line in lines if "Admin token (shown once):" in line).split(":", 1)[1].strip()
        assert any("New signing key" in line for line in lines)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(vendor.url + "/api/v1/sites", headers={"Authorization": f"Bearer {token}"},
                                   timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json() == []
        [private] = (folder / "keys").glob("*.key")
        assert private.stat().st_mode & 0o777 == 0o600
    finally:
        vendor.stop()
