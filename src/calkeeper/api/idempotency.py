"""``Idempotency-Key`` on requests that change something: a retried request is answered, not run again.

Only a known caller's key is looked at (the token is checked first, by ``auth.BearerGate``), and only
on a POST, PUT, PATCH or DELETE of an ``/api/v1`` route that exists. Keys are bound to the token
that sent them: another token, or the same one once revoked, never gets the answer. Answers are
kept 24 hours. Answers that say the caller was not allowed (401, 403, 429) or that the server
failed (5xx) are not kept, so a retry can succeed.
"""

from __future__ import annotations

import hashlib

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calkeeper.api.asgi import answer_error, header, routed
from calkeeper.api.auth import PRINCIPAL, Principal
from calkeeper.core.errors import CalkeeperError
from calkeeper.infra.http_errors import error_response

HEADER = b"idempotency-key"
CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_KEPT = {401, 403, 429}


class IdempotencyMiddleware:
    """Pure ASGI, so requests without the header pass straight through at no cost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = header(scope, HEADER) if scope["type"] == "http" and scope["method"] in CHANGES else None
        principal = scope.get(PRINCIPAL)  # set for /api/v1 requests only, once their token is known
        if not given or not isinstance(principal, Principal) or not routed(scope):  # a 404 or 405 keeps no key
            await self.app(scope, receive, send)
            return
        if len(given) > 200:
            await answer_error(scope, receive, send, "invalid_request",
                               "the Idempotency-Key is longer than 200 characters")
            return
        keys = scope["app"].state.application.idempotency
        key = f"{principal.token_id}:{given.decode('latin-1')}"
        payload = await _read_body(receive)
        fingerprint = hashlib.sha256(f"{scope['method']} {scope['path']}\n".encode() + payload).hexdigest()
        try:
            stored = await run_in_threadpool(keys.claim_idempotency_key, key, fingerprint)
        except CalkeeperError as error:
            await error_response(error)(scope, receive, send)
            return
        if stored is not None:
            replay = Response(stored.body, stored.status_code, media_type="application/json",
                              headers={"Idempotent-Replayed": "true"})
            await replay(scope, receive, send)
            return
        status: list[int] = []
        chunks: list[bytes] = []
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": payload, "more_body": False}
            return await receive()

        settled = False

        async def settle() -> None:
            nonlocal settled
            if settled:
                return
            settled = True
            code = status[0] if status else 500
            if code >= 500 or code in NOT_KEPT:
                await run_in_threadpool(keys.release_idempotency_key, key)
            else:
                await run_in_threadpool(keys.store_idempotent_answer, key, code, b"".join(chunks).decode())

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # Keep the answer before the client has it: a retry sent the moment it arrives
                    # must be replayed, not told the request is still in progress.
                    await settle()
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            await run_in_threadpool(keys.release_idempotency_key, key)  # only an unanswered claim is released
            raise
        await settle()


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)
