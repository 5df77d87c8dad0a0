"""Alerts raised and cleared, and the record of each one's deliveries to webhooks and by e-mail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from calkeeper.contract.views import AlertDeliveryView, AlertView
from calkeeper.infra.database import table_of
from calkeeper.store.schema import AlertDelivery, AlertRecord

alert_t = table_of(AlertRecord)
delivery_t = table_of(AlertDelivery)
KEEP_DELIVERIES = 1000


class Alerts:
    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now

    def all(self) -> list[AlertView]:
        """Every alert known, raised ones first, newest first."""
        rows = self.connection.execute(select(alert_t).order_by(alert_t.c.raised_at.desc())).mappings()
        alerts = [AlertView(r["key"], r["kind"], r["message"], r["raised_at"], r["cleared_at"]) for r in rows]
        return sorted(alerts, key=lambda a: a.cleared_at is not None)

    def raise_(self, key: str, kind: str, message: str) -> None:
        if self.connection.execute(select(alert_t.c.key).where(alert_t.c.key == key)).first() is None:
            self.connection.execute(insert(alert_t).values(key=key, kind=kind, message=message, raised_at=self.now))
        else:
            self.connection.execute(update(alert_t).where(alert_t.c.key == key).values(
                kind=kind, message=message, raised_at=self.now, cleared_at=None))

    def clear(self, key: str) -> None:
        self.connection.execute(update(alert_t).where(alert_t.c.key == key).values(cleared_at=self.now))

    def record_delivery(self, *, alert_key: str, event: str, channel: str, target: str, attempts: int,
                        delivered: bool, error: str | None) -> None:
        self.connection.execute(insert(delivery_t).values(
            at=self.now, alert_key=alert_key[:200], event=event, channel=channel, target=target[:500],
            attempts=attempts, delivered=delivered, error=error))
        oldest = select(delivery_t.c.id).order_by(delivery_t.c.id.desc()).offset(KEEP_DELIVERIES).limit(1)
        cut = self.connection.execute(oldest).scalar()
        if cut is not None:
            self.connection.execute(delete(delivery_t).where(delivery_t.c.id <= cut))

    def deliveries(self, *, limit: int = 100) -> list[AlertDeliveryView]:
        rows = self.connection.execute(select(delivery_t).order_by(delivery_t.c.id.desc()).limit(limit)).mappings()
        return [AlertDeliveryView(r["id"], r["at"], r["alert_key"], r["event"], r["channel"], r["target"],
                                  r["attempts"], r["delivered"], r["error"]) for r in rows]
