"""Alerts: a pool nearly exhausted, opens refused for want of a CAL, the license or maintenance ending.

The upkeep evaluates the conditions once a minute. Each alert is raised once, when its condition
starts, and cleared once, when it ends (``alerts`` keeps its state, so several nodes agree and a
restart does not raise it again); both go to the log, the audit trail, and every channel configured
(webhooks, e-mail). Channels are sent to off the upkeep's thread, each delivery retried with back-off
and recorded (``alert_deliveries``).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from calkeeper.contract.views import AlertDeliveryView, AlertsView, AlertView
from calkeeper.core.cals import CalType
from calkeeper.core.errors import InvalidInput
from calkeeper.store.unit_of_work import Transaction, UnitOfWork
from calkeeper.usecases.session_life import UPKEEP_ACTOR

log = logging.getLogger("calkeeper.alerts")


@dataclass(frozen=True)
class AlertEvent:
    """An alert raised or cleared (or a test), as channels send it."""

    key: str
    kind: str
    event: str  # "raised", "cleared" or "test"
    message: str
    at: datetime


@dataclass(frozen=True)
class Delivery:
    """How a channel's sending went: after how many attempts, and the last error when it failed."""

    channel: str
    target: str
    attempts: int
    delivered: bool
    error: str | None = None


class AlertChannel(Protocol):
    """Somewhere alerts go: a webhook or a mailbox. ``send`` retries as it sees fit and never raises."""

    def send(self, event: AlertEvent) -> Delivery: ...


@dataclass(frozen=True)
class AlertPolicy:
    """The thresholds: per pool, a share of CALs in use (percent; 0 turns the pool's alert off); any denial
    for want of a CAL within the last ``denial_minutes``; the license and its maintenance ending soon."""

    pool_percent: dict[str, float] = field(default_factory=lambda: {t.value: 90.0 for t in CalType})
    denial_minutes: float = 60.0
    license_days: int = 30
    maintenance_days: int = 30


def conditions(tx: Transaction, policy: AlertPolicy) -> dict[str, tuple[str, str]]:
    """The alerts whose condition holds now, by key: (kind, message)."""
    found: dict[str, tuple[str, str]] = {}
    terms = tx.licenses.terms()
    for cal_type, pool in tx.assignments.pools(terms).items():
        percent = policy.pool_percent.get(cal_type.value, 0.0)
        if percent > 0 and pool.in_license > 0 and pool.assigned * 100 >= percent * pool.in_license:
            found[f"pool.{cal_type.value}"] = (
                "pool", f"{pool.assigned} of {pool.in_license} {cal_type.label}s are in use "
                        f"({100 * pool.assigned / pool.in_license:.0f}%, the threshold is {percent:g}%)")
    if policy.denial_minutes > 0:
        refused = tx.activity.denial_count(since=tx.now - timedelta(minutes=policy.denial_minutes),
                                           code="no_cal_available")
        if refused:
            found["denials.no_cal_available"] = (
                "denial", f"{refused} open{'s were' if refused != 1 else ' was'} refused for want of a CAL in the "
                          f"last {policy.denial_minutes:g} minutes")
    today = tx.now.date()
    if terms is not None:
        if terms.time_limit is not None and today + timedelta(days=policy.license_days) >= terms.time_limit:
            found["license.expiring"] = ("license", f"the server license expires on {terms.time_limit} "
                                                    f"({(terms.time_limit - today).days} days from today)")
        until = terms.maintenance_until
        if until is not None and today + timedelta(days=policy.maintenance_days) >= until:
            found["maintenance.ending"] = ("maintenance", f"the license's maintenance period ends on {until} "
                                                          f"({(until - today).days} days from today)")
    # the pools' occupancy counters must equal their rows (the reconciliation check)
    for name, (counter, rows) in tx.site_data.counter_drift().items():
        found[f"counters.{name}"] = ("counters", f"the {name} pool counter says {counter} and its rows say {rows}; "
                                                 "the counter no longer guards capacity exactly")
    return found


class Alerts:
    """Evaluate the alerts, list them with their deliveries, and send a test."""

    def __init__(self, *, uow: UnitOfWork, policy: AlertPolicy | None = None,
                 channels: list[AlertChannel] | None = None) -> None:
        self.uow = uow
        self.policy = policy or AlertPolicy()
        self.channels = channels or []
        self.outbox: queue.Queue[AlertEvent] = queue.Queue()
        self.sender: threading.Thread | None = None

    def evaluate(self) -> list[AlertEvent]:
        """Raise the alerts whose condition began and clear those whose condition ended; the events, once each."""
        with self.uow.write() as tx:
            now_holding = conditions(tx, self.policy)
            known = {a.key: a for a in tx.alerts.all()}
            events = []
            for key, (kind, message) in now_holding.items():
                current = known.get(key)
                if current is None or current.cleared_at is not None:
                    tx.alerts.raise_(key, kind, message)
                    tx.history.audit(UPKEEP_ACTOR, "alert.raised", key, message=message)
                    events.append(AlertEvent(key, kind, "raised", message, tx.now))
            for key, alert in known.items():
                if alert.cleared_at is None and key not in now_holding:
                    tx.alerts.clear(key)
                    tx.history.audit(UPKEEP_ACTOR, "alert.cleared", key, message=alert.message)
                    events.append(AlertEvent(key, alert.kind, "cleared", f"cleared: {alert.message}", tx.now))
        for event in events:
            (log.warning if event.event == "raised" else log.info)("alert %s %s: %s", event.key, event.event,
                                                                   event.message)
            if self.channels:
                self._queue(event)
        return events

    def _queue(self, event: AlertEvent) -> None:
        self.outbox.put(event)
        if self.sender is None or not self.sender.is_alive():
            self.sender = threading.Thread(target=self._send_queued, name="calkeeper-alerts", daemon=True)
            self.sender.start()

    def _send_queued(self) -> None:
        while True:
            try:
                event = self.outbox.get(timeout=5)
            except queue.Empty:
                return
            self.deliver(event)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until the queued alerts are sent (at shutdown, and in tests)."""
        sender = self.sender
        if sender is not None:
            sender.join(timeout)

    def deliver(self, event: AlertEvent) -> list[Delivery]:
        """Send one event to every channel now, and record each delivery."""
        done = [channel.send(event) for channel in self.channels]
        with self.uow.write() as tx:
            for d in done:
                tx.alerts.record_delivery(alert_key=event.key, event=event.event, channel=d.channel, target=d.target,
                                          attempts=d.attempts, delivered=d.delivered, error=d.error)
        return done

    def alerts(self, *, limit: int = 100) -> AlertsView:
        """The alerts (raised ones first) and the newest deliveries."""
        with self.uow.read() as tx:
            return AlertsView(tx.alerts.all(), tx.alerts.deliveries(limit=limit))

    def test(self) -> list[AlertDeliveryView]:
        """Send a test alert to every channel now; what became of each."""
        if not self.channels:
            raise InvalidInput("no alert channel is configured: set CALKEEPER_ALERT_WEBHOOKS or CALKEEPER_SMTP_HOST")
        with self.uow.read() as tx:
            now = tx.now
        event = AlertEvent("test", "test", "test", "a test alert from calkeeper: this channel works", now)
        log.info("alert test sent to %d channels", len(self.channels))
        self.deliver(event)
        with self.uow.read() as tx:
            return tx.alerts.deliveries(limit=len(self.channels))


def active(alerts: list[AlertView]) -> list[AlertView]:
    """The alerts raised and not cleared."""
    return [a for a in alerts if a.cleared_at is None]
