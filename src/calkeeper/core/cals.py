"""The four CAL types, the time rules that govern them, and what a pool and a decision look like."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class CalType(StrEnum):
    """Named User, Document, Session and Usage CALs."""

    NAMED = "named"
    DOCUMENT = "document"
    SESSION = "session"
    USAGE = "usage"

    @property
    def label(self) -> str:
        """The name admins know from the QlikView console."""
        return _LABELS[self]


_LABELS = {
    CalType.NAMED: "Named User CAL",
    CalType.DOCUMENT: "Document CAL",
    CalType.SESSION: "Session CAL",
    CalType.USAGE: "Usage CAL",
}

QUARANTINE = timedelta(days=7)
SESSION_CAL_MINIMUM = timedelta(minutes=15)
USAGE_CAL_SESSION = timedelta(minutes=60)
USAGE_CAL_RECHARGE = timedelta(days=28)


class IdentificationMode(StrEnum):
    """What a Named CAL is tied to, server-wide."""

    USER = "user"
    MACHINE = "machine"


class ClientType(StrEnum):
    """The client instance kinds that tell Session CALs apart."""

    AJAX = "ajax"
    DESKTOP = "desktop"
    PLUGIN = "plugin"
    MOBILE = "mobile"
    API = "api"


@dataclass(frozen=True)
class Pool:
    """One CAL type's counts, as the console's General tab shows them."""

    cal_type: CalType
    in_license: int
    assigned: int  # occupying a CAL now, quarantined ones included
    quarantined: int
    allocated: int | None = None  # Document CALs: allocated to documents

    @property
    def free(self) -> int:
        """CALs that can still be handed out."""
        return max(0, self.in_license - self.assigned)

    @property
    def excess(self) -> int:
        """Assignments beyond what the license now holds (after a decrease)."""
        return max(0, self.assigned - self.in_license)

    @property
    def unallocated(self) -> int | None:
        """Document CALs not yet allocated to any document."""
        return None if self.allocated is None else max(0, self.in_license - self.allocated)


@dataclass(frozen=True, slots=True)
class Grant:
    """A user may open the document, with this CAL."""

    cal_type: CalType
    session_id: str
    user: str | None
    document: str
    reason: str
    dynamic: bool = False  # the CAL was assigned by this open
    cal_id: int | None = None  # the Named or Document CAL used
    degraded: bool = False  # answered from memory while the database was unavailable

    granted = True


@dataclass(frozen=True, slots=True)
class Denial:
    """The user may not open the document, and why, in words the user can read."""

    user: str | None
    document: str
    reason: str
    code: str

    granted = False


Decision = Grant | Denial


def quarantine_end(last_used: datetime | None, now: datetime) -> datetime | None:
    """When a CAL removed now stops occupying its pool: None when it is freed at once.

    A CAL never used, or last used more than 7 days ago, is freed at once; otherwise it is
    quarantined until last used + 7 days.
    """
    if last_used is None:
        return None
    end = last_used + QUARANTINE
    return end if end > now else None


def session_cal_release(started_at: datetime, now: datetime) -> datetime:
    """When a Session CAL whose last session ends now becomes free: held at least 15 minutes."""
    return max(now, started_at + SESSION_CAL_MINIMUM)


# The version (4) and variant (RFC 4122) bits of a random UUID, as uuid.uuid4() sets them.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


_GRANT_PREFIX = {t: f"{t.value[0].upper()}-" for t in CalType}


def new_grant_id(cal_type: CalType) -> str:
    """The id of a grant (a session id): the CAL type's initial and a random UUID, e.g. ``N-3f2a...``."""
    # uuid.uuid4().hex without building a UUID object (which costs more than the rest of the id)
    return f"{_GRANT_PREFIX[cal_type]}{int.from_bytes(os.urandom(16), 'big') & _UUID4_CLEAR | _UUID4_SET:032x}"


SESSION_IDLE_TIMEOUT = timedelta(minutes=30)  # QlikView Server's default
SESSION_MAXIMUM = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """How long a session lives without a sign of activity, and at most."""

    idle_timeout: timedelta = SESSION_IDLE_TIMEOUT
    maximum: timedelta = SESSION_MAXIMUM

    def expiry(self, started_at: datetime, last_activity: datetime) -> tuple[datetime, str]:
        """When a session ends by itself, and why ("idle" or "maximum")."""
        idle_end, hard_end = last_activity + self.idle_timeout, started_at + self.maximum
        return (idle_end, "idle") if idle_end <= hard_end else (hard_end, "maximum")


def usage_hours_to_consume(expires_at: datetime, until: datetime) -> list[datetime]:
    """The starts of the further hours a Usage CAL session running until ``until`` consumes (each a Usage CAL)."""
    starts = []
    while expires_at <= until:
        starts.append(expires_at)
        expires_at += USAGE_CAL_SESSION
    return starts
