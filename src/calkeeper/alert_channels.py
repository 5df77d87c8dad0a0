"""Where alerts go: webhooks (JSON, HMAC-signed, retried with back-off) and e-mail through SMTP.

A webhook receives ``POST`` with a JSON body ``{"event", "key", "kind", "message", "at", "node"}`` and
the headers ``X-Calkeeper-Timestamp`` (Unix seconds) and ``X-Calkeeper-Signature: sha256=HEX``, the
HMAC-SHA256, keyed with the shared secret, of ``TIMESTAMP.BODY``. A receiver recomputes it and refuses a
request whose signature differs or whose timestamp is old. A 2xx answer is a delivery; a 5xx, a 429 or
no answer is retried (1 s, 2 s, 4 s... between attempts); any other answer is not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

import httpx

from calkeeper.usecases.alerts import AlertEvent, Delivery

SIGNATURE_HEADER = "X-Calkeeper-Signature"
TIMESTAMP_HEADER = "X-Calkeeper-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The value of the signature header for a body sent at a time."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _payload(event: AlertEvent, node: str) -> bytes:
    return json.dumps({"event": event.event, "key": event.key, "kind": event.kind, "message": event.message,
                       "at": event.at.isoformat().replace("+00:00", "Z"), "node": node},
                      sort_keys=True).encode()


@dataclass
class WebhookChannel:
    url: str
    secret: str
    node: str = ""
    attempts: int = 4
    backoff_seconds: float = 1.0
    timeout_seconds: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def send(self, event: AlertEvent) -> Delivery:
        body = _payload(event, self.node)
        error = ""
        for attempt in range(1, self.attempts + 1):
            timestamp = str(int(time.time()))
            headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
                       SIGNATURE_HEADER: signature(self.secret, timestamp, body), "User-Agent": "calkeeper-alerts"}
            try:
                answer = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout_seconds)
            except httpx.HTTPError as problem:
                error = f"no answer: {str(problem) or type(problem).__name__}"
            else:
                if answer.is_success:
                    return Delivery("webhook", self.url, attempt, True)
                error = f"answered {answer.status_code}"
                if answer.status_code < 500 and answer.status_code != 429:
                    return Delivery("webhook", self.url, attempt, False, error)
            if attempt < self.attempts:
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return Delivery("webhook", self.url, self.attempts, False, error)


@dataclass
class EmailChannel:
    host: str
    port: int
    sender: str
    recipients: list[str]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    attempts: int = 3
    backoff_seconds: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def send(self, event: AlertEvent) -> Delivery:
        message = EmailMessage()
        message["Subject"] = f"calkeeper alert {event.event}: {event.key}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(f"{event.message}\n\nAlert: {event.key} ({event.kind}), {event.event} at "
                            f"{event.at:%Y-%m-%d %H:%M} UTC.\n")
        target = f"smtp://{self.host}:{self.port} to {', '.join(self.recipients)}"
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
                    if self.starttls:
                        smtp.starttls()
                    if self.username:
                        smtp.login(self.username, self.password or "")
                    smtp.send_message(message)
                return Delivery("email", target, attempt, True)
            except (OSError, smtplib.SMTPException) as problem:
                error = str(problem) or type(problem).__name__
            if attempt < self.attempts:
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return Delivery("email", target, self.attempts, False, error)
