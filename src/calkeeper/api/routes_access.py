"""The access gate: may this user open this document? And ending sessions."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from calkeeper.api.deps import Gate, SiteDep
from calkeeper.api.metrics import record_decision
from calkeeper.api.schemas import AccessAnswer, AccessRequest
from calkeeper.core.cals import Decision
from calkeeper.services.views import SessionEnd

router = APIRouter(prefix="/api/v1", tags=["access gate"])


def answer(decision: Decision) -> AccessAnswer:
    if decision.granted:
        return AccessAnswer(granted=True, cal_type=decision.cal_type.value, session_id=decision.session_id,  # type: ignore[union-attr]
                            user=decision.user, document=decision.document, reason=decision.reason,
                            dynamic=decision.dynamic)  # type: ignore[union-attr]
    return AccessAnswer(granted=False, user=decision.user, document=decision.document, reason=decision.reason,
                        code=decision.code)  # type: ignore[union-attr]


@router.post("/access", response_model=AccessAnswer)
async def access(request: AccessRequest, site: SiteDep, _: Gate) -> AccessAnswer:
    """Ask whether a user may open a document; the answer names the CAL used, or why not."""
    args = (request.user or None, request.document)
    kwargs = {"machine": request.machine, "client": request.client}
    decision = site.cached_open(*args, **kwargs)
    if decision is None:
        decision = await run_in_threadpool(site.open_document, *args, **kwargs)
    record_decision(decision)
    return answer(decision)


@router.post("/sessions/{session_id}/end", response_model=SessionEnd)
def end_session(session_id: str, site: SiteDep, _: Gate) -> SessionEnd:
    """End a session; a Session CAL is held at least 15 minutes from its start."""
    return site.close_session(session_id)
