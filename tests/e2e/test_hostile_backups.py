"""A hostile backup over every edge: the API, the CLI and the console answer a clean refusal, never a
traceback or a 500, and the site stays as it was."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from calkeeper.authority.signing import load_signing_key, make_lef, sign_lef
from calkeeper.store.backup import digest_of
from tests.e2e.api_site import Api, error_of

NESTED = b"[" * 100_000 + b"]" * 100_000
HUGE_INTEGER = b'{"format": "calkeeper-backup", "version": 2, "size": 1' + b"0" * 5000 + b"}"
NOT_UTF8 = b'{"format": "calkeeper-backup", "version": 2, "x": "\xff"}'


def sealed(content: dict) -> bytes:
    """A backup edited and sealed with a fresh digest, as a careful forger would."""
    return json.dumps({**content, "digest": digest_of(content)}).encode()


def with_a_30_digit_lef(api: Api) -> bytes:
    """The site's own backup whose license is a LEF, signed by the vendor's key, granting 10**30 Named CALs."""
    content = json.loads(api.get("/api/v1/backup").content)
    key = load_signing_key(api.settings.authority_keys_dir)
    [license] = content["tables"]["licenses"]
    license["lef_text"] = sign_lef(make_lef(serial=license["serial"], owner=license["owner"],
                                            organization=license["organization"], named=10**30,
                                            maintenance_until=date(2027, 12, 31)), key)
    return sealed(content)


def with_a_script_user(api: Api) -> bytes:
    content = json.loads(api.get("/api/v1/backup").content)
    content["tables"]["named_cals"][0].update(identity_name="<script>x</script>", identity_key="<script>x</script>")
    return sealed(content)


def with_a_lone_surrogate(api: Api) -> bytes:
    content = json.loads(api.get("/api/v1/backup").content)
    content["tables"]["named_cals"][0].update(identity_name="ACME\\\ud800", identity_key="acme\\\ud800")
    return sealed(content)


HOSTILE = {
    "nested": (lambda api: NESTED, "backup_invalid"),
    "huge integer": (lambda api: HUGE_INTEGER, "backup_invalid"),
    "not UTF-8": (lambda api: NOT_UTF8, "backup_invalid"),
    "30-digit LEF": (with_a_30_digit_lef, "lef_malformed"),
    "script user": (with_a_script_user, "backup_invalid"),
    "lone surrogate": (with_a_lone_surrogate, "backup_invalid"),
}


@pytest.mark.parametrize(("body", "code"), HOSTILE.values(), ids=HOSTILE.keys())
def test_the_api_answers_a_hostile_backup_with_422_and_its_code(api: Api, body, code: str) -> None:
    before = api.ok("GET", "/api/v1/cals/named")
    error_of(api.post("/api/v1/restore", content=body(api)), 422, code)
    assert api.ok("GET", "/api/v1/cals/named") == before
    assert [p.name for p in api.settings.backups_dir.iterdir()] == []


def test_the_cli_refuses_hostile_backups_with_its_message_and_no_traceback(tmp_path: Path, template: Path) -> None:
    data = tmp_path / "site"
    shutil.copytree(template, data)
    env = {**os.environ, "CALKEEPER_DATA_DIR": str(data), "COLUMNS": "200"}
    env.pop("CALKEEPER_DATABASE_URL", None)
    for name, content in (("nested", NESTED), ("huge", HUGE_INTEGER), ("binary", NOT_UTF8)):
        hostile = tmp_path / f"{name}.json"
        hostile.write_bytes(content)
        done = subprocess.run([sys.executable, "-m", "calkeeper.cli", "restore", str(hostile)], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and str(hostile) in done.stderr


def test_the_console_refuses_a_hostile_backup_with_a_message(api: Api) -> None:
    api.site.create_console_user(username="keeper", password="a long console password", role="admin")
    sign_in = api.client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', sign_in.text)
    assert token is not None
    api.client.post("/sign-in", data={"username": "keeper", "password": "a long console password",
                                      "csrf_token": token.group(1)})
    page = api.client.get("/maintenance/clear")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and token is not None
    api.settings.backups_dir.mkdir(parents=True, exist_ok=True)
    (api.settings.backups_dir / "hostile.json").write_bytes(NESTED)
    answer = api.client.post("/maintenance/restore", data={"backup": "hostile.json", "csrf_token": token.group(1)})
    assert answer.status_code == 409  # the page again, the backup still chosen, with why it was refused
    assert "Nothing was restored" in answer.text and "nested far deeper than a backup" in answer.text
