"""Test helpers: signing keys, signed LEFs, sites on SQLite or PostgreSQL, throwaway databases."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import calkeeper
from calkeeper.authority.signing import SigningKey, create_key, make_lef, sign_lef
from calkeeper.core.serials import control_number, new_serial

ANALYTIX = ["Advertising Analytix.qvw", "SalesFlash.qvw", "AR Analytix.qvw", "Contract Analytix.qvw"]
PG_ADMIN_URL = os.environ.get("CALKEEPER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def signed_lef(
    key: SigningKey,
    serial: str,
    *,
    named: int = 5,
    document: int = 20,
    session: int = 5,
    usage: int = 28,
    maintenance_until: date | None = date(2027, 12, 31),
    time_limit: date | None = None,
    lease: bool = True,
    owner: str = "Example Site",
    organization: str = "Example Org",
    lease_key: Ed25519PublicKey | None = None,
) -> str:
    """A LEF signed by ``key`` (vouching for a site's ``lease_key`` when given)."""
    return sign_lef(
        make_lef(serial=serial, owner=owner, organization=organization, named=named, document=document,
                 session=session, usage=usage, maintenance_until=maintenance_until, time_limit=time_limit,
                 lease=lease, lease_key=lease_key),
        key,
    )


def apply_license(site: calkeeper.LocalSite, key: SigningKey, serial: str | None = None, **counts: object) -> str:
    """Apply a freshly signed license to a site and return its serial."""
    serial = serial or new_serial()
    site.apply_license(serial=serial, control=control_number(serial), owner="Example Site",
                       organization="Example Org", lef=signed_lef(key, serial, **counts))  # type: ignore[arg-type]
    return serial


def make_root(folder: Path, documents: list[str] = ANALYTIX) -> Path:
    """A root folder holding the given documents."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in documents:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"QVW")
    return folder


def new_key(folder: Path) -> SigningKey:
    return create_key(folder)


_TEMPLATES: dict[str, str] = {}


def _migrated_template(kind: str) -> str:
    """A database migrated once per test process, copied for each test (migrating each one is slow)."""
    if kind in _TEMPLATES:
        return _TEMPLATES[kind]
    from calkeeper.infra.database import make_engine
    from calkeeper.store.engine import migrate

    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="calkeeper-template-"))
        atexit.register(shutil.rmtree, folder, True)
        url = f"sqlite:///{folder / 'template.db'}"
        engine = make_engine(url)
        migrate(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        _TEMPLATES[kind] = str(folder / "template.db")
    else:
        name = f"calkeeper_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        engine = make_engine(sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
        migrate(engine)
        engine.dispose()
        atexit.register(_drop_database, name)
        _TEMPLATES[kind] = name
    return _TEMPLATES[kind]


def _drop_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def sqlite_database(folder: Path) -> str:
    """A migrated SQLite database in the folder, copied from the process's template."""
    target = folder / "calkeeper.db"
    shutil.copyfile(_migrated_template("sqlite"), target)
    return f"sqlite:///{target}"


@contextmanager
def postgres_database(*, migrated: bool = True) -> Iterator[str]:
    """Create a fresh PostgreSQL database for one test (migrated, from a template) and drop it after."""
    name = f"calkeeper_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_migrated_template("postgres")}"' if migrated else ""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"{template}')
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        _drop_database(name)
        admin.dispose()


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False
