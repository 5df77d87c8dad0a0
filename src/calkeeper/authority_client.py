"""The CAL server's adapter to the license authority over HTTP (httpx): the ``LicenseAuthority`` port.

The whole exchange is bounded by one timeout (5 s by default, ``CALKEEPER_AUTHORITY_TIMEOUT_SECONDS``):
an authority that is down, slow or trickling bytes is given up on, and the license in force stays.
The site's serial and control number travel in a POST body, so they stay out of access logs.
"""

from __future__ import annotations

import base64
import json
import time

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import calkeeper
from calkeeper.core.authority import serial_not_found
from calkeeper.core.errors import AuthorityUnavailable
from calkeeper.core.keys import raw_public
from calkeeper.settings import Settings

MAX_LEF_BYTES = 256 * 1024


class HttpAuthority:
    """Fetches LEFs from a license authority at ``base_url`` (``POST <base_url>/lef``)."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.transport = transport

    def fetch_lef(
        self,
        *,
        serial: str,
        control: str,
        owner: str,
        organization: str,
        lease_key: Ed25519PublicKey | None = None,
    ) -> str:
        """Return the newest LEF for the site, exactly as the authority sent it."""
        payload = {"serial": serial, "control": control, "owner": owner, "organization": organization}
        if lease_key is not None:
            payload["lease_key"] = base64.b64encode(raw_public(lease_key)).decode()
        status, content_type, data = self._post("/lef", payload)
        if status == 200 and content_type.startswith("text/plain"):
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise self._bad("its answer is not UTF-8 text") from None
        if status == 404 and _error_code(data) == "serial_not_found":
            raise serial_not_found()
        if status == 429:
            raise self._bad("it refuses requests from this server for a while after repeated failures; "
                            "try again in a minute")
        raise self._bad(f"it answered HTTP {status}" + (f": {_error_message(data)}" if _error_message(data) else ""))

    def _post(self, path: str, payload: dict[str, str]) -> tuple[int, str, bytes]:
        url = self.base_url + path
        deadline = time.monotonic() + self.timeout
        headers = {"Accept": "text/plain", "User-Agent": f"calkeeper/{calkeeper.__version__}"}
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(self.timeout), transport=self.transport) as client,
                client.stream("POST", url, json=payload, headers=headers) as response,
            ):
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_LEF_BYTES:
                        raise self._bad(f"its answer is larger than {MAX_LEF_BYTES // 1024} KiB")
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("the answer took too long", request=response.request)
                    chunks.append(chunk)
                return response.status_code, response.headers.get("content-type", ""), b"".join(chunks)
        except httpx.TimeoutException:
            raise AuthorityUnavailable(
                f"the license authority at {self.base_url} did not answer within {self.timeout:g} s; "
                "the license in force stays. Try again later", code="authority_unreachable",
            ) from None
        except httpx.HTTPError as error:
            raise AuthorityUnavailable(
                f"the license authority at {self.base_url} cannot be reached ({type(error).__name__}: "
                f"{str(error) or 'no detail'}); the license in force stays", code="authority_unreachable",
            ) from None

    def _bad(self, why: str) -> AuthorityUnavailable:
        return AuthorityUnavailable(
            f"the license authority at {self.base_url} answered badly: {why}; the license in force stays",
            code="authority_error",
        )


def _error_body(data: bytes) -> dict[str, object]:
    try:
        parsed = json.loads(data)
    except ValueError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


def _error_code(data: bytes) -> str:
    return str(_error_body(data).get("code", ""))


def _error_message(data: bytes) -> str:
    return str(_error_body(data).get("message", ""))[:300]


def authority_from_settings(settings: Settings) -> HttpAuthority | None:
    """The authority the settings point at (``CALKEEPER_AUTHORITY_URL``), or None when none is set."""
    if not settings.authority_url:
        return None
    return HttpAuthority(settings.authority_url, timeout=settings.authority_timeout_seconds)
