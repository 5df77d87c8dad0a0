"""Pool occupancy as counters, so that a claim costs the same in an empty pool as in a pool of 100,000 CALs.

What each counter counts, always changed in the transaction that changes its rows:

- ``cal_pools.used`` of ``named``: every ``named_cals`` row (held, quarantined, or quarantined until a
  time now past and not yet freed); of ``document``: every ``document_cals`` row; ``documents.used``:
  that document's ``document_cals`` rows.
- ``cal_pools.used`` of ``session`` and ``usage``: the rows whose ``counted`` flag is set. A Session CAL is
  counted from its claim until a sweep finds its release time passed; a Usage CAL until a sweep finds its
  28 days passed. The sweep un-counts the row and decrements the counter in one transaction.

So a counter is never below the CALs occupying its pool now; it is above by the rows whose time has
passed but that no sweep has reached yet. A claim checks the counter first (one conditional UPDATE that
also takes the pool's row lock); only when the pool looks full does it sweep (under the same lock) and
check again, so a pool is never over-allocated and never refuses a CAL that is free.

``drift`` compares every counter with its rows: the reconciliation check behind the metric and the
tests. ``recount`` sets every counter from its rows (after a restore, or by hand).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, func, select, text, update

from calkeeper.core.cals import CalType
from calkeeper.infra.database import UtcDateTime, table_of
from calkeeper.store.schema import CalPool, Document, DocumentCal, NamedCal, SessionCal, UsageCal

pool_t = table_of(CalPool)
doc_t = table_of(Document)
named_t = table_of(NamedCal)
doccal_t = table_of(DocumentCal)
session_cal_t = table_of(SessionCal)
usage_t = table_of(UsageCal)

# Built once: SQLAlchemy compiles each a single time and finds it in its cache on every later call.
RESERVE = (
    update(pool_t).where(pool_t.c.cal_type == bindparam("pool"), pool_t.c.used < bindparam("limit"))
    .values(used=pool_t.c.used + 1).returning(pool_t.c.used)
)
ADJUST = update(pool_t).where(pool_t.c.cal_type == bindparam("pool")).values(used=pool_t.c.used + bindparam("delta"))
LOCK = update(pool_t).where(pool_t.c.cal_type == bindparam("pool")).values(claims=pool_t.c.claims + 1)
RESERVE_DOCUMENT = (
    update(doc_t).where(doc_t.c.id == bindparam("document"), doc_t.c.used < doc_t.c.cals_allocated)
    .values(used=doc_t.c.used + 1).returning(doc_t.c.id)
)
ADJUST_DOCUMENT = (
    update(doc_t).where(doc_t.c.id == bindparam("document")).values(used=doc_t.c.used + bindparam("delta"))
)
SWEEP_SESSION_CALS = text(
    "UPDATE session_cals SET counted = false WHERE counted = true AND released_at <= :now"
).bindparams(bindparam("now", type_=UtcDateTime()))
SWEEP_USAGE_CALS = text(
    "UPDATE usage_cals SET counted = false WHERE counted = true AND returns_at <= :now"
).bindparams(bindparam("now", type_=UtcDateTime()))


def _rows() -> dict[CalType, object]:
    """What each pool's counter counts, as a scalar subquery."""
    return {
        CalType.NAMED: select(func.count()).select_from(named_t).scalar_subquery(),
        CalType.DOCUMENT: select(func.count()).select_from(doccal_t).scalar_subquery(),
        CalType.SESSION: (select(func.count()).select_from(session_cal_t).where(session_cal_t.c.counted)
                          .scalar_subquery()),
        CalType.USAGE: select(func.count()).select_from(usage_t).where(usage_t.c.counted).scalar_subquery(),
    }


def _document_rows() -> object:
    return (select(func.count()).select_from(doccal_t).where(doccal_t.c.document_id == doc_t.c.id)
            .scalar_subquery())


def recount(connection: Connection, *, now: datetime | None = None) -> None:
    """Set every counter from the rows (and, given the time, un-count Session and Usage CALs whose time passed)."""
    if now is not None:
        connection.execute(SWEEP_SESSION_CALS, {"now": now})
        connection.execute(SWEEP_USAGE_CALS, {"now": now})
    for cal_type, rows in _rows().items():
        connection.execute(update(pool_t).where(pool_t.c.cal_type == cal_type.value).values(used=rows))
    connection.execute(update(doc_t).values(used=_document_rows()))


def drift(connection: Connection) -> dict[str, tuple[int, int]]:
    """The counters that disagree with their rows, {pool or "document:<id>": (counter, rows)}; empty when all agree."""
    rows = _rows()
    found: dict[str, tuple[int, int]] = {}
    for cal_type, counted in rows.items():
        used, actual = connection.execute(
            select(pool_t.c.used, counted).where(pool_t.c.cal_type == cal_type.value)  # type: ignore[call-overload]
        ).one()
        if used != actual:
            found[cal_type.value] = (int(used), int(actual))
    for doc_id, used, actual in connection.execute(select(doc_t.c.id, doc_t.c.used, _document_rows())):  # type: ignore[call-overload]
        if used != actual:
            found[f"document:{doc_id}"] = (int(used), int(actual))
    return found


def read(connection: Connection) -> dict[str, int]:
    """Every counter as it stands, {pool or "document:<id>": used}."""
    found = {str(pool): int(used) for pool, used in connection.execute(select(pool_t.c.cal_type, pool_t.c.used))}
    found |= {f"document:{doc_id}": int(used) for doc_id, used in connection.execute(select(doc_t.c.id, doc_t.c.used))}
    return found


def zero(connection: Connection) -> None:
    """Every counter to zero (every row they count was just deleted)."""
    connection.execute(update(pool_t).values(used=0))
    connection.execute(update(doc_t).where(doc_t.c.used != 0).values(used=0))
