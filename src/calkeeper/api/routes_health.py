"""Liveness, readiness and metrics."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from calkeeper.api.deps import Reader
from calkeeper.api.metrics import exposition
from calkeeper.core.errors import StoreUnavailable
from calkeeper.infra.http_errors import body, responses

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={**responses(503), 203: {"description": "degraded: the database is unavailable; "
                                                                         "holders' opens are answered from memory"}})
def readyz(request: Request) -> Response:
    """200 ready; 203 degraded (the database is unavailable, users who hold a CAL are still served); 503 down."""
    application = request.app.state.application
    try:
        with application.uow.read() as tx:
            tx.site_state.generation()
    except StoreUnavailable as error:
        outage = application.outage
        if application.cache.state is not None and outage.may_answer_from_memory():
            return JSONResponse({"status": "degraded", "database_unavailable_since": _iso(outage.since),
                                 "degraded_until": _iso(outage.degraded_until()), "message": error.message}, 203)
        return JSONResponse(body(error.code, error.message), 503, headers={"Retry-After": "1"})
    return JSONResponse({"status": "ready"})


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@router.get("/metrics", response_class=Response, responses={
    200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
    **responses(401, 403, 429, 503)})
async def metrics(request: Request, _: Reader) -> Response:
    """Prometheus metrics (grants, denials, pool levels, request latency)."""
    content, media_type = await run_in_threadpool(exposition, request.app.state.application.pools)
    return Response(content, media_type=media_type)
