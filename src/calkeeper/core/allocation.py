"""The allocation order: which CAL a user gets when opening a document (QlikView's seven steps).

The order lives here; the claims it makes go through an ``AllocationPort`` that the store implements
with conditional statements, so that capacity is enforced by the database however many requests
arrive at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from calkeeper.core.cals import (
    CalType,
    ClientType,
    Decision,
    Denial,
    Grant,
    IdentificationMode,
    SessionLimits,
)
from calkeeper.core.documents import DocumentInfo
from calkeeper.core.errors import InvalidInput
from calkeeper.core.identities import Identity, parse_machine, parse_user
from calkeeper.core.license import LicenseTerms

DEFAULT_SESSION_LIMITS = SessionLimits()


@dataclass(frozen=True, slots=True)
class SiteRules:
    """The server-wide settings and license the order runs under."""

    terms: LicenseTerms | None
    allow_dynamic_assignment: bool
    identification_mode: IdentificationMode
    maintenance: bool
    sessions: SessionLimits = DEFAULT_SESSION_LIMITS
    # a Named or Document CAL in use on one machine: an open from another is refused (False), or ends the
    # sessions there and moves the CAL to the new machine (True)
    second_machine_takes_over: bool = False


@dataclass(slots=True)
class OpenRequest:
    """User U (or nobody: anonymous) opens document D from machine M with client type C."""

    user: Identity | None
    machine: Identity
    client: ClientType
    document: DocumentInfo

    @property
    def holder_key(self) -> str:
        """Who holds a Session or Usage CAL: the user, or the machine for an anonymous user."""
        return self.user.key if self.user else f"anonymous@{self.machine.key}"

    @property
    def client_key(self) -> str:
        """One client instance: user-or-anonymous + machine + client type."""
        return f"{self.holder_key}|{self.machine.key}|{self.client.value}"


ANONYMOUS_MACHINE = "UNKNOWN"  # the machine of a named user's open that names none
# Enum members read through their class cost a descriptor call each; the hot path reads these names.
_NAMED, _DOCUMENT, _BY_MACHINE = CalType.NAMED, CalType.DOCUMENT, IdentificationMode.MACHINE


@dataclass(slots=True)
class AccessAsk:
    """An app server's question, parsed once at the edge: who opens which document, from where, how."""

    user: Identity | None
    machine: Identity
    client: ClientType
    document: str  # the name as given; ``document_key`` finds the document

    @classmethod
    def parse(cls, user: str | None, document: str, *, machine: str | None = None,
              client: str | ClientType = ClientType.AJAX) -> AccessAsk:
        """Check and parse the names; raise InvalidUsers for a malformed name, InvalidInput for a client type."""
        who = _user(user) if user else None
        if who is None and not (machine and machine.strip()):
            # every anonymous client would otherwise be one instance, sharing one Session CAL
            raise InvalidInput("an anonymous open must name its machine (or the client instance's id), so that "
                               "each client instance is counted on its own")
        where = _machine(machine or ANONYMOUS_MACHINE)
        try:
            kind = client if isinstance(client, ClientType) else ClientType(client)
        except ValueError:
            raise InvalidInput(
                f"the client type is one of {', '.join(c.value for c in ClientType)}, not '{client}'"
            ) from None
        return cls(who, where, kind, document)

    def on(self, document: DocumentInfo) -> OpenRequest:
        """The open this question asks for, once its document is found."""
        return OpenRequest(self.user, self.machine, self.client, document)


# App servers ask about the same users and machines all day: each name is checked once, then found
# again (a name that fails its check is not kept; the identities kept are immutable).
_user = lru_cache(maxsize=65536)(parse_user)
_machine = lru_cache(maxsize=16384)(parse_machine)


class HeldCals(Protocol):
    """Steps 1 and 2 of the order: the CALs a user already holds. The store answers, or the decision cache."""

    def held_named_cal(self, identity: Identity) -> int | None:
        """The id of the active (not removed) Named CAL of this user or machine."""

    def held_document_cal(self, user: Identity, document: DocumentInfo) -> int | None:
        """The id of the active Document CAL of this user for this document."""

    def touch(self, cal_type: CalType, cal_id: int) -> None:
        """Record "last used" on a Named or Document CAL (to the minute)."""

    def machines_in_use(self, cal_type: CalType, cal_id: int, machine: Identity, *,
                        active_since: datetime, started_since: datetime) -> list[str]:
        """The other machines where a live session of this CAL runs (active and started since the times given)."""

    def end_sessions_elsewhere(self, cal_type: CalType, cal_id: int, machine: Identity, *, reason: str) -> None:
        """End the open sessions of this CAL on every machine but this one."""

    def start_session(self, request: OpenRequest, cal_type: CalType, cal_id: int) -> str:
        """Record a granted open as a session on its CAL and return its id (``new_grant_id``)."""


