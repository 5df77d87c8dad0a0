"""The access log: one line per request, in the Common Log Format, to standard output.

    10.0.0.7:51234 - - [30/Nov/2026:08:38:25 +0000] "GET /api/v1/cals HTTP/1.1" 401 Unauthorized

The address is the one the app believes (after the ``forwarded_allow_ips`` rule), as uvicorn's own
access log gives it. Lines are written together a fifth of a second after the first of them, and at
shutdown: a busy gate writes a few times a second instead of once per request, and formats the time
once per second instead of once per line.
"""

from __future__ import annotations

import asyncio
import sys
import time
from http import HTTPStatus
from typing import TextIO
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FLUSH_AFTER_SECONDS = 0.2
MAX_WAITING = 4096  # lines: past this many, they are written at once
WRITE_BYTES = 4096  # at most per write: PIPE_BUF on Linux (lines are ASCII: the path is quoted)


def _phrase(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


STATUS = {status.value: _phrase(status.value) for status in HTTPStatus}


class AccessLines:
    """The lines waiting to be written, and when they are written."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream  # None: sys.stdout when written (as a test may replace it)
        self.waiting: list[str] = []
        self.flush_due = False
        self.second = -1
        self.stamp = ""

    def add(self, scope: Scope, status: int) -> None:
        now = int(time.time())
        if now != self.second:
            self.second, self.stamp = now, time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(now))
        client, query = scope.get("client"), scope.get("query_string")
        address = f"{client[0]}:{client[1]}" if client else ""  # as uvicorn's access log gives them
        path = quote(scope["path"]) + (f"?{query.decode('ascii', 'backslashreplace')}" if query else "")
        self.waiting.append(f'{address} - - [{self.stamp}] "{scope["method"]} {path} HTTP/{scope["http_version"]}" '
                            f'{STATUS.get(status) or _phrase(status)}\n')
        if len(self.waiting) >= MAX_WAITING:
            self.flush()
        elif not self.flush_due:
            self.flush_due = True
            try:
                asyncio.get_running_loop().call_later(FLUSH_AFTER_SECONDS, self.flush)
            except RuntimeError:  # no loop (not reached under an ASGI server): write now
                self.flush()

    def flush(self) -> None:
        """Write the lines waiting (the app's shutdown calls it too), whole lines at most 4 KiB at a time.

        Worker processes share standard output: a write of up to 4 KiB (PIPE_BUF) to a pipe is never
        interleaved with another process's, so no line is ever cut by another worker's.
        """
        self.flush_due = False
        if not self.waiting:
            return
        lines, self.waiting = self.waiting, []
        stream = self.stream or sys.stdout
        chunk: list[str] = []
        size = 0
        try:
            for line in lines:
                if chunk and size + len(line) > WRITE_BYTES:
                    stream.write("".join(chunk))
                    stream.flush()
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line)
            stream.write("".join(chunk))
            stream.flush()
        except (OSError, ValueError):  # standard output closed or gone: the log is lost, never the request
            pass


class AccessLog:
    """Pure ASGI middleware: logs each HTTP request once its answer has started (or failed)."""

    def __init__(self, app: ASGIApp, lines: AccessLines) -> None:
        self.app = app
        self.lines = lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the app fails before it answers

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            self.lines.add(scope, status)
