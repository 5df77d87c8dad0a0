"""Who may lease a license for the desktop client, and on which machines (domain §9).

A lease is granted when the user holds a Named CAL not marked for removal, "Allow license lease" is on,
the LEF does not say ``LICENSE_LEASE;NO`` and vouches for this server's lease key, and the user holds a
live lease on fewer than two other machines. A machine that already holds the user's lease renews it.
Each refusal names the condition that failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from calkeeper.core.errors import LeaseRefused
from calkeeper.core.lease import LEASE_DAYS, MACHINES_PER_USER

END_REASONS = ("ended", "revoked", "cal_data_cleared")


@dataclass(frozen=True)
class LeaseRecord:
    """One lease of the history: a user's lease on one machine, renewed until it runs out or is ended."""

    lease_id: str
    user: str
    user_key: str
    machine: str
    fingerprint: str
    serial: str
    server: str
    leased_at: datetime
    renewed_at: datetime | None
    expires_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None  # one of END_REASONS
    ended_by: str | None = None

    def live(self, now: datetime) -> bool:
        """Neither ended nor run out."""
        return self.ended_at is None and self.expires_at > now

    def state(self, now: datetime) -> str:
        """live, expired, ended, revoked or cal_data_cleared."""
        if self.ended_at is not None:
            return self.end_reason or "ended"
        return "live" if self.expires_at > now else "expired"


@dataclass(frozen=True)
class LeaseConditions:
    """What the site says about leasing right now, for one user."""

    allowed_by_setting: bool
    allowed_by_license: bool | None  # None: no license in force
    key_vouched: bool
    holds_named_cal: bool
    named_cal_removed: bool


def lease_expiry(now: datetime) -> datetime:
    """When a lease granted or renewed now runs out: 30 days on."""
    return now + timedelta(days=LEASE_DAYS)


def check_conditions(conditions: LeaseConditions, *, user: str) -> None:
    """Refuse (LeaseRefused, a code per condition) unless every site-wide and user condition holds."""
    if conditions.allowed_by_license is None:
        raise LeaseRefused("no license is in force on this server, so it leases none", code="lease_not_allowed")
    if not conditions.allowed_by_setting:
        raise LeaseRefused("license lease is turned off on this server (\"Allow license lease\" is off)",
                           code="lease_not_allowed")
    if not conditions.allowed_by_license:
        raise LeaseRefused("the server's license allows no license lease (its LEF says LICENSE_LEASE;NO)",
                           code="lease_not_licensed")
    if not conditions.key_vouched:
        raise LeaseRefused("the server's license does not vouch for its lease key, so a lease could not be checked "
                           "by the client; the admin runs \"Update license from server\" to have it vouched for",
                           code="lease_key_not_vouched")
    if conditions.named_cal_removed:
        raise LeaseRefused(f"{user}'s Named CAL is marked for removal, so no lease is granted or renewed",
                           code="lease_no_named_cal")
    if not conditions.holds_named_cal:
        raise LeaseRefused(f"{user} holds no Named CAL on this server; only a user with a Named CAL may lease "
                           "a license",
                           code="lease_no_named_cal")


def lease_on_machine(leases: list[LeaseRecord], *, fingerprint: str, presented: str | None,
                     now: datetime, user: str) -> LeaseRecord | None:
    """The user's open lease to renew on this machine (None: a new one), or LeaseRefused.

    ``leases`` are the user's leases not ended (live or run out) and the one ``presented`` by the client,
    if any. A presented lease the server revoked is refused (the client then reports it revoked); at most
    MACHINES_PER_USER machines hold a live lease at once.
    """
    mine = next((lease for lease in leases if lease.lease_id == presented), None)
    if mine is not None and mine.end_reason == "revoked":
        raise LeaseRefused(f"the server revoked this machine's lease for {user} on "
                           f"{mine.ended_at:%Y-%m-%d %H:%M} UTC", code="lease_revoked")
    here = next((lease for lease in leases if lease.ended_at is None and lease.fingerprint == fingerprint), None)
    if here is not None:
        return here
    others = sorted((lease for lease in leases if lease.live(now) and lease.fingerprint != fingerprint),
                    key=lambda lease: lease.leased_at)
    if len(others) >= MACHINES_PER_USER:
        machines = " and ".join(f"{lease.machine} (until {lease.expires_at:%Y-%m-%d})" for lease in others)
        raise LeaseRefused(f"{user} already holds a lease on {MACHINES_PER_USER} machines, {machines}; an admin can "
                           "end one of them to free its place, or it runs out", code="lease_machines_full")
    return None
