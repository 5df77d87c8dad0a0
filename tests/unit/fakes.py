"""An in-memory AllocationPort: the pools as dicts, capacity checked on every claim, calls recorded."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from calkeeper.core.allocation import AllocationPort, OpenRequest
from calkeeper.core.cals import CalType
from calkeeper.core.documents import DocumentInfo
from calkeeper.core.identities import Identity


def holder(identity: Identity) -> str:
    """A Named CAL is held by a user or a machine: the kind keeps the two apart."""
    return f"{identity.kind}:{identity.key}"


@dataclass
class FakeCal:
    """A Named or Document CAL; a removed one is quarantined: it occupies its pool but serves nobody."""

    id: int
    holder: str
    document: int | None = None
    removed: bool = False
    last_used: datetime | None = None


class FakePort:
    """Named and Document CALs, Session CALs per client instance, Usage CALs per holder and document."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.named: dict[int, FakeCal] = {}
        self.document: dict[int, FakeCal] = {}
        self.session: dict[str, int] = {}  # client key -> Session CAL id
        self.usage: dict[tuple[str, int], int] = {}  # (holder key, document id) -> Usage CAL id
        self.sessions: dict[str, tuple[CalType, int]] = {}  # started sessions
        self.machines: dict[str, str] = {}  # the machine (key) of each started session that has not ended
        self.touched: list[tuple[CalType, int]] = []
        self.calls: list[str] = []
        self.in_license: dict[str, int] = {}  # the count each claim was told the license holds
        self._ids = itertools.count(1)

    # -- arranging a test ------------------------------------------------------------------------

    def give_named(self, identity: Identity, *, removed: bool = False) -> int:
        cal = FakeCal(next(self._ids), holder(identity), removed=removed)
        self.named[cal.id] = cal
        return cal.id

    def give_document(self, user: Identity, document: DocumentInfo, *, removed: bool = False) -> int:
        cal = FakeCal(next(self._ids), holder(user), document=document.id, removed=removed)
        self.document[cal.id] = cal
        return cal.id

    def fill_sessions(self, count: int) -> None:
        for n in range(count):
            self.session[f"someone-else-{n}"] = next(self._ids)

    def fill_usage(self, count: int) -> None:
        for n in range(count):
            self.usage[(f"someone-else-{n}", -1)] = next(self._ids)

    # -- the port --------------------------------------------------------------------------------

    def held_named_cal(self, identity: Identity) -> int | None:
        self.calls.append("held_named_cal")
        return next((c.id for c in self.named.values() if c.holder == holder(identity) and not c.removed), None)

    def held_document_cal(self, user: Identity, document: DocumentInfo) -> int | None:
        self.calls.append("held_document_cal")
        return next(
            (c.id for c in self.document.values()
             if c.holder == holder(user) and c.document == document.id and not c.removed),
            None,
        )

    def claim_named_cal(self, identity: Identity, *, in_license: int, machine: str | None = None) -> int | None:
        self.calls.append("claim_named_cal")
        self.in_license["named"] = in_license
        already = any(c.holder == holder(identity) for c in self.named.values())
        if already or len(self.named) >= in_license:
            return None
        cal = FakeCal(next(self._ids), holder(identity), last_used=self.now)
        self.named[cal.id] = cal
        return cal.id

    def claim_document_cal(self, user: Identity, document: DocumentInfo, *, in_license: int,
                           machine: str | None = None) -> int | None:
        self.calls.append("claim_document_cal")
        self.in_license["document"] = in_license
        for_document = [c for c in self.document.values() if c.document == document.id]
        already = any(c.holder == holder(user) for c in for_document)
        if already or len(for_document) >= document.cals_allocated or len(self.document) >= in_license:
            return None
        cal = FakeCal(next(self._ids), holder(user), document=document.id, last_used=self.now)
        self.document[cal.id] = cal
        return cal.id

    def claim_session_cal(self, request: OpenRequest, *, in_license: int) -> int | None:
        self.calls.append("claim_session_cal")
        self.in_license["session"] = in_license
        if request.client_key in self.session:
            return self.session[request.client_key]
        if len(self.session) >= in_license:
            return None
        self.session[request.client_key] = next(self._ids)
        return self.session[request.client_key]

    def claim_usage_cal(self, request: OpenRequest, *, in_license: int) -> int | None:
        self.calls.append("claim_usage_cal")
        self.in_license["usage"] = in_license
        key = (request.holder_key, request.document.id)
        if key in self.usage:
            return self.usage[key]
        if len(self.usage) >= in_license:
            return None
        self.usage[key] = next(self._ids)
        return self.usage[key]

    def touch(self, cal_type: CalType, cal_id: int) -> None:
        self.touched.append((cal_type, cal_id))
        (self.named if cal_type is CalType.NAMED else self.document)[cal_id].last_used = self.now

    def start_session(self, request: OpenRequest, cal_type: CalType, cal_id: int) -> str:
        session_id = f"{cal_type.value}-session-{next(self._ids)}"
        self.sessions[session_id] = (cal_type, cal_id)
        self.machines[session_id] = request.machine.key
        return session_id

    def machines_in_use(self, cal_type: CalType, cal_id: int, machine: Identity, *,
                        active_since: datetime, started_since: datetime) -> list[str]:
        return [m for sid, m in self.machines.items() if self.sessions[sid] == (cal_type, cal_id) and m != machine.key]

    def end_sessions_elsewhere(self, cal_type: CalType, cal_id: int, machine: Identity, *, reason: str) -> None:
        for sid in [sid for sid, m in self.machines.items()
                    if self.sessions[sid] == (cal_type, cal_id) and m != machine.key]:
            del self.machines[sid]

    # -- reading back ----------------------------------------------------------------------------

    def named_holders(self) -> list[str]:
        return [c.holder for c in self.named.values()]


def _conforms(now: datetime) -> AllocationPort:
    return FakePort(now)  # mypy checks here that the fake keeps to the protocol