class AllocationPort(HeldCals, Protocol):
    """The claims the order makes, each atomic in the store (one transaction holds them all)."""

    def claim_named_cal(self, identity: Identity, *, in_license: int, machine: str | None = None) -> int | None:
        """Assign a free Named CAL dynamically (serving ``machine``); None when the pool is full."""

    def claim_document_cal(self, user: Identity, document: DocumentInfo, *, in_license: int,
                           machine: str | None = None) -> int | None:
        """Assign one of the document's allocated CALs dynamically (serving ``machine``); None when none is free."""

    def claim_session_cal(self, request: OpenRequest, *, in_license: int) -> int | None:
        """Reuse the client instance's Session CAL or take a free one; None when none is free."""

    def claim_usage_cal(self, request: OpenRequest, *, in_license: int) -> int | None:
        """Reuse the holder's Usage CAL for the document within its hour or take a free one."""


def unlicensed_reason(rules: SiteRules, now: datetime) -> Denial | None:
    """Why no open can be served at all right now, if that is the case."""
    if rules.maintenance:
        return Denial(None, "", "the CAL server is in maintenance; try again in a few minutes", "maintenance")
    if rules.terms is None:
        return Denial(None, "", "the CAL server has no license; the administrator must apply one", "no_license")
    if rules.terms.expired(now):
        assert rules.terms.time_limit is not None
        return Denial(
            None, "", f"the server license expired on {rules.terms.time_limit.isoformat()}", "license_expired"
        )
    return None


def named_holder(request: OpenRequest, rules: SiteRules) -> Identity:
    """Who holds the Named CAL an open uses: the machine when identifying by machine (or for nobody), else the user."""
    if rules.identification_mode is _BY_MACHINE or request.user is None:
        return request.machine
    return request.user


def allocate(request: OpenRequest, rules: SiteRules, port: AllocationPort, now: datetime) -> Decision:
    """Decide which CAL serves this open, claiming it through the port, or deny with a reason."""
    user, doc = request.user, request.document
    user_name = user.name if user else None
    blocked = unlicensed_reason(rules, now)
    if blocked is not None:
        return Denial(user_name, doc.path, blocked.reason, blocked.code)
    if doc.missing:
        return Denial(
            user_name, doc.path, f"the document {doc.path} is missing from the root folder", "document_missing"
        )
    terms = rules.terms
    assert terms is not None
    if user is not None:
        named_identity = named_holder(request, rules)
        # 1 and 2. a Named CAL held by U (or by M), or a Document CAL held by U for D
        held = held_cal(request, rules, port, now)
        if held is not None:
            return held
        # 3. dynamic Named CAL assignment
        if rules.allow_dynamic_assignment:
            cal_id = port.claim_named_cal(named_identity, in_license=terms.in_license(CalType.NAMED),
                                          machine=request.machine.name)
            if cal_id is not None:
                return claimed_grant(request, rules, CalType.NAMED, port.start_session(request, CalType.NAMED, cal_id),
                                     cal_id)
            # The claim waited for the pool's lock: a request of the same user (on another node) that
            # held it may have assigned this user a CAL since steps 1 and 2 looked. Use that one.
            held = held_cal(request, rules, port, now)
            if held is not None:
                return held
        # 4. dynamic Document CAL assignment for D
        if doc.allow_dynamic_assignment and doc.cals_allocated > 0:
            cal_id = port.claim_document_cal(user, doc, in_license=terms.in_license(CalType.DOCUMENT),
                                             machine=request.machine.name)
            if cal_id is not None:
                return claimed_grant(request, rules, CalType.DOCUMENT,
                                     port.start_session(request, CalType.DOCUMENT, cal_id), cal_id)
            held = held_cal(request, rules, port, now)  # as after step 3
            if held is not None:
                return held
    # 5. a Session CAL for this client instance
    if terms.in_license(CalType.SESSION) > 0:
        cal_id = port.claim_session_cal(request, in_license=terms.in_license(CalType.SESSION))
        if cal_id is not None:
            return claimed_grant(request, rules, CalType.SESSION, port.start_session(request, CalType.SESSION, cal_id),
                                 cal_id)
    # 6. a Usage CAL for D
    if terms.in_license(CalType.USAGE) > 0:
        cal_id = port.claim_usage_cal(request, in_license=terms.in_license(CalType.USAGE))
        if cal_id is not None:
            return claimed_grant(request, rules, CalType.USAGE, port.start_session(request, CalType.USAGE, cal_id),
                                 cal_id)
    # 7. deny
    who = user_name or f"an anonymous user on {request.machine.name}"
    return Denial(user_name, doc.path, f"no CAL available for {who} on {doc.path}", "no_cal_available")


