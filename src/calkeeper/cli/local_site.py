"""The local site as ``SiteOperations``, for the operations where ``calkeeper.site.Site`` still differs.

``Site`` sets a document's allocation and its dynamic assignment one at a time, and answers releases
and denials as plain dicts; ``SiteOperations`` has ``update_document`` and answers ``ReleaseOutcome``
and ``DenialView``. This adapter gives the CLI the contract's forms; everything else is the site's own.
It goes once ``calkeeper.site`` offers these operations itself.
"""

from __future__ import annotations

from typing import Any

from calkeeper.contract.views import DenialView, DocumentView, ReleaseOutcome
from calkeeper.site import Site


class LocalSiteAdapter:
    """A ``Site`` with the contract's ``update_document``, ``release_missing_document`` and ``denials``."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def __getattr__(self, name: str) -> Any:
        return getattr(self.site, name)

    def update_document(self, document: str, *, cals_allocated: int | None = None,
                        allow_dynamic_assignment: bool | None = None, actor: str | None = None) -> DocumentView:
        if hasattr(self.site, "update_document"):
            return self.site.update_document(document, cals_allocated=cals_allocated,
                                             allow_dynamic_assignment=allow_dynamic_assignment, actor=actor)
        view = self.site.document(document)
        if cals_allocated is not None:
            view = self.site.set_document_allocation(document, cals_allocated, actor=actor)
        if allow_dynamic_assignment is not None:
            view = self.site.set_document_dynamic(document, allow_dynamic_assignment, actor=actor)
        return view

    def release_missing_document(self, document: str, *, actor: str | None = None) -> ReleaseOutcome:
        released: Any = self.site.release_missing_document(document, actor=actor)
        return released if isinstance(released, ReleaseOutcome) else ReleaseOutcome(**released)

    def denials(self, *, limit: int = 100) -> list[DenialView]:
        rows: list[Any] = self.site.denials(limit=limit)
        return [row if isinstance(row, DenialView) else DenialView(**row) for row in rows]
