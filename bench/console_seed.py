"""A demo site grown to a large site's size, by bulk SQL: the console's browser tests and its benchmark use it.

    seed_at_scale(site, keys_dir, named=10_000, holders=10_000)

The license grows to hold them; ``SCALE\\user00001``... hold Named CALs (every fifth one assigned dynamically,
every third one last used 90 days ago, every hundredth one quarantined for 7 days), and ``SCALE\\rep00001``...
hold Document CALs of ``SalesFlash.qvw``, whose allocation grows to fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from calkeeper.authority.signing import load_signing_key, make_lef, sign_lef
from calkeeper.core.documents import document_key
from calkeeper.core.identities import user_key
from calkeeper.demo import DEMO_ORGANIZATION, DEMO_OWNER
from calkeeper.site import LocalSite
from calkeeper.store import counters
from calkeeper.store.schema import Document, DocumentCal, NamedCal, User

SCALE_DOCUMENT = "SalesFlash.qvw"
BATCH = 10_000


@dataclass(frozen=True)
class Seeded:
    named: int
    holders: int
    quarantined: int
    dynamic: int
    unused: int  # last used 90 days ago


def named_user(n: int) -> str:
    return f"SCALE\\user{n:05d}"


def document_holder(n: int) -> str:
    return f"SCALE\\rep{n:05d}"


def seed_at_scale(site: LocalSite, keys_dir: Path, *, named: int, holders: int) -> Seeded:
    """Grow the site's license and fill it with ``named`` Named CALs and ``holders`` Document CALs."""
    license = site.license()
    assert license is not None, "the site needs a license to grow"
    lef = sign_lef(make_lef(serial=license.serial, owner=DEMO_OWNER, organization=DEMO_ORGANIZATION,
                            named=named + 5_000, document=holders + 500, session=5, usage=28,
                            maintenance_until=date(2027, 12, 31)), load_signing_key(keys_dir))
    site.apply_license(serial=license.serial, control=license.control, owner=license.owner,
                       organization=license.organization, lef=lef)
    now = site.app.clock.now()
    recent, old = now - timedelta(hours=2), now - timedelta(days=90)
    counts = {"quarantined": 0, "dynamic": 0, "unused": 0}

    def named_row(n: int) -> dict[str, object]:
        name = named_user(n)
        quarantined = n % 100 == 0
        counts["quarantined"] += quarantined
        counts["dynamic"] += n % 5 == 0
        counts["unused"] += n % 3 == 0
        return {"identity_kind": "user", "identity_key": user_key(name), "identity_name": name,
                "source": "dynamic" if n % 5 == 0 else "manual", "assigned_at": now - timedelta(days=120),
                "last_used": (old if n % 3 == 0 else recent) - timedelta(seconds=n),  # each user's own time
                "removed_at": now if quarantined else None,
                "quarantined_until": now + timedelta(days=7) if quarantined else None}

    with site.app.engine.begin() as conn:
        doc_id = conn.execute(sa.select(Document.id).where(
            Document.path_key == document_key(SCALE_DOCUMENT))).scalar_one()
        for first in range(1, named + 1, BATCH):
            numbers = range(first, min(first + BATCH, named + 1))
            conn.execute(sa.insert(User), [{"key": user_key(named_user(n)), "name": named_user(n),
                                            "first_seen": now} for n in numbers])
            conn.execute(sa.insert(NamedCal), [named_row(n) for n in numbers])
        for first in range(1, holders + 1, BATCH):
            numbers = range(first, min(first + BATCH, holders + 1))
            conn.execute(sa.insert(User), [{"key": user_key(document_holder(n)), "name": document_holder(n),
                                            "first_seen": now} for n in numbers])
            conn.execute(sa.insert(DocumentCal), [
                {"document_id": doc_id, "user_key": user_key(document_holder(n)), "user_name": document_holder(n),
                 "source": "manual", "assigned_at": now,
                 "last_used": recent - timedelta(seconds=n) if n % 2 else None} for n in numbers])
        counters.recount(conn)  # rows inserted in bulk are counted as the server's own claims count them
    site.update_document(SCALE_DOCUMENT, cals_allocated=holders + 50)
    return Seeded(named, holders, counts["quarantined"], counts["dynamic"], counts["unused"])

