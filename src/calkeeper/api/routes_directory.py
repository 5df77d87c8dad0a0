"""The site's directory: test it, search users and groups, assign to a group, group rules and their sync."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field, StrictBool

from calkeeper.api.deps import Admin, Reader, SiteDep, actor
from calkeeper.api.json_bodies import StrictJsonRoute
from calkeeper.api.schemas import Body, QueryParameters
from calkeeper.contract.views import DirectoryImport, GroupAssignment, GroupRuleView, SyncReport
from calkeeper.core.directory import SEARCH_LIMIT_MAX, SEARCH_TEXT_MAX, DirectoryCheck, DirectoryEntry
from calkeeper.infra.http_errors import responses

router = APIRouter(prefix="/api/v1/directory", responses=responses(401, 403, 422, 429, 503),
                   route_class=StrictJsonRoute, tags=["directory"])


class SearchQuery(QueryParameters):
    q: str = Field("", max_length=SEARCH_TEXT_MAX, description="Part of a name; empty: any")
    kind: Literal["user", "group"] = "user"
    limit: int = Field(50, ge=1, le=SEARCH_LIMIT_MAX)


class GroupAssignRequest(Body):
    group: str = Field(..., max_length=500, description="The group's name or DN")
    document: str | None = Field(None, max_length=1000, description="Document CALs for this document; null: Named")
    all_or_nothing: StrictBool = Field(False, description="Assign nobody unless every member gets a CAL")


class GroupRuleRequest(Body):
    group: str = Field(..., max_length=500, description="The group's name or DN")
    document: str | None = Field(None, max_length=1000, description="Document CALs for this document; null: Named")


class SyncRequest(Body):
    dry_run: StrictBool = Field(False, description="Only say what the sync would do")


class ImportRequest(Body):
    csv: str = Field(..., description="user,display_name,password,groups rows, a header first")


@router.get("/test", response_model=DirectoryCheck, responses=responses(502))
def test_directory(site: SiteDep, _: Admin) -> DirectoryCheck:
    """Connect, bind and search the site's directory; a 502 says in plain words what is wrong."""
    return site.directory_test()


@router.get("/search", response_model=list[DirectoryEntry], responses=responses(502))
def search(site: SiteDep, _: Reader, query: Annotated[SearchQuery, Query()]) -> list[DirectoryEntry]:
    """Users (or groups, with their member counts) whose name contains ``q``, at most ``limit``."""
    return site.search_directory(query.q, kind=query.kind, limit=query.limit)


@router.post("/groups/assign", response_model=GroupAssignment, responses=responses(400, 404, 409, 502))
def assign_group(request: GroupAssignRequest, site: SiteDep, principal: Admin) -> GroupAssignment:
    """Give every current member of a group a Named CAL (or a Document CAL), once, as far as CALs last."""
    return site.assign_group(request.group, document=request.document, all_or_nothing=request.all_or_nothing,
                             actor=actor(principal))


@router.get("/rules", response_model=list[GroupRuleView])
def list_rules(site: SiteDep, _: Reader) -> list[GroupRuleView]:
    """The group rules, with how many members hold a CAL each gave."""
    return site.list_group_rules()


@router.post("/rules", response_model=GroupRuleView, responses=responses(400, 404, 502))
def add_rule(request: GroupRuleRequest, site: SiteDep, principal: Admin) -> GroupRuleView:
    """Add a rule: the members of the group hold a Named CAL (or a Document CAL for the document)."""
    return site.add_group_rule(request.group, document=request.document, actor=actor(principal))


@router.delete("/rules/{rule_id}", response_model=GroupRuleView, responses=responses(404))
def remove_rule(rule_id: Annotated[int, Path(ge=1, le=2**31 - 1)], site: SiteDep, principal: Admin) -> GroupRuleView:
    """Remove a group rule; the CALs it gave stay with their holders."""
    return site.remove_group_rule(rule_id, actor=actor(principal))


@router.post("/sync", response_model=SyncReport, responses=responses(400))
def sync(request: SyncRequest, site: SiteDep, principal: Admin) -> SyncReport:
    """Sync every group rule with its group (``dry_run``: what it would do); a directory that is down: it waits."""
    return site.sync_directory(dry_run=request.dry_run, actor=actor(principal))


@router.post("/users/import", response_model=DirectoryImport, responses=responses(400))
def import_users(request: ImportRequest, site: SiteDep, principal: Admin) -> DirectoryImport:
    """Add or replace built-in directory users from CSV text; all or nothing, each bad row named."""
    return site.import_directory_users(request.csv, actor=actor(principal))
