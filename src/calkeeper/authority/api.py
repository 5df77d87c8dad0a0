"""The license authority's HTTP service: LEFs for sites, published keys, and the vendor's admin API.

    GET  /healthz                      alive
    GET  /keys                         every public key (the active one signs new LEFs), as JSON
    GET  /keys/<key id>.pub            one public key, PEM
    GET  /lef?serial=&control=&owner=&organization=[&lease_key=]   the site's newest LEF (text)
    POST /lef   {"serial", "control", "owner", "organization", "lease_key"?}   the same, off the URL
    /api/v1/sites...                   the vendor's admin API (Bearer admin token)

A serial and control number that match no site get 404 ``serial_not_found`` with one message,
whether the serial exists or not; an address that keeps failing is slowed down, then refused for a
minute (429). Errors have calkeeper's one shape, ``{"error": {"code", "message", "details"}}``, with the
status of their code in ``calkeeper.core.error_codes``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from calkeeper.authority.database import open_engine
from calkeeper.authority.keys import list_keys
from calkeeper.authority.registry import KEEP, Registry, SiteEvent, SiteRecord
from calkeeper.authority.settings import AuthoritySettings, load_authority_settings
from calkeeper.authority.tokens import AdminToken, AdminTokens
from calkeeper.core.errors import NotFound
from calkeeper.core.keys import public_key_from_text
from calkeeper.infra import http_errors
from calkeeper.infra.brake import FailureBrake
from calkeeper.infra.http_errors import ApiError

LEF_MEDIA_TYPE = "text/plain; charset=utf-8"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LefRequest(Body):
    serial: str = Field(..., max_length=40)
    control: str = Field(..., max_length=20)
    owner: str = Field("", max_length=200)
    organization: str = Field("", max_length=200)
    lease_key: str | None = Field(None, max_length=1000, description="The site's lease-signing public key")


class SiteCreate(Body):
    owner: str = Field(..., min_length=1, max_length=200)
    organization: str = Field(..., min_length=1, max_length=200)
    named: int = Field(..., ge=1)
    document: int = Field(0, ge=0)
    session: int = Field(0, ge=0)
    usage: int = Field(0, ge=0)
    time_limit: date | None = None
    maintenance_until: date | None = None
    lease: bool = True
    serial: str | None = Field(None, description="Keep an existing serial (16 digits); a new one by default")


class Purchase(Body):
    named: int = Field(0, ge=0)
    document: int = Field(0, ge=0)
    session: int = Field(0, ge=0)
    usage: int = Field(0, ge=0)


class SiteChange(Body):
    named: int | None = Field(None, ge=1)
    document: int | None = Field(None, ge=0)
    session: int | None = Field(None, ge=0)
    usage: int | None = Field(None, ge=0)
    time_limit: date | None = Field(None, description="null removes the time limit")
    maintenance_until: date | None = Field(None, description="null: maintenance without an end date")
    lease: bool | None = None


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


async def _admin(request: Request) -> AdminToken:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    brake: FailureBrake = request.app.state.token_brake
    if scheme.lower() != "bearer" or not secret.strip():
        await brake.check(_address(request), failed=False)
        raise ApiError("unauthorized", "send the authority's admin token: 'Authorization: Bearer <token>'",
                       {"WWW-Authenticate": "Bearer"})
    tokens: AdminTokens = request.app.state.tokens
    token = await run_in_threadpool(tokens.verify, secret.strip())
    if token is None:
        await brake.check(_address(request), failed=True)
        raise ApiError("unauthorized", "the admin token is not valid or was revoked",
                       {"WWW-Authenticate": "Bearer"})
    return token


RegistryDep = Annotated[Registry, Depends(_registry)]
Admin = Annotated[AdminToken, Depends(_admin)]
public = APIRouter(tags=["sites' requests"])
admin = APIRouter(prefix="/api/v1", tags=["vendor admin"])


@public.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@public.get("/keys")
def keys(request: Request) -> dict[str, Any]:
    """Every public key of the authority; LEFs are signed with the active one, older ones stay listed."""
    found = list_keys(_registry(request).keys_dir)
    return {"active": next((k.key_id for k in found if k.active), None),
            "keys": [{"key_id": k.key_id, "active": k.active, "created_at": k.created_at,
                      "public_key": k.public_key_pem} for k in found]}


@public.get("/keys/{key_id}.pub", response_class=PlainTextResponse)
def key_file(key_id: str, request: Request) -> PlainTextResponse:
    """One public key as a PEM file, ready for ``calkeeper authority trust``."""
    for key in list_keys(_registry(request).keys_dir):
        if key.key_id == key_id:
            return PlainTextResponse(key.public_key_pem, media_type="application/x-pem-file")
    raise NotFound(f"the authority has no key '{key_id}'; see GET /keys", code="unknown_key")


@public.get("/lef", response_class=PlainTextResponse, responses={404: {"description": "serial_not_found"}})
async def get_lef(
    request: Request,
    serial: Annotated[str, Query(max_length=40)],
    control: Annotated[str, Query(max_length=20)],
    owner: Annotated[str, Query(max_length=200)] = "",
    organization: Annotated[str, Query(max_length=200)] = "",
    lease_key: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """The site's newest LEF, signed with the active key (the text exactly as it must be applied)."""
    return await _lef(request, LefRequest(serial=serial, control=control, owner=owner, organization=organization,
                                          lease_key=lease_key))


