"""An acknowledged change survives the process that made it being killed.

A child process assigns Named CALs one at a time through the Site API and prints each user's name
once the call has returned (the acknowledgement). The parent kills it with SIGKILL in the middle of the
burst, reopens the database, and finds every acknowledged user holding a Named CAL, and nothing
half-written: each CAL has its audit entry and each audit entry its CAL.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

import calkeeper
from calkeeper.authority.signing import SigningKey
from tests.kit import apply_license

ACKNOWLEDGED_BEFORE_THE_KILL = 40

ASSIGN_ONE_BY_ONE = textwrap.dedent(
    """
    import sys
    import calkeeper

    site = calkeeper.open_site(sys.argv[1], migrate_schema=False)
    for n in range(100_000):
        name = f"ACME\\\\burst{n:05d}"
        site.assign_named_cals(name)
        print(name, flush=True)
    """
)


def assign_until_killed(database_url: str) -> list[str]:
    """Run the burst in a child process, SIGKILL it mid-burst; return the names it acknowledged."""
    child = subprocess.Popen(
        [sys.executable, "-c", ASSIGN_ONE_BY_ONE, database_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None and child.stderr is not None
    acknowledged: list[str] = []
    try:
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_THE_KILL:
            line = child.stdout.readline()
            if not line:
                pytest.fail(f"the child stopped by itself: {child.stderr.read()[-2000:]}")
            acknowledged.append(line.rstrip("\n"))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    # names printed after the ones read above, before the kill, were acknowledged too
    rest = child.stdout.read()
    acknowledged += [line for line in rest.split("\n")[:-1]]  # the last piece has no newline: unfinished
    child.stdout.close()
    child.stderr.close()
    return acknowledged


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_every_acknowledged_assignment_survives_a_kill_mid_burst(
    backend, tmp_path: Path, key: SigningKey, request: pytest.FixtureRequest
):
    url = f"sqlite:///{tmp_path / 'calkeeper.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    with calkeeper.open_site(url, trusted_keys={key.key_id: key.private.public_key()}) as site:
        apply_license(site, key, named=100_000, document=0, session=0, usage=0)

    acknowledged = assign_until_killed(url)

    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_THE_KILL
    with calkeeper.open_site(url) as site:
        held = {cal.user for cal in site.list_named_cals(limit=1000).items}
        assigned = {entry.target for entry in site.audit(limit=1000, action="named_cal.assigned")}
        with site.app.engine.connect() as connection:
            if backend == "sqlite":
                assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            users = set(connection.execute(sa.text("SELECT name FROM users")).scalars())
        site.assign_named_cals("ACME\\afterwards")  # and the database takes changes again
    assert set(acknowledged) <= held
    # at most the one assignment in flight when the kill came committed without being acknowledged
    assert len(held) - len(acknowledged) in {0, 1}
    # nothing half-written: a CAL, its audit entry and its user are one transaction
    assert assigned == held
    assert held <= users
