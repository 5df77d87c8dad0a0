"""Named and Document CALs as assigned: to whom, since when, last used when, and removal state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from calkeeper.core.identities import Identity


@dataclass(frozen=True, slots=True)
class CalAssignment:
    """A Named CAL (of a user or a machine) or a Document CAL (of a user, for one document)."""

    id: int
    holder: Identity
    source: str  # "manual" or "dynamic"
    assigned_at: datetime
    last_used: datetime | None
    removed_at: datetime | None
    quarantined_until: datetime | None
    document_id: int | None = None
    document: str | None = None  # the document's path, for a Document CAL

    @property
    def marked_for_removal(self) -> bool:
        """Removed by an admin: it serves nobody, and occupies its pool until its quarantine ends."""
        return self.removed_at is not None

    def quarantined(self, now: datetime) -> bool:
        """Still occupying its pool after a removal."""
        return self.quarantined_until is not None and self.quarantined_until > now

    def occupying(self, now: datetime) -> bool:
        """Active, or removed and still in quarantine."""
        return self.quarantined_until is None or self.quarantined_until > now


@dataclass(frozen=True, slots=True)
class SiteState:
    """The server-wide settings, and the generation every change that could alter a decision bumps."""

    generation: int
    allow_dynamic_assignment: bool
    allow_license_lease: bool
    identification_mode: str
    maintenance: bool


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A granted open: its CAL, who, where, on which document, since when, last active when; why it ended."""

    id: str
    cal_type: str
    cal_id: int
    ended_at: datetime | None
    user_name: str | None = None
    machine: str = ""
    client: str = "ajax"
    document_id: int = 0
    document: str = ""
    started_at: datetime | None = None
    last_activity: datetime | None = None
    end_reason: str | None = None  # when something other than its client ended it


@dataclass(frozen=True, slots=True)
class SessionCalRecord:
    """A Session CAL held (or recently held) by one client instance."""

    id: int
    user_name: str | None
    machine: str
    client: str
    acquired_at: datetime
    released_at: datetime | None


@dataclass(frozen=True, slots=True)
class UsageCalRecord:
    """A Usage CAL consumed on a document (None: a document since released)."""

    id: int
    document: str | None
    machine: str
    consumed_at: datetime
    expires_at: datetime
    returns_at: datetime
