"""A per-process cache of who holds which Named and Document CAL, so repeat opens skip the database.

Only facts that a change elsewhere could make wrong are cached, and every change that could
(removal, restore, settings, license, documents, clearing) bumps ``site_state.generation`` in its
own transaction. Each process re-reads the generation at most every ``refresh_seconds`` and drops
everything when it moved, so a change made on another node or by the CLI takes effect here within
that bound. Changes made through this process drop the cache at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from calkeeper.core.allocation import OpenRequest, SiteRules
from calkeeper.core.cals import CalType, new_grant_id
from calkeeper.core.clock import Clock, to_minute
from calkeeper.core.documents import DocumentInfo
from calkeeper.core.identities import Identity


@dataclass(slots=True)
class HeldCal:
    """A CAL a user holds, the minute it was last recorded as used, and the machine (key) it serves."""

    cal_id: int
    last_used: datetime | None
    machine: str


@dataclass(frozen=True, slots=True)
class StartedSession:
    """A granted open the cache answered, to be recorded as a session."""

    id: str
    cal_type: CalType
    cal_id: int
    user_name: str | None
    document_id: int
    machine: str
    client: str
    started_at: datetime


@dataclass
class CacheState:
    """What one generation of the database says: the rules, the documents by ``document_key``, the CALs held."""

    generation: int
    rules: SiteRules
    documents: dict[str, DocumentInfo]
    named: dict[tuple[str, str], HeldCal] = field(default_factory=dict)
    document_cals: dict[tuple[str, int], HeldCal] = field(default_factory=dict)


class DecisionCache:
    """The cached state, valid while the generation it was read at is still current."""

    def __init__(self, clock: Clock, *, refresh_seconds: float) -> None:
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.state: CacheState | None = None
        self.checked_at = float("-inf")
        self.lock = threading.Lock()

    def current(self) -> CacheState | None:
        """The cached state if it was confirmed within the refresh bound, else None."""
        state = self.state
        if state is None or self.clock.monotonic() - self.checked_at > self.refresh_seconds:
            return None
        return state

    def confirm(self, generation: int, asked_at: float | None = None) -> CacheState | None:
        """The database says ``generation`` is current (as of ``asked_at``, a monotonic time: by default
        now): keep the state if it matches."""
        state = self.state
        if state is not None and state.generation == generation:
            self.checked_at = self.clock.monotonic() if asked_at is None else asked_at
            return state
        return None

    def replace(self, state: CacheState, asked_at: float | None = None) -> None:
        """A state read from the database (as of ``asked_at``, by default now)."""
        self.state = state
        self.checked_at = self.clock.monotonic() if asked_at is None else asked_at

    def invalidate(self) -> None:
        self.state = None
        self.checked_at = float("-inf")



class LastUsedWrites:
    """What repeat opens answered from memory must write: "last used" minutes and the sessions started.

    Deferred (``deferred = True``, set by ``calkeeper serve``): a repeat open records the session it
    starts (and, in a new minute, the minute) here, and a background task writes them all every
    second or so in one transaction, and before every admin change (so a removal computes its
    quarantine from the right minute), every heartbeat and at shutdown.
    Not deferred (the default, for the CLI and embedders): each such open writes at once.
    """

    MAX_SESSIONS = 100_000  # sessions kept waiting at most (during a database outage): about 20 MB

    def __init__(self) -> None:
        self.deferred = False
        self.pending: dict[tuple[Any, int], datetime] = {}
        self.sessions: list[StartedSession] = []
        self.lock = threading.Lock()
        self.dropped = 0  # sessions that could not be kept (over the bound); counted, logged by the caller

    def full(self) -> bool:
        return len(self.sessions) >= self.MAX_SESSIONS

    def add(self, cal_type: Any, cal_id: int, minute: datetime) -> None:
        with self.lock:
            self.pending[(cal_type, cal_id)] = minute

    def add_session(self, session: StartedSession) -> None:
        self.sessions.append(session)  # list.append is atomic; ``take_sessions`` swaps the list under the lock

    def take(self) -> dict[tuple[Any, int], datetime]:
        with self.lock:
            pending, self.pending = self.pending, {}
        return pending

    def take_sessions(self) -> list[StartedSession]:
        with self.lock:
            sessions, self.sessions = self.sessions, []
        return sessions

    def any(self) -> bool:
        return bool(self.pending or self.sessions)

    def take_all(self) -> tuple[list[StartedSession], dict[tuple[Any, int], datetime]]:
        """Everything waiting, to be written in one transaction (``put_back`` when it fails)."""
        with self.lock:
            sessions, pending = self.sessions, self.pending
            self.sessions, self.pending = [], {}
        return sessions, pending

    def put_back(self, taken: tuple[list[StartedSession], dict[tuple[Any, int], datetime]]) -> None:
        """Keep what a failed transaction did not write, ahead of what came since (within the bound)."""
        sessions, pending = taken
        with self.lock:
            kept = sessions + self.sessions
            if len(kept) > self.MAX_SESSIONS:
                self.dropped += len(kept) - self.MAX_SESSIONS
                kept = kept[-self.MAX_SESSIONS:]
            self.sessions = kept
            for key, minute in pending.items():
                if key not in self.pending or self.pending[key] < minute:
                    self.pending[key] = minute


class NeedsDatabase(Exception):
    """The cache cannot answer alone: the open must go to the database."""


class CachedHoldings:
    """Steps 1 and 2 of the allocation order answered from the cache (the core's ``HeldCals`` port).

    A user it does not know as a holder is not a holder for it, and a CAL it knows on another machine
    than the open's is for the database to judge: the caller then asks the database, which also
    decides every claim. What an open writes (the session it starts, "last used" in a new minute)
    joins the deferred writes (a server), or is written at once through ``write_through`` (the CLI,
    embedders), or, where neither is allowed (on an event loop), raises NeedsDatabase.
    """

    __slots__ = ("found", "now", "session_through", "state", "write_through", "writes")

    def __init__(self, state: CacheState, now: datetime, writes: LastUsedWrites,
                 write_through: Callable[[CalType, int, datetime], None] | None = None,
                 session_through: Callable[[StartedSession], None] | None = None) -> None:
        self.state, self.now, self.writes, self.write_through = state, now, writes, write_through
        self.session_through = session_through
        self.found: HeldCal | None = None

    def held_named_cal(self, identity: Identity) -> int | None:
        self.found = self.state.named.get((identity.kind, identity.key))
        return self.found.cal_id if self.found is not None else None

    def held_document_cal(self, user: Identity, document: DocumentInfo) -> int | None:
        self.found = self.state.document_cals.get((user.key, document.id))
        return self.found.cal_id if self.found is not None else None

    def touch(self, cal_type: CalType, cal_id: int) -> None:
        held = self.found
        assert held is not None and held.cal_id == cal_id
        minute = to_minute(self.now)
        if held.last_used is not None and held.last_used >= minute:
            return
        if self.writes.deferred:
            self.writes.add(cal_type, cal_id, minute)
        elif self.write_through is not None:
            self.write_through(cal_type, cal_id, minute)
        else:
            raise NeedsDatabase()
        held.last_used = minute

    def machines_in_use(self, cal_type: CalType, cal_id: int, machine: Identity, *,
                        active_since: datetime, started_since: datetime) -> list[str]:
        held = self.found
        if held is None or held.machine != machine.key:
            raise NeedsDatabase()  # the CAL last served another machine: only the database knows if it still does
        return []

    def end_sessions_elsewhere(self, cal_type: CalType, cal_id: int, machine: Identity, *, reason: str) -> None:
        raise NeedsDatabase()  # not reached: ``machines_in_use`` answers nothing for another machine

    def start_session(self, request: OpenRequest, cal_type: CalType, cal_id: int) -> str:
        if not self.writes.deferred and self.session_through is None:
            raise NeedsDatabase()
        user = request.user
        started = StartedSession(new_grant_id(cal_type, self.now), cal_type, cal_id, user.name if user else None,
                                 request.document.id, request.machine.name, request.client.value, self.now)
        if self.writes.deferred:
            self.writes.add_session(started)
        else:
            assert self.session_through is not None
            self.session_through(started)
        return started.id
