"""What the use cases return: plain data the CLI, the API and the console show as they like."""

from __future__ import annotations

import types
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


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


def from_json(cls: type[T], data: Any) -> T:
    """Rebuild a view (or a list, dict or union of views) from what ``to_json`` made of it.

    Times come back as aware UTC datetimes, enums as their members; keys the view does not know are
    ignored, so an older client reads a newer server's answers. A missing field raises ValueError.
    """
    return _parse(cls, data, cls.__name__ if isinstance(cls, type) else str(cls))  # type: ignore[no-any-return]


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _parse(kind: Any, value: Any, where: str) -> Any:
    origin, args = get_origin(kind), get_args(kind)
    if kind is Any or value is None:
        return value
    if origin is Union or origin is types.UnionType:
        options = [a for a in args if a is not type(None)]
        return _parse(options[0], value, where) if len(options) == 1 else value
    if origin is list:
        return [_parse(args[0] if args else Any, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        key, item = args or (Any, Any)
        return {_parse(key, k, where): _parse(item, v, f"{where}.{k}") for k, v in value.items()}
    if is_dataclass(kind) and isinstance(kind, type):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
        hints, given = _hints(kind), {}
        for f in fields(kind):
            if f.init and f.name in value:
                given[f.name] = _parse(hints[f.name], value[f.name], f"{where}.{f.name}")
        try:
            return kind(**given)
        except TypeError as error:
            raise ValueError(f"{where}: {error}") from None
    if kind is datetime:
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if kind is date:
        return date.fromisoformat(value)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
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
class LicenseUpdate:
    """What "Update license from server" did: ``updated`` is False when the LEF in force is already the newest."""

    updated: bool
    changes: dict[str, str]
    license: LicenseView


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
    # Named CALs still held by the other kind of identity (users when identifying by machine, and the
    # reverse), kept from before a switch: they occupy the pool until removed
    other_kind_named_cals: int = 0

    @property
    def other_kind_note(self) -> str:
        """What an admin should know of the CALs of the other kind, or "" when there are none."""
        n = self.other_kind_named_cals
        if not n:
            return ""
        other = "user" if self.identification_mode == "machine" else "machine"
        held = "Named CAL is" if n == 1 else "Named CALs are"
        return (f"{n} {held} still assigned to {other} names (from before identification by "
                f"{self.identification_mode} name); they occupy the pool until removed")


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
class SessionTouch:
    """A heartbeat's answer: whether the session goes on, and why not when it must end."""

    session_id: str
    active: bool
    reason: str


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


@dataclass(frozen=True)
class DenialView:
    """An open the access gate refused: who, when, which document, from where, and why."""

    id: int
    at: datetime
    user_name: str | None
    document: str
    machine: str
    code: str
    reason: str


@dataclass(frozen=True)
class ReleaseOutcome:
    """What releasing a missing document freed."""

    document: str
    cals_released: int


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


@dataclass(frozen=True)
class ConsoleUserView:
    id: int
    username: str
    role: str
    created_at: datetime
    disabled: bool


@dataclass(frozen=True)
class MemberOutcome:
    """What an assignment to a group, or a sync, did (or would do) for one member.

    ``outcome``: "assigned", "restored", "already assigned", "no CAL left", "freed", "quarantined",
    "not held" (the CAL the rule gave was removed meanwhile) or "skipped" (``detail`` says why).
    """

    user: str
    outcome: str
    detail: str = ""
    quarantined_until: datetime | None = None


@dataclass(frozen=True)
class GroupAssignment:
    """Assigning CALs to a group's members once: what each member got."""

    group: str
    cal_type: str
    document: str | None
    members: int
    assigned: int
    outcomes: list[MemberOutcome]


@dataclass(frozen=True)
class GroupRuleView:
    """A group rule: the members of ``group`` hold a Named CAL (or a Document CAL for ``document``)."""

    id: int
    group: str
    cal_type: str
    document: str | None
    created_at: datetime
    created_by: str
    holders: int  # members holding a CAL this rule gave


@dataclass(frozen=True)
class RuleSync:
    """One rule's part of a sync: whom it gives a CAL, whose CAL it takes back, or why it could not run."""

    rule: GroupRuleView
    members: int
    assign: list[MemberOutcome]
    remove: list[MemberOutcome]
    problem: str = ""


@dataclass(frozen=True)
class SyncReport:
    """A sync of every group rule (or what one would do, with ``dry_run``).

    ``waiting`` says why nothing was done when the directory could not be asked: the sync runs again later.
    """

    dry_run: bool
    at: datetime
    rules: list[RuleSync]
    waiting: str = ""


@dataclass(frozen=True)
class DirectoryImport:
    """Users imported into the built-in directory."""

    added: int
    replaced: int
    groups: int


# -- operations: sessions in use, usage history, reclaim, alerts ---------------------------------------


@dataclass(frozen=True)
class LiveSessionView:
    """A session in use now: who, from where, with which client, on which document, through which CAL."""

    id: str
    user: str | None
    machine: str
    client: str
    document: str
    cal_type: str
    started_at: datetime
    last_activity: datetime
    node: str | None


@dataclass(frozen=True)
class ReportView:
    """A usage report as a table: its columns, and one row per day, CAL type, user, document or reason."""

    report: str
    by: str
    start: date
    end: date
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class ReclaimEntry:
    """A CAL of an inactive user: reclaimed (freed or quarantined) or, in a dry run, a candidate."""

    user: str
    cal_type: str
    document: str | None
    assigned_at: datetime
    last_used: datetime | None
    outcome: str  # "candidate" (dry run), "freed" or "quarantined"
    quarantined_until: datetime | None = None


@dataclass(frozen=True)
class BackupFileView:
    """A backup in the backups folder: when it was written, its size, and the rows it holds per table (None for a
    backup written before backups said so)."""

    name: str
    written_at: datetime
    size: int
    counts: dict[str, int] | None

    def held(self, labels: dict[str, str]) -> list[str]:
        """What it holds in words, e.g. "12 Named CALs", for the tables ``labels`` names."""
        counts = self.counts or {}
        return [f"{counts[table]:,} {label}" for table, label in labels.items() if table in counts]


@dataclass(frozen=True)
class CalImport:
    """CAL assignments imported from a file: how many of each type, the documents whose allocation was raised
    to hold them (path: new allocation), and the CALs left out because their quarantine had already ended."""

    named: int
    document: int
    allocations_raised: dict[str, int]
    already_free: int = 0


@dataclass(frozen=True)
class SiteMoveReport:
    """A site's data moved to another database: rows per table and pool counters, here and there.

    ``tables`` and ``counters`` map each name to (this site, the target); the target's audit trail holds one
    entry more, the restore's own. ``consistent``: every count matches and the target's counters equal its rows.
    """

    target: str
    tables: dict[str, list[int]]
    counters: dict[str, list[int]]
    drift: dict[str, list[int]]
    consistent: bool

    @property
    def differences(self) -> list[str]:
        """Each table or counter whose count differs, in words."""
        return ([f"{name}: {here} here, {there} there" for name, (here, there) in
                 {**self.tables, **self.counters}.items() if here != there]
                + [f"the target's counter {name} says {used} where its rows are {rows}"
                   for name, (used, rows) in self.drift.items()])


@dataclass(frozen=True)
class ReclaimReport:
    inactive_days: int
    dry_run: bool
    entries: list[ReclaimEntry]


@dataclass(frozen=True)
class AlertView:
    """An alert: raised while its condition holds (``cleared_at`` None), cleared once it ends."""

    key: str
    kind: str
    message: str
    raised_at: datetime
    cleared_at: datetime | None


@dataclass(frozen=True)
class AlertDeliveryView:
    """One alert sent to a webhook or by e-mail: how many attempts, and whether it arrived."""

    id: int
    at: datetime
    alert_key: str
    event: str
    channel: str
    target: str
    attempts: int
    delivered: bool
    error: str | None


@dataclass(frozen=True)
class AlertsView:
    alerts: list[AlertView]
    deliveries: list[AlertDeliveryView]
@dataclass(frozen=True)
class LeaseView:
    """A license lease of the history: whose, on which machine, when granted, renewed, running out or ended.

    ``state`` is live, expired, ended (by an admin), revoked or cal_data_cleared.
    """

    lease_id: str
    user: str
    machine: str
    fingerprint: str
    serial: str
    server: str
    leased_at: datetime
    renewed_at: datetime | None
    expires_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    ended_by: str | None
    state: str
