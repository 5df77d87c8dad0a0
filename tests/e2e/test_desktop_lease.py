"""The desktop client's license lease end to end: a real ``calkeeper serve`` process, and ``calkeeper desktop``
as its client (machines and clocks simulated through the client's Python API): lease, status offline, renew,
two machines then a third refused, end and revoke, Named CAL removed, expiry and clock set back, leasing off
by setting and by LEF, and a lease from another site's server refused."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from calkeeper.authority.signing import load_signing_key, make_lef, sign_lef
from calkeeper.cli import desktop_cmds
from calkeeper.cli.main import app
from calkeeper.client.desktop import DesktopClient, this_machine
from calkeeper.demo import DEMO_ORGANIZATION, DEMO_OWNER, DEMO_SERIAL
from calkeeper.infra.lease_key import load_or_create_lease_key
from tests.e2e.servers import RunningServer, running_server

PASSWORD = "correct-horse-battery-staple"
USERS = f"""user,display_name,password,groups
ACME\\dev1,Dev One,{PASSWORD},Developers
ACME\\dev2,Dev Two,{PASSWORD},Developers
"""


class Desktop:
    """One simulated machine running ``calkeeper desktop``: its own folder, machine id and clock."""

    def __init__(self, folder: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
        folder.mkdir(parents=True)
        (folder / "machine-id").write_text(f"{abs(hash(name)):032x}\n")
        self.folder, self.name, self.monkeypatch = folder / "desktop", name, monkeypatch
        self.machine = this_machine(machine_id_file=folder / "machine-id", host_name=name)
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __call__(self, *args: str, stdin: str | None = None, expect: int = 0) -> str:
        client = DesktopClient(self.folder, machine=self.machine, clock=lambda: self.now())
        self.monkeypatch.setattr(desktop_cmds, "client_factory", lambda: client)
        done = CliRunner().invoke(app, ["desktop", *args], input=stdin)
        assert done.exit_code == expect, f"{args}: {done.exit_code}\n{done.output}\n{done.exception!r}"
        return done.output

    def lease(self, url: str, user: str = "ACME\\dev1", expect: int = 0, *extra: str) -> str:
        return self("open-in-server", url, "--alternate-identity", user, "--password-stdin", *extra,
                    stdin=PASSWORD + "\n", expect=expect)

    def status(self, expect: int = 0) -> dict[str, object]:
        found: dict[str, object] = json.loads(self("status", "--json", expect=expect))
        return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("lease-site")
    with running_server(folder / "site") as running:
        users = folder / "users.csv"
        users.write_text(USERS)
        running.cli("users", "import", str(users))
        running.cli("cal", "assign", "ACME\\dev1;ACME\\dev2")
        yield running


@pytest.fixture
def machines(tmp_path: Path, server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> list[Desktop]:
    # the server lives for the module: each test starts with no live lease, whatever ran before it
    for lease in json.loads(server.cli("lease", "list", "--live", "--json").stdout):
        server.cli("lease", "end", lease["lease_id"])
    vendor_key = next((server.data_dir / "trusted-keys").glob("*.pub"))
    found = [Desktop(tmp_path / f"pc{n}", f"PC-{n}", monkeypatch) for n in (1, 2, 3)]
    for desktop in found:
        assert "Trusted the vendor's key" in desktop("trust", str(vendor_key))
    return found


def leases(server: RunningServer, *args: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = json.loads(server.cli("lease", "list", "--json", *args).stdout)
    return found


def test_lease_status_renew_two_machines_end_revoke_and_named_cal_removed(server, machines):
    pc1, pc2, pc3 = machines
    assert "no lease" in pc1("status", expect=1)
    said = pc1.lease(server.url, "ACME\\dev1", 0, "--open", "SalesFlash.qvw")
    assert "Opened SalesFlash.qvw" in said and "Lease received for PC-1" in said
    status = pc1.status()
    assert status["licensed"] is True and status["user"] == "ACME\\dev1" and status["days_left"] == 30
    assert f"Licensed: lease from {server.url} for ACME\\dev1 on this machine" in pc1("status")
    assert (pc1.folder / "lease").stat().st_mode & 0o077 == 0
    assert "Lease renewed for PC-1" in pc1.lease(server.url)

    wrong = pc1("open-in-server", server.url, "-u", "ACME\\dev1", "--password-stdin", stdin="wrong\n", expect=1)
    assert "sign_in_refused" in wrong

    pc2.lease(server.url)
    refused = pc3.lease(server.url, "ACME\\dev1", 1)
    assert "lease_machines_full" in refused and "PC-1" in refused and "PC-2" in refused
    assert pc3.status(expect=1)["code"] == "lease_missing"

    live = leases(server, "--user", "ACME\\dev1", "--live")
    assert sorted(row["machine"] for row in live) == ["PC-1", "PC-2"]
    first = next(row for row in live if row["machine"] == "PC-1")
    assert "is ended" in server.cli("lease", "end", str(first["lease_id"])).stdout
    pc3.lease(server.url)  # the freed place

    assert "Revoked 2 leases" in server.cli("lease", "revoke", "ACME\\dev1").stdout
    assert "lease_revoked" in pc2.lease(server.url, "ACME\\dev1", 1)
    gone = pc2.status(expect=1)
    assert gone["code"] == "lease_revoked" and "revoked" in str(gone["message"])

    assert "lease_revoked" in pc3.lease(server.url, "ACME\\dev1", 1)  # each machine hears it once
    pc3.lease(server.url)  # then a new connection may lease again, while the user holds a Named CAL
    server.cli("cal", "remove", "ACME\\dev1")  # used today: marked for removal, quarantined
    assert "marked for removal" in pc3.lease(server.url, "ACME\\dev1", 1)
    assert pc3.status()["licensed"] is True  # the current lease runs out


def test_expiry_and_a_clock_set_back_are_seen_offline(server, machines):
    pc = machines[0]
    pc.lease(server.url, "ACME\\dev2")
    start = datetime.now(UTC)
    pc.now = lambda: start + timedelta(days=10)
    assert pc.status()["days_left"] == 20
    pc.now = lambda: start + timedelta(days=2)
    set_back = pc.status(expect=1)
    assert set_back["code"] == "lease_clock_set_back"
    pc.now = lambda: start + timedelta(days=31)
    assert pc.status(expect=1)["code"] == "lease_expired"
    assert "Not licensed (Personal Edition)" in pc("status", expect=1)


def test_leasing_off_by_the_setting_and_by_the_lef(server, machines):
    pc = machines[1]
    server.cli("cal", "settings", "--no-lease")
    assert "Allow license lease" in pc.lease(server.url, "ACME\\dev2", 1)
    server.cli("cal", "settings", "--lease")
    pc.lease(server.url, "ACME\\dev2")

    vendor = load_signing_key(server.data_dir / "authority" / "keys")
    site_key = load_or_create_lease_key(server.data_dir / "lease-key" / "lease.key").public_key()

    def apply(lease: bool) -> None:
        lef = server.data_dir.parent / f"lease-{lease}.lef"
        lef.write_text(sign_lef(make_lef(serial=DEMO_SERIAL, owner=DEMO_OWNER, organization=DEMO_ORGANIZATION,
                                         named=5, document=20, session=5, usage=28,
                                         maintenance_until=date(2027, 12, 31), lease=lease, lease_key=site_key),
                                vendor), newline="")
        from calkeeper.core.serials import control_number

        server.cli("license", "apply", "--serial", DEMO_SERIAL, "--control", control_number(DEMO_SERIAL), "--owner",
                   DEMO_OWNER, "--org", DEMO_ORGANIZATION, "--lef", str(lef))

    apply(False)
    try:
        assert "LICENSE_LEASE;NO" in pc.lease(server.url, "ACME\\dev2", 1)
        assert pc.status()["licensed"] is True  # the lease it holds runs out as usual
    finally:
        apply(True)
    pc.lease(server.url, "ACME\\dev2")


def test_a_lease_from_another_sites_server_is_refused_and_the_lease_held_stays(server, machines, tmp_path):
    pc = machines[2]
    pc.lease(server.url, "ACME\\dev2")
    with running_server(tmp_path / "other-site") as other:  # licensed by another vendor's key
        users = tmp_path / "users.csv"
        users.write_text(USERS)
        other.cli("users", "import", str(users))
        other.cli("cal", "assign", "ACME\\dev2")
        said = pc.lease(other.url, "ACME\\dev2", 1)
        assert "lease_lef_untrusted" in said and "not signed by the vendor" in said
    status = pc.status()
    assert status["licensed"] is True and status["server"] == server.url
