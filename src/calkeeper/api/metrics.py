"""Prometheus metrics: grants and denials by CAL type, pool levels, request latency.

With several worker processes, set PROMETHEUS_MULTIPROC_DIR (``calkeeper serve`` does) and each
scrape adds up every worker's counters.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from calkeeper.core.cals import Decision
from calkeeper.usecases.pools import Pools

GRANTS = Counter("calkeeper_grants_total", "Opens granted, by CAL type", ["cal_type"])
DENIALS = Counter("calkeeper_denials_total", "Opens denied, by reason code", ["code"])
DEGRADED = Counter("calkeeper_degraded_grants_total",
                   "Opens granted from memory while the CAL database was unavailable, by CAL type", ["cal_type"])
LATENCY = Histogram(
    "calkeeper_request_seconds", "HTTP request latency by route", ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


_children: dict[tuple[object, ...], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """A labelled child of a metric, looked up once (``labels()`` takes a lock on every call)."""
    key = (metric, *labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


def record_decision(decision: Decision) -> None:
    if decision.granted:
        child(GRANTS, decision.cal_type.value).inc()  # type: ignore[union-attr]
        if decision.degraded:  # type: ignore[union-attr]
            child(DEGRADED, decision.cal_type.value).inc()  # type: ignore[union-attr]
    else:
        child(DENIALS, decision.code).inc()  # type: ignore[union-attr]


class PoolCollector:
    """Pool levels read from the database at scrape time."""

    def __init__(self, pools: Pools) -> None:
        self.pools = pools

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            overview = self.pools.cal_overview()
        except Exception:  # a scrape must not fail because the store is away; /readyz says so
            return
        families = {
            name: GaugeMetricFamily(f"calkeeper_pool_{name}", f"CALs {name.replace('_', ' ')}, by CAL type",
                                    labels=["cal_type"])
            for name in ("in_license", "assigned", "quarantined", "free", "excess")
        }
        for pool in overview.pools:
            for name, family in families.items():
                family.add_metric([pool.cal_type], getattr(pool, name))
        yield from families.values()
        try:
            drift = self.pools.counter_drift()
        except Exception:  # as above
            return
        yield GaugeMetricFamily("calkeeper_pool_counters_disagreeing",
                                "Pool counters that disagree with the rows they count (0 on a healthy site)",
                                value=len(drift))


def exposition(pools: Pools) -> tuple[bytes, str]:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus-client leaves it untyped
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    levels = CollectorRegistry()
    levels.register(PoolCollector(pools))
    return generate_latest(registry) + generate_latest(levels), CONTENT_TYPE_LATEST