@public.post("/lef", response_class=PlainTextResponse, responses={404: {"description": "serial_not_found"}})
async def post_lef(request: Request, body: LefRequest) -> Response:
    """The same as GET /lef, with the serial and control number kept out of URLs and logs."""
    return await _lef(request, body)


async def _lef(request: Request, body: LefRequest) -> Response:
    brake: FailureBrake = request.app.state.lef_brake
    address = _address(request)
    await brake.check(address, failed=False)
    lease_key = public_key_from_text(body.lease_key) if body.lease_key else None
    try:
        text = await run_in_threadpool(
            _registry(request).fetch_lef, serial=body.serial, control=body.control, owner=body.owner,
            organization=body.organization, lease_key=lease_key, address=address)
    except NotFound:
        await brake.check(address, failed=True)
        raise
    return PlainTextResponse(text, media_type=LEF_MEDIA_TYPE)


@admin.post("/sites", status_code=201)
def create_site(body: SiteCreate, registry: RegistryDep, token: Admin) -> SiteRecord:
    """Record a new site and what it bought; the answer holds its serial and control number."""
    return registry.create_site(**body.model_dump(), actor=f"token:{token.name}")


@admin.get("/sites")
def list_sites(registry: RegistryDep, _: Admin) -> list[SiteRecord]:
    """Every site, oldest first."""
    return registry.sites()


@admin.get("/sites/{serial}")
def show_site(serial: str, registry: RegistryDep, _: Admin) -> SiteRecord:
    """One site: what it holds, and when it last fetched its LEF."""
    return registry.site(serial)


@admin.post("/sites/{serial}/purchases")
def add_cals(serial: str, body: Purchase, registry: RegistryDep, token: Admin) -> SiteRecord:
    """Record a purchase: CALs added to the site (its next LEF holds them)."""
    return registry.add_cals(serial, **body.model_dump(), actor=f"token:{token.name}")


@admin.patch("/sites/{serial}")
def change_site(serial: str, body: SiteChange, registry: RegistryDep, token: Admin) -> SiteRecord:
    """Set terms outright: CAL counts (decreases too), time limit, end of maintenance, leasing."""
    given = body.model_fields_set
    return registry.change_site(
        serial, named=body.named, document=body.document, session=body.session, usage=body.usage,
        time_limit=body.time_limit if "time_limit" in given else KEEP,
        maintenance_until=body.maintenance_until if "maintenance_until" in given else KEEP,
        lease=body.lease, actor=f"token:{token.name}")


@admin.get("/sites/{serial}/history")
def site_history(serial: str, registry: RegistryDep, _: Admin) -> list[SiteEvent]:
    """What happened to a site, newest first."""
    return registry.history(serial)


@admin.get("/sites/{serial}/lef", response_class=PlainTextResponse)
def site_lef(serial: str, registry: RegistryDep, _: Admin) -> Response:
    """The site's newest LEF, for the vendor to send by hand."""
    return PlainTextResponse(registry.lef_for(serial), media_type=LEF_MEDIA_TYPE)


def create_authority_app(
    settings: AuthoritySettings | None = None,
    *,
    registry: Registry | None = None,
    tokens: AdminTokens | None = None,
    lef_brake: FailureBrake | None = None,
) -> FastAPI:
    """Build the authority's service (its database opened from the settings unless a registry is given)."""
    settings = settings or load_authority_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        if registry is None or tokens is None:
            engine = open_engine(settings.database)
        app.state.registry = registry or Registry(engine, keys_dir=settings.keys_dir)  # type: ignore[arg-type]
        app.state.tokens = tokens or AdminTokens(engine)  # type: ignore[arg-type]
        yield
        if engine is not None:
            engine.dispose()

    app = FastAPI(title="calkeeper license authority", version="0.1.0", docs_url="/docs",
                  openapi_url="/openapi.json", redoc_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.lef_brake = lef_brake or FailureBrake(
        "too many serial and control numbers that match no site from this address; wait a minute")
    app.state.token_brake = FailureBrake("too many requests with bad admin tokens from this address; wait a minute")
    http_errors.install(app)
    app.include_router(public)
    app.include_router(admin)
    return app
