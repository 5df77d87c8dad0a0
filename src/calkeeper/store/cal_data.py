"""CAL data as a whole: clearing every assignment, allocation, quarantine, session and usage record."""

from __future__ import annotations

from sqlalchemy import Connection, delete, update

from calkeeper.store.claims import doc_t, doccal_t, named_t, session_cal_t, session_t, usage_t
from calkeeper.store.site_state import bump_generation


def clear_cal_data(connection: Connection) -> dict[str, int]:
    """Remove every assignment, allocation, quarantine, session and usage record; return how many of each."""
    counts = {}
    for name, table in (("sessions", session_t), ("session_cals", session_cal_t), ("usage_cals", usage_t),
                        ("document_cals", doccal_t), ("named_cals", named_t)):
        counts[name] = connection.execute(delete(table)).rowcount
    counts["document_allocations"] = connection.execute(
        update(doc_t).where(doc_t.c.cals_allocated > 0).values(cals_allocated=0)
    ).rowcount
    bump_generation(connection)
    return counts
