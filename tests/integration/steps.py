"""Small readers the integration tests share: pools, names, audit actions and whole-site snapshots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import calkeeper
from calkeeper.contract.views import AuditView, PoolView

SALES = "SalesFlash.qvw"
AR = "AR Analytix.qvw"
ADVERTISING = "Advertising Analytix.qvw"
CONTRACT = "Contract Analytix.qvw"

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def pool(site: calkeeper.LocalSite, cal_type: str) -> PoolView:
    """The console's counts for one CAL type."""
    return next(p for p in site.cal_overview().pools if p.cal_type == cal_type)


def named_users(site: calkeeper.LocalSite) -> list[str]:
    """Who holds a Named CAL (quarantined ones included), as displayed."""
    return [cal.user for cal in site.list_named_cals(limit=1000).items]


def document_users(site: calkeeper.LocalSite, document: str) -> list[str]:
    """Who holds a Document CAL for a document (quarantined ones included), as displayed."""
    return [cal.user for cal in site.list_document_cals(document)]


def named_cal(site: calkeeper.LocalSite, user: str) -> Any:
    """The Named CAL row of one user, as the list shows it."""
    return next(cal for cal in site.list_named_cals(limit=1000).items if cal.user.casefold() == user.casefold())


def audit_entries(site: calkeeper.LocalSite, action: str = "") -> list[AuditView]:
    """The audit trail, newest first, optionally of one action."""
    return site.audit(limit=1000, action=action)


def audit_actions(site: calkeeper.LocalSite) -> list[str]:
    """Every action in the audit trail, oldest first."""
    return [entry.action for entry in reversed(site.audit(limit=1000))]


def open_as(site: calkeeper.LocalSite, user: str | None, document: str = SALES, *, machine: str = "PC-1",
            client: str = "ajax") -> Any:
    """Open a document and return the decision."""
    return site.open_document(user, document, machine=machine, client=client)


def snapshot(site: calkeeper.LocalSite) -> dict[str, Any]:
    """Everything an admin can see of a site's state, to compare before and after a use case."""
    documents = site.list_documents()
    return {
        "license": site.license(),
        "license_history": site.license_history(),
        "overview": site.cal_overview(),
        "named": site.list_named_cals(limit=1000).items,
        "documents": documents,
        "document_cals": {d.path: site.list_document_cals(d.path) for d in documents},
        "audit": [(entry.id, entry.action, entry.target) for entry in site.audit(limit=1000)],
        "denials": site.denials(limit=1000),
    }
