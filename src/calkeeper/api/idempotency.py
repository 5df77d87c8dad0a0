"""``Idempotency-Key`` on state-changing POSTs: a retried request is answered, not run again.

Keys are scoped to the caller's token. Answers are kept 24 hours. Answers that say the caller was
not allowed (401, 403, 429) or that the server failed (5xx) are not kept, so a retry can succeed.
"""

from __future__ import annotations

import hashlib

from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from calkeeper.api.errors import body
from calkeeper.core.errors import CalkeeperError

HEADER = "idempotency-key"
NOT_KEPT = {401, 403, 429}


class IdempotencyMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        given = request.headers.get(HEADER)
        if request.method != "POST" or not given:
            return await call_next(request)
        if len(given) > 200:
            return JSONResponse(body("invalid_request", "the Idempotency-Key is longer than 200 characters"), 422)
        site = request.app.state.site
        caller = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()[:16]
        key = f"{caller}:{given}"
        payload = await request.body()
        fingerprint = hashlib.sha256(request.url.path.encode() + b"\n" + payload).hexdigest()
        try:
            stored = await run_in_threadpool(site.claim_idempotency_key, key, fingerprint)
        except CalkeeperError as error:
            status = 503 if error.code == "store_unavailable" else 409
            return JSONResponse(body(error.code, error.message), status)
        if stored is not None:
            return Response(stored.body, stored.status_code, media_type="application/json",
                            headers={"Idempotent-Replayed": "true"})
        try:
            response = await call_next(request)
            content = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
        except BaseException:
            await run_in_threadpool(site.release_idempotency_key, key)
            raise
        if response.status_code >= 500 or response.status_code in NOT_KEPT:
            await run_in_threadpool(site.release_idempotency_key, key)
        else:
            await run_in_threadpool(site.store_idempotent_answer, key, response.status_code, content.decode())
        return Response(content, response.status_code, headers=dict(response.headers),
                        media_type=response.media_type)
