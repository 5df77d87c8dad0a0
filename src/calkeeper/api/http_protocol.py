"""The HTTP/1.1 protocol ``calkeeper serve`` runs: uvicorn's httptools one, with a bound on a request's head.

uvicorn bounds a request's head only with its pure-Python h11 protocol, which serves about half the
requests per second httptools does. Here httptools keeps parsing, and a request line and headers
larger than ``MAX_HEAD_BYTES`` are answered 431 in the one error shape and the connection is closed;
no more than one socket read past the bound is ever buffered.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from calkeeper.infra.http_errors import body

MAX_HEAD_BYTES = 32 * 1024
HEADERS_TOO_LARGE = f"the request's headers are larger than the {MAX_HEAD_BYTES // 1024} KB this server accepts"


class HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing; uvicorn then calls ``send_400_response``."""


class BoundedHeadProtocol(HttpToolsProtocol):
    """Counts the bytes of each request head as they arrive, and refuses a head that grows past the bound."""

    _head_bytes = 0  # the bytes of reads that ended inside the head being read
    _reading = 0  # the size of the read being parsed
    _in_head = True  # until the parser has the whole head of the request being read
    _too_large = False

    def data_received(self, data: bytes) -> None:
        self._reading = len(data)
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._too_large = True
                self.send_400_response("")

    def on_headers_complete(self) -> None:
        # The head ended in this read: it is no larger than the reads before it and this one. Only when
        # that could pass the bound is it measured, so that a request of usual size costs one addition.
        if self._head_bytes + self._reading > MAX_HEAD_BYTES and self._measured_head() > MAX_HEAD_BYTES:
            self._too_large = True
            raise HeadTooLarge()
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True  # what comes next is the head of the next request on this connection
        super().on_message_complete()

    def _measured_head(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def send_400_response(self, msg: str) -> None:
        if not self._too_large:
            super().send_400_response(msg)
            return
        content = json.dumps(body("headers_too_large", HEADERS_TOO_LARGE)).encode()
        self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
                             b"content-length: " + str(len(content)).encode() + b"\r\nconnection: close\r\n\r\n"
                             + content)
        self.transport.close()
