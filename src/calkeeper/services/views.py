"""What the use cases return: plain data the CLI, the API and the console show as they like."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any


def to_json(value: Any) -> Any:
    """Turn views (and lists and dicts of them) into JSON-ready values; times in ISO 8601 UTC."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: to_json(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(to_json(k)): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


@dataclass(frozen=True)
class LicenseView:
    serial: str
    control: str
    owner: str
    organization: str
    status: str  # "valid", "expired"
    cals: dict[str, int]
    lease_allowed: bool
    time_limit: date | None
    maintenance_until: date | None
    key_id: str
    applied_at: datetime
    applied_by: str
    lef: str


@dataclass(frozen=True)
class LicenseChange:
    applied_at: datetime
    applied_by: str
    serial: str
    cals: dict[str, int]
    changes: dict[str, str]


@dataclass(frozen=True)
class PoolView:
    cal_type: str
    label: str
    in_license: int
    assigned: int
    quarantined: int
    free: int
    excess: int
    allocated: int | None = None
    unallocated: int | None = None


@dataclass(frozen=True)
class CalSettings:
    allow_dynamic_assignment: bool
    allow_license_lease: bool
    identification_mode: str
    lease_allowed_by_license: bool
    maintenance: bool


@dataclass(frozen=True)
class CalOverview:
    pools: list[PoolView]
    settings: CalSettings
    licensed: bool


@dataclass(frozen=True)
class AssignedCal:
    user: str
    identity_kind: str
    source: str
    assigned_at: datetime
    last_used: datetime | None
    quarantined_until: datetime | None
    document: str | None = None

    @property
    def status(self) -> str:
        return "quarantined" if self.quarantined_until else "assigned"


@dataclass(frozen=True)
class CalPage:
    items: list[AssignedCal]
    next_after: str | None
    total: int


@dataclass(frozen=True)
class AssignOutcome:
    user: str
    outcome: str  # "assigned", "already assigned", "restored"


@dataclass(frozen=True)
class RemovalOutcome:
    user: str
    outcome: str  # "freed", "quarantined"
    quarantined_until: datetime | None
    document: str | None = None


@dataclass(frozen=True)
class DocumentView:
    path: str
    cals_allocated: int
    cals_assigned: int
    allow_dynamic_assignment: bool
    missing_since: datetime | None

    @property
    def missing(self) -> bool:
        return self.missing_since is not None


@dataclass(frozen=True)
class SessionEnd:
    session_id: str
    outcome: str
    released_at: datetime | None = None


@dataclass(frozen=True)
class UserCals:
    user: str
    named_cal: AssignedCal | None
    document_cals: list[AssignedCal]
    session_cals: list[dict[str, Any]] = field(default_factory=list)
    usage_cals: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


@dataclass(frozen=True)
class ClearOutcome:
    backup: str
    removed: dict[str, int]
