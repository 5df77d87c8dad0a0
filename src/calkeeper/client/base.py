"""What the blocking and the async client share: the URL and token, how a call is sent, how its answer is read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx

from calkeeper.client.calls import Call
from calkeeper.client.errors import error_from_response
from calkeeper.core import errors as e
from calkeeper.core.errors import ServerUnavailable


class ClientBase:
    """The parts of a client that do no I/O of their own."""

    def __init__(self, base_url: str, token: str, timeout: float) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise e.InvalidInput(f"the server URL must start with http:// or https:// (got '{base_url}')")
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": "calkeeper-client/0.1"}

    @staticmethod
    def _request(call: Call) -> dict[str, Any]:
        headers = {"Idempotency-Key": call.idempotency_key} if call.idempotency_key else {}
        if call.content is not None:
            headers["Content-Type"] = "application/json"
            return {"method": call.method, "url": call.path, "content": call.content, "params": call.params,
                    "headers": headers}
        return {"method": call.method, "url": call.path, "json": call.json, "params": call.params,
                "headers": headers or None}

    def _unreachable(self, error: httpx.TransportError) -> ServerUnavailable:
        if isinstance(error, httpx.TimeoutException):
            return ServerUnavailable(f"the calkeeper server at {self.base_url} did not answer "
                                     f"within {self.timeout:g} s")
        return ServerUnavailable(f"cannot reach the calkeeper server at {self.base_url}: "
                                 f"{str(error) or type(error).__name__}")

    @staticmethod
    def _read(call: Call, response: httpx.Response) -> Any:
        if response.is_error:
            raise error_from_response(response)
        return ClientBase._parse(call, response, response.json)

    @staticmethod
    def _parse(call: Call, response: httpx.Response, answer: Any) -> Any:
        """``call.parse`` of the answer (``answer()`` reads it), or bad_response when it is not what was expected."""
        try:
            return call.parse(answer())
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise e.CalkeeperError(f"the answer of {response.request.url} is not what this client expects: {error}",
                                   code="bad_response") from None


@contextmanager
def saving(target: Path) -> Iterator[IO[bytes]]:
    """A file to download into, put in place as ``target`` only once complete: a failed download leaves no file."""
    partial = target.with_name(f".{target.name}.part")
    try:
        # A backup holds the license and every user's CALs: readable by its owner only, as a local one is.
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
            yield file
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def read_file(source: Path) -> bytes:
    """A local file to send, or InvalidInput naming it when it cannot be read."""
    try:
        return source.read_bytes()
    except FileNotFoundError:
        raise e.InvalidInput(f"there is no file at {source}; nothing was imported") from None
    except OSError as error:
        raise e.InvalidInput(f"{source} cannot be read ({error.strerror or error}); nothing was imported") from None


def read_upload(source: Path) -> bytes:
    """A local file to send, or BackupError naming it when it cannot be read (as a local restore says)."""
    try:
        return source.read_bytes()
    except FileNotFoundError:
        raise e.BackupError(f"there is no backup file at {source}") from None
    except OSError as error:
        raise e.BackupError(f"{source} is not a readable calkeeper backup ({error})") from None
