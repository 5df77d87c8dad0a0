"""License leases: the history (``GET /api/v1/leases``), ending a machine's lease, revoking a user's."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

from calkeeper.api.deps import Admin, Reader, SiteDep, actor
from calkeeper.api.json_bodies import StrictJsonRoute
from calkeeper.api.schemas import Body, QueryParameters
from calkeeper.contract.views import LeaseView
from calkeeper.infra.http_errors import responses

router = APIRouter(prefix="/api/v1/leases", responses=responses(401, 403, 422, 429, 503),
                   route_class=StrictJsonRoute, tags=["license leases"])


class LeasesQuery(QueryParameters):
    user: str = Field("", max_length=300, description="DOMAIN\\user; empty: every user")
    machine: str = Field("", max_length=100, description="A machine name (any case); empty: every machine")
    state: Literal["all", "live", "ended"] = Field("all", description="live: neither ended nor run out")
    limit: int = Field(100, ge=1, le=1000)


class RevokeRequest(Body):
    user: str = Field(..., max_length=300, description="DOMAIN\\user whose leases are revoked")


@router.get("", response_model=list[LeaseView])
def list_leases(site: SiteDep, _: Reader, query: Annotated[LeasesQuery, Query()]) -> list[LeaseView]:
    """The lease history, newest first: user, machine, fingerprint, leased, renewed, expires, ended and why."""
    return site.list_leases(user=query.user, machine=query.machine, state=query.state, limit=query.limit)


@router.post("/revoke", response_model=list[LeaseView], responses=responses(400))
def revoke_leases(request: RevokeRequest, site: SiteDep, principal: Admin) -> list[LeaseView]:
    """Revoke a user's leases: the client is refused at its next connection, and reports the lease revoked."""
    return site.revoke_leases(request.user, actor=actor(principal))


@router.post("/{lease_id}/end", response_model=LeaseView, responses=responses(404))
def end_lease(lease_id: Annotated[str, Path(max_length=40)], site: SiteDep, principal: Admin) -> LeaseView:
    """End one machine's lease to free its place; the client's next connection gets a new one if allowed."""
    return site.end_lease(lease_id, actor=actor(principal))
