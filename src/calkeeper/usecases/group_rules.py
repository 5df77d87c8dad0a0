"""Group rules that keep CALs in step with directory groups, and the sync that applies them.

A rule says "members of GROUP hold a Named CAL" (or a Document CAL for DOC). A sync asks the directory
for each rule's members (nested groups included), then in one transaction gives new members a CAL
while CALs are free, and takes back the CALs the rule gave to those who left, exactly as a removal
does: used within 7 days, quarantined until last used + 7 days; otherwise freed at once. A CAL an
admin assigned by hand is never taken back by a rule. ``dry_run`` runs the same transaction and rolls
it back, so it shows exactly what a sync would do.

When the directory cannot be asked, a sync changes nothing and says it waits; the server's own syncs
(``CALKEEPER_DIRECTORY_SYNC_MINUTES``) try again a minute later, then at their usual pace once the
directory answers. Each sync that runs is in the audit trail (``directory.synced``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from calkeeper.contract.views import GroupRuleView, MemberOutcome, RuleSync, SyncReport
from calkeeper.core.clock import Clock
from calkeeper.core.directory import Directory, DirectoryEntry, plan_sync
from calkeeper.core.documents import DocumentRecord
from calkeeper.core.errors import CalkeeperError, DirectoryUnavailable, InvalidInput, NotFound, UnknownGroup
from calkeeper.core.identities import parse_user
from calkeeper.store.directory import RuleRecord
from calkeeper.store.unit_of_work import Transaction
from calkeeper.usecases.admin import AdminTransactions, audit_freed
from calkeeper.usecases.directory import cal_target
from calkeeper.usecases.documents import Documents
from calkeeper.usecases.group_cals import CalTarget, give_cal, take_cal
from calkeeper.usecases.named_cals import identity_kind

log = logging.getLogger("calkeeper.directory")
SYNC_ACTOR = "calkeeper:directory-sync"
RETRY_AFTER = timedelta(minutes=1)


class _DryRun(Exception):
    """Rolls a dry run's transaction back, carrying what it would have done."""

    def __init__(self, report: list[RuleSync]) -> None:
        super().__init__("dry run")
        self.report = report


def rule_view(rule: RuleRecord) -> GroupRuleView:
    return GroupRuleView(rule.id, rule.group, rule.cal_type, rule.document, rule.created_at, rule.created_by,
                         rule.holders)


