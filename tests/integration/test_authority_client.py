"""The CAL server's HTTP adapter to the authority: a real authority on loopback, and every bad answer
turned into one refusal with its code, within the timeout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from calkeeper.authority.api import create_authority_app
from calkeeper.authority.settings import AuthoritySettings
from calkeeper.authority.tokens import AdminTokens
from calkeeper.authority_client import MAX_LEF_BYTES, HttpAuthority, authority_from_settings
from calkeeper.core.errors import AuthorityUnavailable, InvalidInput, LicenseRejected
from calkeeper.settings import load_settings
from tests.integration.authority_kit import make_registry, new_site


@pytest.fixture
def registry(tmp_path, clock):
    registry = make_registry(tmp_path / "authority", clock)
    yield registry
    registry.engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(registry, tmp_path) -> Iterator[str]:
    """The authority served over real HTTP on loopback, in a thread."""
    app = create_authority_app(AuthoritySettings(dir=tmp_path / "authority"), registry=registry,
                               tokens=AdminTokens(registry.engine))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def fetch(authority, record, **extra):
    return authority.fetch_lef(serial=record.serial, control=record.control, owner=record.owner,
                               organization=record.organization, **extra)


def test_the_adapter_fetches_the_lef_exactly_as_the_authority_signed_it(served, registry):
    record = new_site(registry)
    assert fetch(HttpAuthority(served + "/"), record) == registry.lef_for(record.serial)


def test_the_adapter_sends_the_sites_lease_key(served, registry):
    record = new_site(registry)
    lease = Ed25519PrivateKey.generate().public_key()
    assert "LEASE_KEY;" in fetch(HttpAuthority(served), record, lease_key=lease)
    assert registry.site(record.serial).lease_key_id is not None


def test_an_unknown_serial_is_refused_with_serial_not_found(served, registry):
    record = new_site(registry)
    with pytest.raises(LicenseRejected) as refused:
        HttpAuthority(served).fetch_lef(serial=record.serial, control="00000", owner="", organization="")
    assert refused.value.code == "serial_not_found"


def _answering(status: int, content: bytes, content_type: str) -> HttpAuthority:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=content,
                                                                   headers={"content-type": content_type}))
    return HttpAuthority("http://lef.example", transport=transport)


@pytest.mark.parametrize(("status", "content", "content_type", "says"), [
    (500, b'{"error": {"code": "internal_error", "message": "database down"}}', "application/json",
     "HTTP 500: database down"),
    (429, b'{"error": {"code": "too_many_requests"}}', "application/json", "try again in a minute"),
    (404, b'{"error": {"code": "not_found", "message": "Not Found"}}', "application/json", "HTTP 404"),
    (200, b"<html>a proxy's login page</html>", "text/html", "HTTP 200"),
    (200, b"\xff\xfe not text", "text/plain", "not UTF-8"),
    (200, b"x" * (MAX_LEF_BYTES + 1), "text/plain", "larger than"),
])
def test_a_bad_answer_is_refused_as_an_authority_error(status, content, content_type, says):
    with pytest.raises(AuthorityUnavailable) as refused:
        _answering(status, content, content_type).fetch_lef(serial="1", control="2", owner="", organization="")
    assert refused.value.code == "authority_error" and says in refused.value.message
    assert "the license in force stays" in refused.value.message


def test_an_authority_that_is_not_running_is_unreachable_at_once():
    authority = HttpAuthority(f"http://127.0.0.1:{free_port()}", timeout=5)
    started = time.monotonic()
    with pytest.raises(AuthorityUnavailable) as refused:
        authority.fetch_lef(serial="1", control="2", owner="", organization="")
    assert refused.value.code == "authority_unreachable" and time.monotonic() - started < 2


@contextmanager
def slow_server(*, answer: bytes = b"", trickle: bytes = b"") -> Iterator[str]:
    """A server that accepts and then says nothing (or trickles a byte every 0.1 s)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(answer)
            for byte in trickle:
                if stop.wait(0.1):
                    return
                connection.sendall(bytes([byte]))
            stop.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


@pytest.mark.parametrize("server", [
    {},
    {"answer": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n", "trickle": b"a" * 100},
])
def test_an_authority_that_is_slow_is_given_up_on_within_the_timeout(server):
    with slow_server(**server) as url:
        started = time.monotonic()
        with pytest.raises(AuthorityUnavailable) as refused:
            HttpAuthority(url, timeout=0.5).fetch_lef(serial="1", control="2", owner="", organization="")
        assert time.monotonic() - started < 1.5
    assert refused.value.code == "authority_unreachable" and "within 0.5 s" in refused.value.message


def test_the_authority_is_configured_by_url_and_timeout(monkeypatch):
    monkeypatch.delenv("CALKEEPER_AUTHORITY_URL", raising=False)
    assert authority_from_settings(load_settings()) is None
    monkeypatch.setenv("CALKEEPER_AUTHORITY_URL", "https://lef.vendor.example/")
    monkeypatch.setenv("CALKEEPER_AUTHORITY_TIMEOUT_SECONDS", "2.5")
    authority = authority_from_settings(load_settings())
    assert (authority.base_url, authority.timeout) == ("https://lef.vendor.example", 2.5)
    monkeypatch.setenv("CALKEEPER_AUTHORITY_URL", "ftp://lef.vendor.example")
    with pytest.raises(InvalidInput, match="http:// or https://"):
        load_settings()
