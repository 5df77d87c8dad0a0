"""The desktop client's "Open in Server": its documents, opening one, and its license lease.

These routes take no API token: the caller is a user, named by the site's single sign-on proxy (its NT
identity, believed only from ``CALKEEPER_SSO_PROXIES``) or by an alternate identity, a user id and password
sent as HTTP Basic credentials and checked by the site's directory.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from calkeeper.api.json_bodies import StrictJsonRoute
from calkeeper.api.routes_access import answer
from calkeeper.api.schemas import AccessAnswer, Body
from calkeeper.bootstrap import Application
from calkeeper.core.allocation import AccessAsk
from calkeeper.core.directory import DirectoryAccount
from calkeeper.core.errors import SignInRefused
from calkeeper.infra.http_errors import responses
from calkeeper.infra.peer import peer_of

router = APIRouter(prefix="/desktop/v1", responses=responses(401, 422, 429, 503), route_class=StrictJsonRoute,
                   tags=["desktop client"])


class OpenRequest(Body):
    document: str = Field(..., min_length=1, max_length=1000)
    machine: str = Field(..., max_length=200, description="The client machine's name")


class LeaseRequest(Body):
    machine: str = Field(..., max_length=200, description="The client machine's name")
    fingerprint: str = Field(..., max_length=64, description="The machine's fingerprint (docs/lease-format.md)")
    server: str = Field(..., max_length=500, description="The server's URL as the client connected to it")
    lease_id: str | None = Field(None, max_length=40, description="The lease this machine holds, if any")


class DesktopDocuments(BaseModel):
    user: str
    folders: list[str]
    documents: list[str]


class LeaseAnswer(BaseModel):
    lease: str = Field(..., description="The signed lease file, for the client to check and keep")
    lease_id: str
    renewed: bool
    expires_at: datetime


def _application(request: Request) -> Application:
    application = request.app.state.application
    assert isinstance(application, Application)
    return application


def _caller(request: Request) -> DirectoryAccount:
    """The user: an alternate identity's Basic credentials, else the NT identity a trusted proxy names."""
    application = _application(request)
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    user = password = None
    if scheme.lower() == "basic":
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            sep = ""
        if not sep:
            raise SignInRefused("the alternate identity is sent as HTTP Basic credentials: user id and password")
    proxied = application.trusted_proxies.user(peer_of(request.scope), dict(request.headers))
    client = request.client
    return application.desktop_sign_in.identify(proxied=proxied, user=user, password=password,
                                                address=client.host if client else "unknown")


@router.post("/documents", response_model=DesktopDocuments)
def documents(request: Request) -> DesktopDocuments:
    """Who the server takes the caller for, and the folders and documents it offers."""
    account = _caller(request)
    paths = sorted(d.path for d in _application(request).documents.list_documents(scan=False) if not d.missing)
    folders = sorted({"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)})
    return DesktopDocuments(user=account.name, folders=folders, documents=paths)


@router.post("/open", response_model=AccessAnswer, responses=responses(404))
async def open_document(request: Request, body: OpenRequest) -> dict[str, object]:
    """Open a document in the server as the caller, from the desktop client on this machine."""
    account = await run_in_threadpool(_caller, request)
    access = _application(request).access
    ask = AccessAsk.parse(account.name, body.document, machine=body.machine, client="desktop")
    decision = access.cached_decision(ask)
    if decision is None:
        decision = await run_in_threadpool(access.decide, ask)
    return answer(decision)


@router.post("/lease", response_model=LeaseAnswer, responses=responses(409))
def lease(request: Request, body: LeaseRequest) -> LeaseAnswer:
    """Grant this machine a 30-day license lease for the caller, or renew the one it holds."""
    account = _caller(request)
    client = request.client
    granted = _application(request).leases.grant_lease(
        user=account.name, machine=body.machine, fingerprint=body.fingerprint, server=body.server,
        presented=body.lease_id, address=client.host if client else "unknown")
    return LeaseAnswer(lease=granted.text, lease_id=granted.lease.lease_id, renewed=granted.renewed,
                       expires_at=granted.lease.expires_at)
