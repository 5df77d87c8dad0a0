"""The four CAL types, the time rules that govern them, and what a pool and a decision look like."""

from __future__ import annotations

import os
import threading
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


_GRANT_PREFIX = {t: f"{t.value[0].upper()}-" for t in CalType}


class _RandomBytes:
    """Random bytes from the operating system, read 4 KiB at a time: one system call serves 400 ids.

    A forked child starts with an empty buffer, so no two processes ever hand out the same bytes.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buffer, self.at = b"", 0
        os.register_at_fork(after_in_child=self.forget)

    def forget(self) -> None:
        self.lock = threading.Lock()
        self.buffer, self.at = b"", 0

    def take(self, count: int) -> bytes:
        with self.lock:
            if self.at + count > len(self.buffer):
                self.buffer, self.at = os.urandom(4096), 0
            chunk = self.buffer[self.at:self.at + count]
            self.at += count
        return chunk


_RANDOM = _RandomBytes()
_RAND_B = (1 << 62) - 1


def new_grant_id(cal_type: CalType, at: datetime) -> str:
    """The id of a grant (a session id): the CAL type's initial and a UUID version 7, e.g. ``N-019af3...``.

    A version 7 UUID starts with the grant's millisecond and goes on with 74 random bits: ids are unguessable
    and yet come in time order, so each new session row goes at the end of the sessions' primary key
    instead of somewhere in the middle of it (which, random, slows every insert as the table grows).
    """
    millisecond = int(at.timestamp() * 1000) & 0xFFFF_FFFF_FFFF
    rand = int.from_bytes(_RANDOM.take(10), "big")  # 80 bits, of which 74 are used
    value = (millisecond << 80) | (0x7 << 76) | (((rand >> 62) & 0xFFF) << 64) | (0b10 << 62) | (rand & _RAND_B)
    return f"{_GRANT_PREFIX[cal_type]}{value:032x}"


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