class GroupRules:
    """Group rules: list, add, remove, and sync them with the directory."""

    def __init__(self, *, directory: Directory, admin: AdminTransactions, documents: Documents, clock: Clock) -> None:
        self.directory = directory
        self.admin = admin
        self.documents = documents
        self.clock = clock
        self.waiting_since: datetime | None = None  # when the directory stopped answering the syncs, while it does not

    def list_group_rules(self) -> list[GroupRuleView]:
        with self.admin.uow.read() as tx:
            return [rule_view(r) for r in tx.group_rules.all()]

    def add_group_rule(self, group: str, *, document: str | None = None, actor: str | None = None) -> GroupRuleView:
        """Add a rule for a group the directory has (checked now); the next sync applies it."""
        actor = self.admin.actor(actor)
        name = group.strip()
        if not name or len(name) > 500:
            raise InvalidInput("name a directory group of 1 to 500 characters")
        self.directory.members(name)  # UnknownGroup (or DirectoryUnavailable) before anything is stored
        with self.admin.change() as tx:
            target = cal_target(tx, self.documents, document, actor)
            document_id = target.document.id if target.document else None
            if tx.group_rules.find(group=name, cal_type=target.cal_type, document_id=document_id) is not None:
                raise InvalidInput(f"there is already a rule giving the members of '{name}' a {target.label}")
            rule_id = tx.group_rules.add(group=name, cal_type=target.cal_type, document_id=document_id, actor=actor)
            tx.history.audit(actor, "group_rule.added", name, rule=rule_id, cal=target.cal_type, **target.details())
            rule = tx.group_rules.get(rule_id)
        assert rule is not None
        return rule_view(rule)

    def remove_group_rule(self, rule_id: int, *, actor: str | None = None) -> GroupRuleView:
        """Remove a rule; the CALs it gave stay with their holders, as if assigned by hand."""
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            rule = tx.group_rules.get(rule_id)
            if rule is None:
                raise NotFound(f"there is no group rule {rule_id}", code="not_found")
            tx.group_rules.remove(rule_id)
            tx.history.audit(actor, "group_rule.removed", rule.group, rule=rule_id, cal=rule.cal_type,
                             document=rule.document, cals_kept=rule.holders)
        return rule_view(rule)

    def sync_directory(self, *, dry_run: bool = False, actor: str | None = None) -> SyncReport:
        """Bring every rule's CALs in step with its group; with ``dry_run``, only say what that would do."""
        actor = self.admin.actor(actor)
        now = self.clock.now()
        with self.admin.uow.read() as tx:
            rules = tx.group_rules.all()
        members: dict[int, list[DirectoryEntry] | str] = {}
        try:
            for rule in rules:
                try:
                    members[rule.id] = self.directory.members(rule.group)
                except (UnknownGroup, InvalidInput) as error:
                    members[rule.id] = error.message  # nothing is taken back on a group that cannot be read
        except DirectoryUnavailable as error:
            return self._waiting(error, now, dry_run)
        if self.waiting_since is not None:
            log.warning("the directory answers again; the group rules are synced (they waited since %s)",
                        f"{self.waiting_since:%Y-%m-%d %H:%M:%S} UTC")
            self.waiting_since = None
        try:
            with self.admin.change() as tx:
                report = [self._sync_rule(tx, rule, members[rule.id], actor) for rule in rules]
                if dry_run:
                    raise _DryRun(report)
                tx.history.audit(actor, "directory.synced", f"{len(rules)} group rules", **_totals(report))
                audit_freed(tx)
        except _DryRun as dry:
            report = dry.report
        return SyncReport(dry_run, now, report)

    def _waiting(self, error: DirectoryUnavailable, now: datetime, dry_run: bool) -> SyncReport:
        first = self.waiting_since is None
        self.waiting_since = self.waiting_since or now
        message = (f"{error.message}; the sync changed nothing and waits for the directory (the server's own syncs "
                   f"try again every {int(RETRY_AFTER.total_seconds() // 60)} minute)")
        if first:
            log.warning("directory sync waits: %s", error.message)
            if not dry_run:
                with self.admin.uow.write() as tx:
                    tx.history.audit(SYNC_ACTOR, "directory.sync_waiting", "group rules", code=error.code,
                                     reason=error.message)
        return SyncReport(dry_run, now, [], waiting=message)

    def _sync_rule(self, tx: Transaction, rule: RuleRecord, found: list[DirectoryEntry] | str,
                   actor: str) -> RuleSync:
        view = rule_view(rule)
        if isinstance(found, str):
            return RuleSync(view, 0, [], [], problem=f"{found}; nothing was given or taken back for this rule")
        terms = tx.licenses.terms()
        if terms is None:
            return RuleSync(view, len(found), [], [], problem="no license is in force; nothing was given or taken")
        if rule.cal_type == "named" and identity_kind(tx) == "machine":
            return RuleSync(view, len(found), [], [], problem="Named CALs identify by machine name on this server; "
                                                              "the rule waits until they identify by user name")
        target = CalTarget("document", _document(tx, rule.document_id)) if rule.document_id else CalTarget("named")
        held = tx.group_rules.holders(rule.id)
        plan = plan_sync((m.name for m in found), held.values())
        source = f"group rule {rule.id} ({rule.group})"
        removed = []
        for name in plan.remove:
            outcome, until = take_cal(tx, parse_user(name), target, actor=actor, source=source)
            tx.group_rules.release(rule.id, name)
            removed.append(MemberOutcome(name, outcome, "left the group", until))
        given = []
        for name in plan.assign:
            outcome = give_cal(tx, parse_user(name), target, terms, actor=actor, source=source)
            if outcome in ("assigned", "restored"):
                tx.group_rules.hold(rule.id, name)
            detail = {"no CAL left": "waits for a free CAL (the next sync tries again)",
                      "already assigned": "holds one already (assigned by hand or by another rule)"}.get(outcome, "")
            given.append(MemberOutcome(name, outcome, detail))
        return RuleSync(view, len(found), given, removed)


def _document(tx: Transaction, document_id: int) -> DocumentRecord:
    return next(d for d in tx.documents.all() if d.id == document_id)


def _totals(report: list[RuleSync]) -> dict[str, Any]:
    given = [o for r in report for o in r.assign]
    taken = [o for r in report for o in r.remove]
    return {"assigned": sum(o.outcome in ("assigned", "restored") for o in given),
            "no_cal_left": sum(o.outcome == "no CAL left" for o in given),
            "freed": sum(o.outcome == "freed" for o in taken),
            "quarantined": sum(o.outcome == "quarantined" for o in taken),
            "rule_problems": sum(bool(r.problem) for r in report)}


class ScheduledSync:
    """The server's own syncs, every ``every`` (a minute after a sync that found the directory down)."""

    def __init__(self, rules: GroupRules, *, every: timedelta) -> None:
        self.rules, self.every = rules, every
        self.next_due: datetime | None = None

    def run_if_due(self) -> SyncReport | None:
        now = self.rules.clock.now()
        if self.next_due is not None and now < self.next_due:
            return None
        try:
            report = self.rules.sync_directory(actor=SYNC_ACTOR)
        except CalkeeperError as error:  # the database, say: logged, and tried again later
            log.warning("directory sync failed (%s): %s", error.code, error.message)
            self.next_due = now + RETRY_AFTER
            return None
        self.next_due = now + (RETRY_AFTER if report.waiting else self.every)
        return report


async def run_scheduled_syncs(sync: ScheduledSync, *, poll_seconds: float = 15.0) -> None:
    """Run the sync whenever it is due, until cancelled (a background task of the server, off the request path)."""
    while True:
        try:
            await asyncio.to_thread(sync.run_if_due)
        except Exception:  # a bug here must not stop the server; it is logged and retried
            log.exception("the directory sync failed unexpectedly")
        await asyncio.sleep(poll_seconds)
