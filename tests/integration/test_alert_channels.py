"""Alerts delivered to a real local webhook receiver (signature checked, retries with back-off) and a
real local SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from calkeeper.alert_channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, EmailChannel, WebhookChannel
from calkeeper.usecases.alerts import AlertEvent
from tests.e2e.servers import free_port
from tests.kit import apply_license

SECRET = "a-webhook-secret-of-some-length"


class Receiver:
    """A webhook receiver that checks each signature; it answers 503 to the first ``failures`` requests."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                stamp = self.headers[TIMESTAMP_HEADER]
                wanted = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body,
                                              hashlib.sha256).hexdigest()
                if not hmac.compare_digest(wanted, self.headers[SIGNATURE_HEADER]):
                    self.send_response(401)
                elif receiver.requests <= receiver.failures:
                    self.send_response(503)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=2)
    yield r
    r.close()


EVENT = AlertEvent("pool.named", "pool", "raised", "2 of 2 Named User CALs are in use",
                   datetime(2026, 3, 1, tzinfo=UTC))


def test_a_webhook_is_signed_and_retried_with_back_off_until_delivered(receiver):
    waits: list[float] = []
    channel = WebhookChannel(receiver.url, SECRET, node="node-1", sleep=waits.append)
    delivery = channel.send(EVENT)
    assert delivery.delivered and delivery.attempts == 3
    assert waits == [1.0, 2.0]
    assert receiver.received == [{"event": "raised", "key": "pool.named", "kind": "pool", "node": "node-1",
                                  "message": EVENT.message, "at": "2026-03-01T00:00:00Z"}]


def test_a_webhook_with_the_wrong_secret_is_refused_and_not_retried(receiver):
    delivery = WebhookChannel(receiver.url, "another-secret-entirely", sleep=lambda _: None).send(EVENT)
    assert not delivery.delivered and delivery.attempts == 1 and delivery.error == "answered 401"


def test_an_unreachable_webhook_is_given_up_after_its_attempts():
    delivery = WebhookChannel("http://127.0.0.1:9/hook", SECRET, attempts=2, timeout_seconds=1,
                              sleep=lambda _: None).send(EVENT)
    assert not delivery.delivered and delivery.attempts == 2 and delivery.error.startswith("no answer")


def test_alerts_go_to_the_webhook_once_each_and_the_deliveries_are_recorded(site, key, receiver):
    apply_license(site, key, named=1)
    site.app.alerts.channels = [WebhookChannel(receiver.url, SECRET, sleep=lambda _: None)]
    site.assign_named_cals("ACME\\alice")
    site.app.alerts.evaluate()
    site.app.alerts.evaluate()
    site.app.alerts.drain()
    assert [r["key"] for r in receiver.received] == ["pool.named"]
    deliveries = site.alerts().deliveries
    assert [(d.alert_key, d.event, d.attempts, d.delivered) for d in deliveries] == [("pool.named", "raised", 3, True)]
    tested = site.test_alerts()
    assert tested[0].delivered and receiver.received[-1]["event"] == "test"


def test_an_alert_is_sent_by_e_mail_through_smtp():
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        def __init__(self) -> None:
            self.messages: list[bytes] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.messages.append(envelope.content)
            return "250 OK"

    handler = Keep()
    port = free_port()
    controller = aiosmtpd.Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = EmailChannel("127.0.0.1", port, "calkeeper@acme.example", ["ops@acme.example"], starttls=False,
                               sleep=lambda _: None)
        delivery = channel.send(EVENT)
    finally:
        controller.stop()
    assert delivery.delivered and delivery.attempts == 1
    text = handler.messages[0].decode()
    assert "Subject: calkeeper alert raised: pool.named" in text and EVENT.message in text
