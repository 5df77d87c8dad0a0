"""Documents of the root folder and their Document CALs, and the files there that cannot be served."""

from __future__ import annotations

from fastapi import APIRouter

from calkeeper.api import paths  # noqa: F401  (the {document:document} and {user:holder} shapes)
from calkeeper.api.deps import Admin, Reader, SiteDep, actor
from calkeeper.api.json_bodies import StrictJsonRoute
from calkeeper.api.schemas import DocumentPatch, UsersRequest
from calkeeper.contract.views import AssignedCal, AssignOutcome, DocumentView, ReleaseOutcome, RemovalOutcome
from calkeeper.core.documents import DocumentProblem
from calkeeper.infra.http_errors import responses

router = APIRouter(prefix="/api/v1/documents", tags=["documents"], responses=responses(401, 403, 422, 429, 503),
                   route_class=StrictJsonRoute)
# Apart from /documents: any name under it may be a document's (the extension may be left out).
problems_router = APIRouter(prefix="/api/v1/document-problems", tags=["documents"],
                            responses=responses(401, 403, 429, 503))


@problems_router.get("", response_model=list[DocumentProblem])
def document_problems(site: SiteDep, _: Reader) -> list[DocumentProblem]:
    """Document files in the root folder that cannot be served, and why (rename or remove them)."""
    return site.document_problems()


@router.get("", response_model=list[DocumentView])
def list_documents(site: SiteDep, _: Reader) -> list[DocumentView]:
    """The documents of the root folder with their allocation; missing ones are flagged."""
    return site.list_documents()


def _one(site: SiteDep, document: str) -> DocumentView:
    return site.document(document)


@router.get("/{document:path}/cals", response_model=list[AssignedCal], responses=responses(404))
def list_cals(document: str, site: SiteDep, _: Reader) -> list[AssignedCal]:
    """Users holding Document CALs for the document, with last used and quarantine."""
    return site.list_document_cals(document)


@router.post("/{document:path}/cals", response_model=list[AssignOutcome], responses=responses(400, 404, 409))
def assign(document: str, request: UsersRequest, site: SiteDep, principal: Admin) -> list[AssignOutcome]:
    """Assign Document CALs out of the document's allocation; all or nothing."""
    return site.assign_document_cals(document, request.users, actor=actor(principal))


@router.delete("/{document:path}/cals/{user:holder}", response_model=RemovalOutcome, responses=responses(404))
def remove(document: str, user: str, site: SiteDep, principal: Admin) -> RemovalOutcome:
    """Remove a Document CAL: freed at once, or quarantined until last used + 7 days."""
    return site.remove_document_cals(document, [user], actor=actor(principal))[0]


@router.post("/{document:path}/cals/{user}/restore", response_model=AssignOutcome, responses=responses(404, 409))
def restore(document: str, user: str, site: SiteDep, principal: Admin) -> AssignOutcome:
    """Undo a Document CAL removal while quarantined."""
    return site.restore_document_cals(document, [user], actor=actor(principal))[0]


# After the one-user routes, so that they keep '…/cals/USER/restore' whatever USER is.
@router.post("/{document:path}/cals/remove", response_model=list[RemovalOutcome], responses=responses(400, 404))
def remove_list(document: str, request: UsersRequest, site: SiteDep, principal: Admin) -> list[RemovalOutcome]:
    """Remove the Document CALs of a list of users; all or nothing."""
    return site.remove_document_cals(document, request.users, actor=actor(principal))


@router.post("/{document:path}/cals/restore", response_model=list[AssignOutcome], responses=responses(400, 404, 409))
def restore_list(document: str, request: UsersRequest, site: SiteDep, principal: Admin) -> list[AssignOutcome]:
    """Undo the Document CAL removals of a list of users while quarantined; all or nothing."""
    return site.restore_document_cals(document, request.users, actor=actor(principal))


@router.post("/{document:path}/release", response_model=ReleaseOutcome, responses=responses(404, 422))
def release(document: str, site: SiteDep, principal: Admin) -> ReleaseOutcome:
    """Release the CALs of a document that went missing from the root folder, and forget it."""
    return site.release_missing_document(document, actor=actor(principal))


# Declared last: a document path may hold '/', so the /cals and /release routes above must be tried first.
@router.get("/{document:document}", response_model=DocumentView, responses=responses(404))
def get_document(document: str, site: SiteDep, _: Reader) -> DocumentView:
    """One document: CALs allocated and assigned, dynamic assignment, missing or not."""
    return _one(site, document)


@router.patch("/{document:document}", response_model=DocumentView, responses=responses(400, 404, 409))
def patch_document(document: str, request: DocumentPatch, site: SiteDep, principal: Admin) -> DocumentView:
    """Set "Number of CALs allocated to this Document" and "Allow dynamic CAL assignment", in one change."""
    if request.cals_allocated is None and request.allow_dynamic_assignment is None:
        return _one(site, document)
    return site.update_document(document, cals_allocated=request.cals_allocated,
                                allow_dynamic_assignment=request.allow_dynamic_assignment, actor=actor(principal))
