"""The access gate: may this user open this document? And ending sessions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from calkeeper.api.auth import allow, principal_of
from calkeeper.api.deps import GATE, Gate, SiteDep
from calkeeper.api.json_bodies import PlainRoute
from calkeeper.api.metrics import record_decision
from calkeeper.api.schemas import AccessAnswer, AccessRequest, parse_body
from calkeeper.contract.views import SessionEnd, SessionTouch
from calkeeper.core.allocation import AccessAsk
from calkeeper.core.cals import Decision, Grant
from calkeeper.infra.http_errors import responses

router = APIRouter(prefix="/api/v1", tags=["access gate"], responses=responses(401, 403, 422, 429, 503))


def answer(decision: Decision) -> dict[str, object]:
    """The AccessAnswer of a decision, as plain JSON-ready data."""
    if isinstance(decision, Grant):
        return {"granted": True, "cal_type": decision.cal_type.value, "session_id": decision.session_id,
                "user": decision.user, "document": decision.document, "reason": decision.reason, "code": None,
                "dynamic": decision.dynamic, "cal_id": decision.cal_id, "degraded": decision.degraded}
    return {"granted": False, "cal_type": None, "session_id": None, "user": decision.user,
            "document": decision.document, "reason": decision.reason, "code": decision.code, "dynamic": False,
            "cal_id": None, "degraded": False}


_ACCESS_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AccessRequest"}}},
}


async def access(request: Request) -> Response:
    """Ask whether a user may open a document; the answer names the CAL used, or why not."""
    # The hot path of every app server: the role check, the body and the answer are handled by hand
    # here (a PlainRoute: no dependency resolution, no response-model pass); the documented shapes are the same.
    # BearerGate has checked the token before the body was read.
    allow(await principal_of(request), GATE)
    body = parse_body(AccessRequest, await request.body())
    access = request.app.state.application.access
    ask = AccessAsk.parse(body.user or None, body.document, machine=body.machine, client=body.client)
    decision = access.cached_decision(ask)
    if decision is None:
        decision = await run_in_threadpool(access.decide, ask)
    record_decision(decision)
    if isinstance(decision, Grant) and decision.degraded:
        return JSONResponse(answer(decision), headers={"X-Calkeeper-Degraded": "true"})
    return JSONResponse(answer(decision))


router.add_api_route("/access", access, methods=["POST"], response_model=AccessAnswer,
                     responses=responses(400, 404, 409), openapi_extra={"requestBody": _ACCESS_BODY},
                     route_class_override=PlainRoute)
ACCESS_PATH = "/api/v1/access"
[ACCESS_ROUTE] = [r for r in router.routes if isinstance(r, APIRoute) and r.path == ACCESS_PATH]  # api.gate_lane's


@router.post("/sessions/{session_id}/end", response_model=SessionEnd, responses=responses(404, 409))
def end_session(session_id: str, site: SiteDep, _: Gate) -> SessionEnd:
    """End a session; a Session CAL is held at least 15 minutes from its start."""
    return site.close_session(session_id)


@router.post("/sessions/{session_id}/touch", response_model=SessionTouch, responses=responses(404))
def touch_session(session_id: str, site: SiteDep, _: Gate) -> SessionTouch:
    """A session's heartbeat: it goes on (a Usage CAL session consumes another CAL each hour), or must end.

    Send one every few minutes while the user works: a session without one for the idle timeout ends
    by itself. ``active`` false says why the session must end (an idle or over-long session, or no
    Usage CAL left for its next hour; that refusal is recorded with the denials).
    """
    return site.touch_session(session_id)
