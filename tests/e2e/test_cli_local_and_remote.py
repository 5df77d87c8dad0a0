"""Every command of a site prints the same on a local data dir and against a server of the same data.

Each test copies one demo site twice: the CLI works on one copy with ``--data-dir``, and on the other
through a ``calkeeper serve`` of it with ``--server URL --token T``. Every command runs on both, in
the same order, so the copies change alike; the outputs (stdout, stderr, exit code), with and
without ``--json``, must be equal once normalised (see ``Normaliser``). The CLI runs in this
process (Typer's runner) so that a hundred commands take seconds; the server is a real process.
"""

from __future__ import annotations

import getpass
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from calkeeper.cli.main import app
from calkeeper.core.serials import control_number
from calkeeper.demo import DEMO_ORGANIZATION, DEMO_OWNER, DEMO_SERIAL
from tests.e2e.servers import RunningServer, running_server

TOKEN_NAME = "e2e-admin"
WIDE = {"COLUMNS": "2000"}  # one table row per line, whatever the terminal running the tests


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


@dataclass(frozen=True)
class Per:
    """An argument that differs by side (a session id each side was given, say)."""

    local: str
    remote: str


TIME = re.compile(r"\b\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)?")


class Normaliser:
    """Replace what must differ between the two runs of a command, and nothing else.

    - Where each copy lives (``<side>``): the two copies are two folders.
    - The file a backup was written to or read from: the CLI's own file locally; remotely, the server
      writes or reads a temporary copy in its backups folder (the audit trail names that one).
    - API token secrets and session ids: random on each side.
    - Who did it: the audit trail names the local user ``cli:USER`` locally and the token ``token:NAME``
      on a server; what the site does of itself meanwhile (noticing a missing document) is recorded
      under the site's own name: the local user again, ``api`` on a server.
    - Times that differ between the sides by no more than the runs took (each side runs a command at
      its own moment), and how long ago something was. Times from the copied data are the same on
      both sides, so they are compared as they are.
    - The padding of table columns, which follows the widest cell, so changes with the values above.
    """

    def __init__(self, sides: list[Path], since: datetime) -> None:
        self.sides, self.since = sides, since
        self.actors = [f"cli:{getpass.getuser()}", f"token:{TOKEN_NAME}"]

    def pair(self, local: str, remote: str) -> tuple[str, str]:
        """The two outputs of one command, normalised."""
        local, remote = self._times(self._text(local), self._text(remote))
        # A table's column is as wide as its widest cell: a value replaced above changes the padding.
        return tuple(re.sub(r" {2,}", " ", re.sub(r"([━─])\1+", r"\1", text)) for text in (local, remote))

    def _text(self, text: str) -> str:
        for side in self.sides:
            text = text.replace(str(side), "<side>")
        text = re.sub(r"<side>/(work/[\w.-]+\.json|site/backups/\.api-(backup|restore)-\w+\.tmp)", "<backup file>",
                      text)
        text = re.sub(r"before-clear-\d{8}T\d{6,12}Z", "before-clear-<time>", text)
        text = re.sub(r"\bck_[\w-]{20,}", "<secret>", text)
        text = re.sub(r"\b[NDSU]-[0-9a-f]{32}\b", "<session>", text)
        for actor in self.actors:
            text = text.replace(actor, "<actor>")
        text = re.sub(r'(?<=│ )api(?= +│)|(?<="actor": ")api(?=")', "<actor>", text)
        return re.sub(r"\((just now|\d+ (d|h|min) ago|in \d+ (d|h|min))\)", "(<how long>)", text)

    def _times(self, local: str, remote: str) -> tuple[str, str]:
        ours, theirs = TIME.findall(local), TIME.findall(remote)
        if len(ours) != len(theirs):
            return local, remote  # the texts differ anyway: show them as they are
        now = datetime.now(UTC)
        slack = now - self.since + timedelta(minutes=1)  # minutes are shown cut, not rounded
        if now.date() != self.since.date():  # a day shown alone changed while the commands ran
            slack = max(slack, timedelta(days=1))
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if a != b and abs(_moment(a) - _moment(b)) <= slack:
                ours[i] = theirs[i] = "<time of the run>"
        return _put_back(TIME.split(local), ours), _put_back(TIME.split(remote), theirs)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=UTC)


def _put_back(between: list[str], times: list[str]) -> str:
    return "".join(part for pair in zip(between, [*times, ""], strict=True) for part in pair)


