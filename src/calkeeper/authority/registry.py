"""The license authority's use cases: the sites the vendor sold to, their purchases, and their LEFs.

Each public method is one transaction. The LEF a site fetches is written from the site's row at
that moment and signed with the active key, so it always reflects every purchase so far, and a key
rotation takes effect at the next fetch.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError

from calkeeper.authority.schema import events_t, sites_t
from calkeeper.authority.signing import load_signing_key, make_lef, sign_lef
from calkeeper.core import lef as lefs
from calkeeper.core.authority import SERIAL_NOT_FOUND
from calkeeper.core.clock import Clock, SystemClock
from calkeeper.core.errors import InvalidInput, NotFound
from calkeeper.core.keys import key_id_of, raw_public
from calkeeper.core.serials import control_number, new_serial

CAL_TYPES = ("named", "document", "session", "usage")
MAX_CALS = 10_000_000


class _Keep:
    """Marks a term ``change_site`` leaves as it is (None means "no date")."""


KEEP: Any = _Keep()


@dataclass(frozen=True)
class SiteRecord:
    """What the vendor knows about a site: who it is, what it bought, and when it last fetched its LEF."""

    serial: str
    control: str
    owner: str
    organization: str
    cals: dict[str, int]
    lease_allowed: bool
    time_limit: date | None
    maintenance_until: date | None
    lease_key_id: str | None
    created_at: datetime
    changed_at: datetime
    last_fetched_at: datetime | None
    last_fetched_from: str | None


@dataclass(frozen=True)
class SiteEvent:
    """One change to a site, as ``site history`` shows it."""

    at: datetime
    actor: str
    action: str
    details: dict[str, Any]


def not_found() -> NotFound:
    """The one answer for a serial and control number that match no site, whether the serial exists or not."""
    return NotFound(SERIAL_NOT_FOUND, code="serial_not_found")


class Registry:
    """The vendor's record of sites, and the LEFs it signs for them with the key folder's active key."""

    def __init__(self, engine: Engine, *, keys_dir: Path, clock: Clock | None = None) -> None:
        self.engine = engine
        self.keys_dir = keys_dir
        self.clock = clock or SystemClock()

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            connection = connection.execution_options(calkeeper_write=write)
            with connection.begin():
                yield connection

    # -- the vendor's side ------------------------------------------------------------------------

    def create_site(
        self, *, owner: str, organization: str, named: int, document: int = 0, session: int = 0, usage: int = 0,
        time_limit: date | None = None, maintenance_until: date | None = None, lease: bool = True,
        serial: str | None = None, actor: str,
    ) -> SiteRecord:
        """Record a new site and what it bought; it gets a new serial unless one is given."""
        owner, organization = _name(owner, "owner name"), _name(organization, "organization")
        counts = {"named": named, "document": document, "session": session, "usage": usage}
        _check_counts(counts)
        if serial is not None and not re.fullmatch(r"\d{16}", serial):
            raise InvalidInput(f"a serial number is 16 digits (got '{serial}')", code="invalid_serial")
        for _attempt in range(5):
            chosen = serial or new_serial()
            try:
                with self._tx() as tx:
                    if tx.execute(select(sites_t.c.serial).where(sites_t.c.serial == chosen)).first():
                        if serial is not None:
                            raise InvalidInput(f"the serial {serial} already belongs to a site", code="serial_taken")
                        continue
                    now = self.clock.now()
                    tx.execute(insert(sites_t).values(
                        serial=chosen, control=control_number(chosen), owner=owner, organization=organization,
                        **{f"{t}_cals": counts[t] for t in CAL_TYPES}, lease_allowed=lease, time_limit=time_limit,
                        maintenance_until=maintenance_until, created_at=now, changed_at=now))
                    _event(tx, chosen, now, actor, "created", owner=owner, organization=organization, **counts,
                           time_limit=time_limit, maintenance_until=maintenance_until, lease=lease)
                    return _record(_row(tx, chosen))
            except IntegrityError:
                if serial is not None:
                    raise InvalidInput(f"the serial {serial} already belongs to a site", code="serial_taken") from None
        raise InvalidInput("could not find a free serial number; try again")

    def add_cals(self, serial: str, *, named: int = 0, document: int = 0, session: int = 0, usage: int = 0,
                 actor: str) -> SiteRecord:
        """Record a purchase: CALs added to the site's counts (its next LEF holds them)."""
        added = {"named": named, "document": document, "session": session, "usage": usage}
        if any(n < 0 for n in added.values()) or not any(added.values()):
            raise InvalidInput("a purchase adds at least one CAL and no negative numbers; "
                               "use 'site set' to lower a count")
        with self._tx() as tx:
            row = _row(tx, serial, lock=True)
            counts = {t: row[f"{t}_cals"] + added[t] for t in CAL_TYPES}
            _check_counts(counts)
            now = self.clock.now()
            tx.execute(update(sites_t).where(sites_t.c.serial == row["serial"])
                       .values(**{f"{t}_cals": counts[t] for t in CAL_TYPES}, changed_at=now))
            _event(tx, row["serial"], now, actor, "cals_added", added={t: n for t, n in added.items() if n},
                   **{t: f"{row[f'{t}_cals']} -> {counts[t]}" for t in CAL_TYPES if added[t]})
            return _record(_row(tx, row["serial"]))

    def change_site(
        self, serial: str, *, named: int | None = None, document: int | None = None, session: int | None = None,
        usage: int | None = None, time_limit: date | None = KEEP, maintenance_until: date | None = KEEP,
        lease: bool | None = None, actor: str,
    ) -> SiteRecord:
        """Set a site's terms outright: CAL counts (a decrease too), time limit, maintenance end, leasing."""
        with self._tx() as tx:
            row = _row(tx, serial, lock=True)
            wanted: dict[str, Any] = {f"{t}_cals": n for t, n in
                                      (("named", named), ("document", document), ("session", session),
                                       ("usage", usage)) if n is not None}
            if time_limit is not KEEP:
                wanted["time_limit"] = time_limit
            if maintenance_until is not KEEP:
                wanted["maintenance_until"] = maintenance_until
            if lease is not None:
                wanted["lease_allowed"] = lease
            _check_counts({t: wanted.get(f"{t}_cals", row[f"{t}_cals"]) for t in CAL_TYPES})
            changes = {k: f"{_shown(row[k])} -> {_shown(v)}" for k, v in wanted.items() if row[k] != v}
            if not changes:
                return _record(row)
            now = self.clock.now()
            tx.execute(update(sites_t).where(sites_t.c.serial == row["serial"]).values(**wanted, changed_at=now))
            _event(tx, row["serial"], now, actor, "terms_changed", **changes)
            return _record(_row(tx, row["serial"]))

    def site(self, serial: str) -> SiteRecord:
        """One site, by serial."""
        with self._tx(write=False) as tx:
            return _record(_row(tx, serial))

    def sites(self) -> list[SiteRecord]:
        """Every site, oldest first."""
        with self._tx(write=False) as tx:
            rows = tx.execute(select(sites_t).order_by(sites_t.c.created_at, sites_t.c.serial)).mappings()
            return [_record(r) for r in rows]

    def history(self, serial: str) -> list[SiteEvent]:
        """What happened to a site, newest first."""
        with self._tx(write=False) as tx:
            _row(tx, serial)
            rows = tx.execute(select(events_t).where(events_t.c.serial == _clean(serial))
                              .order_by(events_t.c.id.desc())).mappings()
            return [SiteEvent(r["at"], r["actor"], r["action"], json.loads(r["details"])) for r in rows]

    def lef_for(self, serial: str) -> str:
        """The site's newest LEF, signed now with the active key (for the vendor to send by hand)."""
        with self._tx(write=False) as tx:
            return self._sign(_row(tx, serial))

    # -- the site's side --------------------------------------------------------------------------

    def fetch_lef(
        self, *, serial: str, control: str, owner: str = "", organization: str = "",
        lease_key: Ed25519PublicKey | None = None, address: str = "unknown",
    ) -> str:
        """The newest LEF for the site with this serial and control number, signed with the active key.

        A serial and control number that match no site get one answer, whether the serial exists or
        not. A lease-signing public key sent along is recorded, and the LEF vouches for it.
        """
        serial, control = _clean(serial), _clean(control)
        with self._tx() as tx:
            row = tx.execute(select(sites_t).where(sites_t.c.serial == serial).with_for_update()).mappings().first()
            expected = row["control"] if row is not None else "no site"
            if row is None or not hmac.compare_digest(expected.encode(), control.encode()):
                raise not_found()
            now = self.clock.now()
            who = f" as '{owner[:80]}' / '{organization[:80]}'" if owner or organization else ""
            values: dict[str, Any] = {"last_fetched_at": now, "last_fetched_from": address + who}
            if lease_key is not None:
                raw = raw_public(lease_key)
                vouched = lefs.LeaseKey(lefs.key_id_for(raw), raw).tag_value()
                if vouched != row["lease_key"]:
                    values["lease_key"] = vouched
                    previous = row["lease_key"].partition(":")[0] if row["lease_key"] else None
                    _event(tx, serial, now, f"site@{address}", "lease_key_recorded", key_id=key_id_of(lease_key),
                           previous_key_id=previous)
            tx.execute(update(sites_t).where(sites_t.c.serial == serial).values(**values))
            return self._sign(_row(tx, serial))

    def _sign(self, row: RowMapping) -> str:
        key = load_signing_key(self.keys_dir)
        lease_key = lefs.parse_lease_key(row["lease_key"]).public_key() if row["lease_key"] else None
        return sign_lef(make_lef(
            serial=row["serial"], owner=row["owner"], organization=row["organization"], named=row["named_cals"],
            document=row["document_cals"], session=row["session_cals"], usage=row["usage_cals"],
            maintenance_until=row["maintenance_until"], time_limit=row["time_limit"], lease=row["lease_allowed"],
            lease_key=lease_key,
        ), key)


