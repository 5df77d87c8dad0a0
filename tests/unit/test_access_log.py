"""The access log's lines: the Common Log Format, written together, every request once."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re

from starlette.types import Message, Receive, Scope, Send

from calkeeper.api.access_log import MAX_WAITING, AccessLines, AccessLog

LINE = re.compile(r'^10\.0\.0\.7:51234 - - \[\d\d/\w{3}/\d{4}(:\d\d){3} [+-]\d{4}\] '
                  r'"GET /api/v1/cals\?page=2 HTTP/1\.1" (\d{3}[ \w-]*)$')


def scope(path: str = "/api/v1/cals", query: bytes = b"page=2") -> Scope:
    return {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": query,
            "http_version": "1.1", "client": ("10.0.0.7", 51234), "headers": []}


def answering(status: int | None):  # type: ignore[no-untyped-def]
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if status is None:
            raise RuntimeError("the app failed")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
    return app


async def nothing() -> Message:
    return {"type": "http.request", "body": b""}


async def sent(message: Message) -> None:
    pass


def test_a_line_per_request_written_together_after_a_moment() -> None:
    stream = io.StringIO()
    lines = AccessLines(stream)
    log = AccessLog(answering(401), lines)

    async def three() -> str:
        for _ in range(3):
            await log(scope(), nothing, sent)
        before = stream.getvalue()
        await asyncio.sleep(0.3)
        return before

    assert asyncio.run(three()) == ""  # nothing written per request
    written = stream.getvalue().splitlines()
    assert len(written) == 3
    assert all((m := LINE.match(line)) and m.group(2) == "401 Unauthorized" for line in written), written


def test_a_failing_app_is_logged_as_the_500_the_server_answers() -> None:
    stream = io.StringIO()
    lines = AccessLines(stream)

    async def failing() -> None:
        with contextlib.suppress(RuntimeError):
            await AccessLog(answering(None), lines)(scope(), nothing, sent)
        lines.flush()

    asyncio.run(failing())
    assert stream.getvalue().rstrip().endswith('" 500 Internal Server Error')


def test_a_full_buffer_is_written_at_once_and_shutdown_writes_the_rest() -> None:
    stream = io.StringIO()
    lines = AccessLines(stream)
    log = AccessLog(answering(200), lines)

    async def many() -> int:
        for _ in range(MAX_WAITING + 5):
            await log(scope(), nothing, sent)
        written = len(stream.getvalue().splitlines())
        lines.flush()  # what the app's shutdown does
        return written

    assert asyncio.run(many()) == MAX_WAITING
    assert len(stream.getvalue().splitlines()) == MAX_WAITING + 5


def test_a_closed_standard_output_loses_the_log_not_the_request() -> None:
    stream = io.StringIO()
    stream.close()
    lines = AccessLines(stream)
    lines.add(scope(), 200)
    lines.flush()  # no error
    assert lines.waiting == []


class Writes(io.StringIO):
    """A stream that keeps what each flush sent, as the writes a pipe would get."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.sent = 0

    def flush(self) -> None:
        text = self.getvalue()
        if len(text) > self.sent:
            self.writes.append(text[self.sent:])
            self.sent = len(text)


def test_workers_sharing_standard_output_never_cut_each_others_lines() -> None:
    stream = Writes()
    lines = AccessLines(stream)

    async def busy() -> None:
        for n in range(200):
            lines.add(scope(path=f"/api/v1/cals/{'x' * (n % 90)}"), 200)
        assert stream.writes == []  # waiting together
        lines.flush()

    asyncio.run(busy())
    assert len(stream.writes) > 1
    assert all(len(w) <= 4096 and w.endswith("\n") for w in stream.writes)  # a pipe writes 4 KiB at once
    assert "".join(stream.writes).count("\n") == 200