def claimed_grant(request: OpenRequest, rules: SiteRules, cal_type: CalType, session_id: str, cal_id: int) -> Grant:
    """The grant of a CAL just claimed for this open (steps 3 to 6), its session started."""
    user, doc = request.user, request.document
    user_name = user.name if user else None
    if cal_type is CalType.NAMED:
        return Grant(cal_type, session_id, user_name, doc.path,
                     f"a free Named User CAL was assigned to {named_holder(request, rules).name}", dynamic=True,
                     cal_id=cal_id)
    if cal_type is CalType.DOCUMENT:
        assert user is not None
        return Grant(cal_type, session_id, user_name, doc.path, f"a Document CAL for {doc.path} was assigned to "
                     f"{user.name}", dynamic=True, cal_id=cal_id)
    if cal_type is CalType.SESSION:
        return Grant(cal_type, session_id, user_name, doc.path, "a Session CAL serves this client")
    return Grant(cal_type, session_id, user_name, doc.path, "a Usage CAL serves this document for up to 60 minutes")


def first_claim(request: OpenRequest, rules: SiteRules, now: datetime) -> CalType | None:
    """The kind of CAL the order claims for this open if its holder holds none yet: the first of steps 3 to 6
    whose pool has CALs in the license (a pool with none is one the order finds full and passes by). None
    where the order refuses at once (no license, maintenance, a missing document, no pool at all).

    Whether the holder holds a CAL, and whether the pool has one free, only the store can say: where either
    fails, the whole order runs (``allocate``).
    """
    doc, terms = request.document, rules.terms
    if terms is None or doc.missing or unlicensed_reason(rules, now) is not None:
        return None
    if request.user is not None:
        if rules.allow_dynamic_assignment and terms.in_license(CalType.NAMED) > 0:
            return CalType.NAMED
        if doc.allow_dynamic_assignment and doc.cals_allocated > 0 and terms.in_license(CalType.DOCUMENT) > 0:
            return CalType.DOCUMENT
    for cal_type in (CalType.SESSION, CalType.USAGE):
        if terms.in_license(cal_type) > 0:
            return cal_type
    return None


def held_cal(request: OpenRequest, rules: SiteRules, port: HeldCals, now: datetime) -> Decision | None:
    """Steps 1 and 2: the Named CAL U (or M) holds, else the Document CAL U holds for D, if any.

    A Named or Document CAL serves one machine at a time (any number of sessions there): while a live
    session of it runs on another machine, the open is refused naming that machine, or, where the
    site says so, takes the CAL over and ends the sessions there. The database and the decision cache
    both answer through this one function.
    """
    user, doc = request.user, request.document
    if user is None:
        return None
    holder = named_holder(request, rules)
    cal_id = port.held_named_cal(holder)
    if cal_id is not None:
        busy = _in_use_elsewhere(request, rules, port, _NAMED, cal_id, now, holder)
        if busy is not None:
            return busy
        port.touch(_NAMED, cal_id)
        return Grant(_NAMED, port.start_session(request, _NAMED, cal_id), user.name, doc.path,
                     f"{holder.name} holds a Named User CAL", cal_id=cal_id)
    cal_id = port.held_document_cal(user, doc)
    if cal_id is not None:
        busy = _in_use_elsewhere(request, rules, port, _DOCUMENT, cal_id, now, user)
        if busy is not None:
            return busy
        port.touch(_DOCUMENT, cal_id)
        return Grant(_DOCUMENT, port.start_session(request, _DOCUMENT, cal_id), user.name, doc.path,
                     f"{user.name} holds a Document CAL for {doc.path}", cal_id=cal_id)
    return None


def _in_use_elsewhere(request: OpenRequest, rules: SiteRules, port: HeldCals, cal_type: CalType, cal_id: int,
                      now: datetime, holder: Identity) -> Denial | None:
    """The refusal of an open from a second machine while the CAL is in use on another, if it is."""
    if holder.kind == "machine":
        return None  # a CAL held by a machine is on that machine by definition
    others = port.machines_in_use(cal_type, cal_id, request.machine, active_since=now - rules.sessions.idle_timeout,
                                  started_since=now - rules.sessions.maximum)
    if not others:
        return None
    what = "Named User CAL" if cal_type is _NAMED else f"Document CAL for {request.document.path}"
    if rules.second_machine_takes_over:
        port.end_sessions_elsewhere(cal_type, cal_id, request.machine,
                                    reason=f"taken over by an open of {holder.name} on {request.machine.name}")
        return None
    where = " and ".join(sorted(set(others)))
    idle = rules.sessions.idle_timeout.total_seconds() / 60
    return Denial(
        request.user.name if request.user else None, request.document.path,
        f"{holder.name}'s {what} is in use on machine {where}; a {what.split(' for ')[0]} serves one machine at a "
        f"time: end the session there, or wait until it has been idle for {idle:g} minutes",
        "cal_in_use_on_other_machine",
    )
