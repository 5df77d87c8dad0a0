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

from calkeeper.core.cals import CalType, ClientType, Decision, Denial, Grant, IdentificationMode, new_grant_id
from calkeeper.core.documents import DocumentInfo
from calkeeper.core.errors import InvalidInput
from calkeeper.core.identities import Identity, parse_machine, parse_user
from calkeeper.core.license import LicenseTerms


@dataclass(frozen=True, slots=True)
class SiteRules:
    """The server-wide settings and license the order runs under."""

    terms: LicenseTerms | None
    allow_dynamic_assignment: bool
    identification_mode: IdentificationMode
    maintenance: bool


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


class AllocationPort(HeldCals, Protocol):
    """The claims the order makes, each atomic in the store (one transaction holds them all)."""

    def claim_named_cal(self, identity: Identity, *, in_license: int) -> int | None:
        """Assign a free Named CAL dynamically; None when the pool is full."""

    def claim_document_cal(self, user: Identity, document: DocumentInfo, *, in_license: int) -> int | None:
        """Assign one of the document's allocated CALs dynamically; None when none is free."""

    def claim_session_cal(self, request: OpenRequest, *, in_license: int) -> int | None:
        """Reuse the client instance's Session CAL or take a free one; None when none is free."""

    def claim_usage_cal(self, request: OpenRequest, *, in_license: int) -> int | None:
        """Reuse the holder's Usage CAL for the document within its hour or take a free one."""

    def start_session(self, request: OpenRequest, cal_type: CalType, cal_id: int) -> str:
        """Record an open session held by a Session or Usage CAL and return its id (``new_grant_id``)."""


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
        held = held_cal(request, rules, port)
        if held is not None:
            return held
        # 3. dynamic Named CAL assignment
        if rules.allow_dynamic_assignment:
            cal_id = port.claim_named_cal(named_identity, in_license=terms.in_license(CalType.NAMED))
            if cal_id is not None:
                return Grant(CalType.NAMED, new_grant_id(CalType.NAMED), user_name, doc.path,
                             f"a free Named User CAL was assigned to {named_identity.name}", dynamic=True,
                             cal_id=cal_id)
            # The claim waited for the pool's lock: a request of the same user (on another node) that
            # held it may have assigned this user a CAL since steps 1 and 2 looked. Use that one.
            held = held_cal(request, rules, port)
            if held is not None:
                return held
        # 4. dynamic Document CAL assignment for D
        if doc.allow_dynamic_assignment and doc.cals_allocated > 0:
            cal_id = port.claim_document_cal(user, doc, in_license=terms.in_license(CalType.DOCUMENT))
            if cal_id is not None:
                return Grant(CalType.DOCUMENT, new_grant_id(CalType.DOCUMENT), user_name, doc.path,
                             f"a Document CAL for {doc.path} was assigned to {user.name}", dynamic=True,
                             cal_id=cal_id)
            held = held_cal(request, rules, port)  # as after step 3
            if held is not None:
                return held
    # 5. a Session CAL for this client instance
    if terms.in_license(CalType.SESSION) > 0:
        cal_id = port.claim_session_cal(request, in_license=terms.in_license(CalType.SESSION))
        if cal_id is not None:
            return Grant(CalType.SESSION, port.start_session(request, CalType.SESSION, cal_id), user_name,
                         doc.path, "a Session CAL serves this client")
    # 6. a Usage CAL for D
    if terms.in_license(CalType.USAGE) > 0:
        cal_id = port.claim_usage_cal(request, in_license=terms.in_license(CalType.USAGE))
        if cal_id is not None:
            return Grant(CalType.USAGE, port.start_session(request, CalType.USAGE, cal_id), user_name,
                         doc.path, "a Usage CAL serves this document for up to 60 minutes")
    # 7. deny
    who = user_name or f"an anonymous user on {request.machine.name}"
    return Denial(user_name, doc.path, f"no CAL available for {who} on {doc.path}", "no_cal_available")


def held_cal(request: OpenRequest, rules: SiteRules, port: HeldCals) -> Grant | None:
    """Steps 1 and 2: the Named CAL U (or M) holds, else the Document CAL U holds for D, if any.

    The database and the decision cache both answer through this one function.
    """
    user, doc = request.user, request.document
    if user is None:
        return None
    holder = named_holder(request, rules)
    cal_id = port.held_named_cal(holder)
    if cal_id is not None:
        port.touch(_NAMED, cal_id)
        return Grant(_NAMED, new_grant_id(_NAMED), user.name, doc.path,
                     f"{holder.name} holds a Named User CAL", cal_id=cal_id)
    cal_id = port.held_document_cal(user, doc)
    if cal_id is not None:
        port.touch(_DOCUMENT, cal_id)
        return Grant(_DOCUMENT, new_grant_id(_DOCUMENT), user.name, doc.path,
                     f"{user.name} holds a Document CAL for {doc.path}", cal_id=cal_id)
    return None