class Sides:
    """One site in two copies: the CLI on a local data dir, and the CLI against a server of the other."""

    def __init__(self, root: Path, server: RunningServer, normalise: Normaliser) -> None:
        self.root, self.server, self.normalise = root, server, normalise
        self.runner = CliRunner()

    def site_args(self, side: str) -> list[str]:
        if side == "local":
            return ["--data-dir", str(self.root / "local" / "site")]
        return ["--server", self.server.url, "--token", self.server.admin_token]

    def work(self, side: str) -> Path:
        return self.root / side / "work"

    def run(self, side: str, *args: str | Per, stdin: str | None = None) -> Run:
        words = [getattr(a, side) if isinstance(a, Per) else a for a in args]
        words = [w.replace("{work}", str(self.work(side))).replace("{site}", str(self.root / side / "site"))
                 for w in words]
        done = self.runner.invoke(app, [*self.site_args(side), *words], input=stdin, env=WIDE)
        if done.exception is not None and not isinstance(done.exception, SystemExit):
            raise done.exception
        return Run(done.exit_code, done.stdout, done.stderr)

    def both(self, *args: str | Per, stdin: str | None = None, expect: int = 0) -> tuple[Run, Run]:
        """Run a command on both sides; its two outputs must be the same, and its exit code ``expect``."""
        local, remote = self.run("local", *args, stdin=stdin), self.run("remote", *args, stdin=stdin)
        shown = " ".join(a if isinstance(a, str) else "<per side>" for a in args)
        assert (local.code, remote.code) == (expect, expect), (
            f"calkeeper {shown}: exit codes local {local.code}, remote {remote.code}, expected {expect}\n"
            f"local: {local.stdout}{local.stderr}\nremote: {remote.stdout}{remote.stderr}")
        ours, theirs = self.normalise.pair(local.stdout, remote.stdout)
        assert ours == theirs, f"calkeeper {shown}: stdout differs"
        ours, theirs = self.normalise.pair(local.stderr, remote.stderr)
        assert ours == theirs, f"calkeeper {shown}: stderr differs"
        return local, remote

    def each(self, *args: str | Per, expect: int = 0) -> tuple[Run, Run]:
        """Run a command with and without --json on both sides (the JSON run last)."""
        self.both(*args, expect=expect)
        return self.both(*args, "--json", expect=expect)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo site with an admin token, to copy: setting it up takes longer than copying it."""
    folder = tmp_path_factory.mktemp("demo") / "site"
    runner = CliRunner()
    assert runner.invoke(app, ["--data-dir", str(folder), "demo"]).exit_code == 0
    made = runner.invoke(app, ["--data-dir", str(folder), "token", "create", "--role", "admin", "--name", TOKEN_NAME,
                               "--json"])
    assert made.exit_code == 0, made.output
    return folder, str(json.loads(made.stdout)["secret"])


@pytest.fixture
def sides(tmp_path: Path, template: tuple[Path, str]) -> Iterator[Sides]:
    folder, token = template
    since = datetime.now(UTC)
    for side in ("local", "remote"):
        shutil.copytree(folder, tmp_path / side / "site")
        (tmp_path / side / "work").mkdir()
    normalise = Normaliser([tmp_path / "local", tmp_path / "remote"], since)
    # no usage history on the server: its upkeep's minute-by-minute pool peaks are rows the local side
    # (which runs no upkeep) would not have, and backups count them; nor its upkeep's look at the root
    # folder, which would find a file the tests remove before the listing does (and under its own name)
    with running_server(tmp_path / "remote" / "site", demo=False, admin_token=token,
                        extra_env={"CALKEEPER_HISTORY_ENABLED": "false",
                                   "CALKEEPER_DOCUMENT_SCAN_SECONDS": "86400"}) as server:
        yield Sides(tmp_path, server, normalise)


def session_ids(runs: tuple[Run, Run]) -> Per:
    local, remote = (run.json() for run in runs)
    return Per(local["session_id"], remote["session_id"])  # type: ignore[index]


def test_the_license_pools_documents_users_and_history_print_the_same(sides: Sides) -> None:
    sides.each("license", "show")
    sides.both("license", "show", "--lef")
    sides.each("license", "history")
    apply = ("license", "apply", "--serial", DEMO_SERIAL, "--control", control_number(DEMO_SERIAL), "--owner",
             DEMO_OWNER, "--org", DEMO_ORGANIZATION, "--lef")
    sides.each(*apply, "{site}/authority/demo-license.lef")  # the license in force, applied again
    sides.each(*apply[:5], "00000", *apply[6:], "{site}/authority/demo-license.lef", expect=1)
    sides.each("license", "update", expect=2)  # no license authority is configured
    sides.each("license", "history")
    sides.each("cal", "show")
    sides.each("cal", "list")
    sides.each("cal", "list", "--limit", "1")
    sides.each("cal", "list", "--search", "bob")
    sides.each("doc", "list")
    sides.each("doc", "problems")  # none
    sides.each("doc", "users", "SalesFlash.qvw")
    sides.each("doc", "users", "salesflash")
    sides.each("user", "ACME\\rep1")
    sides.each("user", "ACME\\nobody")
    sides.each("audit")
    sides.each("audit", "--action", "named_cal.assigned", "--limit", "1")
    sides.each("denials")
    sides.each("token", "list")
    sides.each("admin", "list")
    sides.each("doc", "users", "Nope.qvw", expect=2)


def test_assigning_removing_and_opening_prints_the_same(sides: Sides) -> None:
    sides.each("cal", "settings", "--no-dynamic", "--identify", "user")
    sides.each("cal", "settings", "--dynamic")
    sides.each("cal", "assign", "ACME\\dan;ACME\\erin")  # the JSON run: "already assigned"
    sides.each("cal", "assign", "ACME\\fay;not-a-user", expect=2)
    sides.each("open", "ACME\\dan", "SalesFlash.qvw", "--machine", "PC-1")
    sides.both("cal", "remove", "ACME\\dan;ACME\\erin")  # dan was used: quarantined; erin: freed
    sides.each("cal", "remove", "ACME\\dan;ACME\\erin", expect=2)  # erin holds none: nothing is removed
    sides.both("cal", "restore", "ACME\\dan")
    sides.both("cal", "remove", "ACME\\dan", "--json")
    sides.both("cal", "restore", "acme\\DAN", "--json")
    sides.each("cal", "restore", "ACME\\dan", expect=1)
    sides.each("cal", "remove", "ACME\\dan;bad name", expect=2)
    sides.both("doc", "allocate", "Contract Analytix.qvw", "2")
    sides.both("doc", "allocate", "Contract Analytix.qvw", "3", "--json")
    sides.each("doc", "allocate", "Contract Analytix.qvw", "1000", expect=1)
    sides.each("doc", "allocate", "Contract Analytix.qvw", "-1", expect=2)
    sides.each("doc", "dynamic", "Contract Analytix.qvw", "on")
    sides.each("doc", "dynamic", "Contract Analytix.qvw", "off")
    sides.each("doc", "assign", "Contract Analytix.qvw", "ACME\\x1;ACME\\x2;ACME\\x3")
    sides.each("doc", "assign", "Contract Analytix.qvw", "ACME\\x4", expect=1)
    sides.each("open", "ACME\\x1", "Contract Analytix.qvw", "--machine", "PC-2", "--client", "desktop")
    sides.both("open", "ACME\\x2", "Contract Analytix.qvw", "--machine", "PC-5")
    sides.both("doc", "remove", "Contract Analytix.qvw", "ACME\\x1;ACME\\x2")
    sides.both("doc", "remove", "Contract Analytix.qvw", "ACME\\x3", "--json")
    sides.each("doc", "remove", "Contract Analytix.qvw", "ACME\\x3;ACME\\x9", expect=2)
    sides.both("doc", "restore", "Contract Analytix.qvw", "ACME\\x1")
    sides.both("doc", "restore", "Contract Analytix.qvw", "ACME\\x2", "--json")
    sides.each("doc", "restore", "Contract Analytix.qvw", "ACME\\x3", expect=1)
    sides.each("doc", "users", "Contract Analytix.qvw")
    granted = sides.both("open", "ACME\\walkin", "AR Analytix.qvw", "--machine", "PC-3", "--json")
    sides.each("user", "ACME\\walkin")
    sides.each("close", session_ids(granted))
    sides.each("close", "S-00000000000000000000000000000000", expect=2)
    sides.each("open", "", "Advertising Analytix.qvw", "--machine", "PC-4")
    sides.each("open", "ACME\\rep1", "Nope.qvw", expect=2)
    for side in ("local", "remote"):  # a document goes missing from each copy's root folder, two cannot be served
        (sides.root / side / "site" / "documents" / "AR Analytix.qvw").unlink()
        (sides.root / side / "site" / "documents" / "Advertising Analytix.qvw").unlink()
        (sides.root / side / "site" / "documents" / " Budget.qvw").write_bytes(b"QVW")
        (sides.root / side / "site" / "documents" / "salesflash.QVW").write_bytes(b"QVW")
    sides.each("doc", "list")  # looks at the root folder again
    sides.each("doc", "problems")
    sides.each("open", "ACME\\carol", "AR Analytix.qvw", expect=1)
    sides.each("doc", "release", "SalesFlash.qvw", expect=2)
    sides.both("doc", "release", "AR Analytix.qvw")
    sides.both("doc", "release", "Advertising Analytix.qvw", "--json")
    sides.each("doc", "release", "AR Analytix.qvw", expect=2)
    sides.each("denials")
    sides.each("denials", "--limit", "1")
    sides.each("cal", "show")
    sides.each("cal", "list")
    sides.each("audit", "--limit", "100")


def test_backup_restore_clearing_tokens_and_console_users_print_the_same(sides: Sides) -> None:
    sides.each("backup", "{work}/backup.json")
    sides.each("cal", "assign", "ACME\\gus")
    sides.each("restore", "{work}/backup.json")
    sides.each("cal", "list")
    sides.each("restore", "{work}/nowhere.json", expect=1)
    (sides.work("local") / "damaged.json").write_text('{"format": "calkeeper-backup", "version": 1, "tables": {}}')
    shutil.copy(sides.work("local") / "damaged.json", sides.work("remote") / "damaged.json")
    sides.each("restore", "{work}/damaged.json", expect=1)
    sides.both("clear-cal-data", "--yes")
    sides.each("cal", "list")
    sides.both("clear-cal-data", "--yes", "--json")
    sides.both("token", "create", "--role", "viewer", "--name", "reports")
    sides.both("token", "create", "--role", "viewer", "--name", "reports-2", "--json")  # names are unique
    sides.each("token", "create", "--role", "owner", "--name", "nope", expect=2)
    sides.each("token", "list")
    sides.both("token", "revoke", "reports")
    sides.both("token", "revoke", "reports", expect=2)
    sides.both("admin", "create", "--username", "carla", "--role", "viewer", "--password-stdin",
               stdin="correct horse battery\n")
    sides.both("admin", "create", "--username", "carla", "--password-stdin", stdin="short\n", expect=2)
    sides.both("admin", "create", "--username", "carla", "--password-stdin", stdin="correct horse battery\n",
               expect=2)
    sides.both("admin", "create", "--username", "carla", "--replace", "--password-stdin",
               stdin="another long secret\n")
    sides.each("admin", "list")
    sides.each("audit", "--limit", "100")


def test_a_token_is_revoked_by_its_name_even_one_like_a_number_and_by_id_only_with_id(sides: Sides) -> None:
    sides.both("token", "create", "--role", "viewer", "--name", "reports")
    sides.both("token", "create", "--role", "viewer", "--name", "1")  # the admin token this CLI uses has id 1
    sides.both("token", "create", "--role", "viewer", "--name", "reports", expect=2)
    sides.both("token", "revoke", "1")
    sides.both("token", "revoke", "2", expect=2)  # no token is named '2': the one with id 2 stays
    sides.both("token", "revoke", "--id", "two", expect=2)
    sides.both("token", "revoke", "--id", "2")
    sides.each("token", "list")
    sides.each("audit", "--action", "token.revoked")


def test_console_users_are_disabled_enabled_signed_out_and_deleted_the_same(sides: Sides) -> None:
    for name, role in (("carla", "admin"), ("vic", "viewer")):
        sides.both("admin", "create", "--username", name, "--role", role, "--password-stdin",
                   stdin="a long and odd phrase\n")
    sides.both("admin", "create", "--username", "dora", "--password-stdin", stdin="password1234\n", expect=2)
    sides.both("admin", "create", "--username", "dora.berger", "--password-stdin", stdin="Dora.Berger\n", expect=2)
    sides.each("admin", "disable", "vic")
    sides.each("admin", "list")
    sides.each("admin", "enable", "vic")
    sides.each("admin", "end-sessions", "carla")
    sides.each("admin", "disable", "carla", expect=1)  # the last enabled admin
    sides.each("admin", "disable", "nobody", expect=2)
    sides.both("admin", "delete", "vic", "--yes")
    sides.both("admin", "delete", "vic", "--yes", "--json", expect=2)
    sides.each("admin", "list")
    sides.each("audit", "--action", "console_user.disabled")