def _clean(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "")


def _row(tx: Connection, serial: str, *, lock: bool = False) -> RowMapping:
    query = select(sites_t).where(sites_t.c.serial == _clean(serial))
    row = tx.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise NotFound(f"the authority has no site with serial '{serial}'; see 'calkeeper authority site list'",
                       code="unknown_site")
    return row


def _record(row: RowMapping) -> SiteRecord:
    return SiteRecord(
        serial=row["serial"], control=row["control"], owner=row["owner"], organization=row["organization"],
        cals={t: row[f"{t}_cals"] for t in CAL_TYPES}, lease_allowed=row["lease_allowed"],
        time_limit=row["time_limit"], maintenance_until=row["maintenance_until"],
        lease_key_id=row["lease_key"].partition(":")[0] if row["lease_key"] else None,
        created_at=row["created_at"], changed_at=row["changed_at"], last_fetched_at=row["last_fetched_at"],
        last_fetched_from=row["last_fetched_from"],
    )


def _event(tx: Connection, serial: str, at: datetime, actor: str, action: str, **details: Any) -> None:
    tx.execute(insert(events_t).values(serial=serial, at=at, actor=actor, action=action,
                                       details=json.dumps(details, default=str, sort_keys=True)))


def _name(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > 200 or any(ch in value for ch in ";\r\n"):
        raise InvalidInput(f"the {what} is 1 to 200 characters, without ';' or line breaks (got '{value}')")
    return value


def _check_counts(counts: dict[str, int]) -> None:
    for cal_type, count in counts.items():
        if not 0 <= count <= MAX_CALS:
            raise InvalidInput(f"the number of {cal_type} CALs must be between 0 and {MAX_CALS} (got {count})")
    if counts["named"] < 1:
        raise InvalidInput("every site needs at least one Named User CAL (a LEF without one is refused)",
                           code="no_named_cal")


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
