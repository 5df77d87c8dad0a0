"""License leases for the desktop client: "Open in Server" signs a user in, grants or renews a 30-day
lease for their machine, and admins read the history, end a machine's lease or revoke a user's.

The user is the NT identity a trusted single sign-on proxy names, or an alternate identity (a user id
and a password the site's directory checks). Wrong passwords are braked as console sign-ins are (per
name and per address, shared by every node); every lease request is braked per user and per address.
The directory is asked before any transaction opens; each grant is one transaction.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from calkeeper.contract.views import LeaseView
from calkeeper.core.clock import Clock
from calkeeper.core.comparison import comparison_key, normalized
from calkeeper.core.directory import Directory, DirectoryAccount
from calkeeper.core.errors import DirectoryUnavailable, InvalidInput, NotFound, SignInRefused
from calkeeper.core.identities import parse_machine, parse_user
from calkeeper.core.keys import key_id_of
from calkeeper.core.lease import sign_lease
from calkeeper.core.lease_rules import LeaseConditions, LeaseRecord, check_conditions, lease_expiry, lease_on_machine
from calkeeper.infra.brake_rule import BrakeRule
from calkeeper.store.leases import STATES
from calkeeper.store.unit_of_work import Transaction, UnitOfWork
from calkeeper.usecases.admin import AdminTransactions
from calkeeper.usecases.failure_brake import SIGN_IN_BY_ADDRESS, SIGN_IN_BY_NAME, SharedBrake, Verdict

# A client renews once a day at most in normal use: many requests in a quarter hour are a script gone wrong.
LEASE_BY_USER = BrakeRule(slow_after=30, block_after=30, window_seconds=15 * 60)
LEASE_BY_ADDRESS = BrakeRule(slow_after=120, block_after=120, window_seconds=15 * 60)
SERVER_URL_MAX = 500


@dataclass(frozen=True)
class LeaseGrant:
    """A lease granted or renewed: the signed file for the client, and its record."""

    text: str
    lease: LeaseView
    renewed: bool


def lease_view(record: LeaseRecord, now: datetime) -> LeaseView:
    return LeaseView(
        lease_id=record.lease_id, user=record.user, machine=record.machine, fingerprint=record.fingerprint,
        serial=record.serial, server=record.server, leased_at=record.leased_at, renewed_at=record.renewed_at,
        expires_at=record.expires_at, ended_at=record.ended_at, end_reason=record.end_reason,
        ended_by=record.ended_by, state=record.state(now),
    )


def _too_many(code: str, whose: str, verdict: Verdict) -> SignInRefused:
    minutes = math.ceil(verdict.retry_after_seconds / 60)
    return SignInRefused(f"too many {whose}; try again in {minutes} minute{'s' if minutes > 1 else ''}",
                         code=code, details={"retry_after_seconds": verdict.retry_after_seconds})


class DesktopSignIn:
    """Who a desktop client is: the NT identity a trusted proxy names, or an alternate identity's password."""

    def __init__(self, *, uow: UnitOfWork, directory: Directory) -> None:
        self.uow = uow
        self.directory = directory
        self.by_name = SharedBrake("sign_in_user", SIGN_IN_BY_NAME)
        self.by_address = SharedBrake("sign_in_address", SIGN_IN_BY_ADDRESS)

    def identify(self, *, proxied: str | None, user: str | None, password: str | None,
                 address: str) -> DirectoryAccount:
        """The directory's account of the caller; SignInRefused when nobody, or a wrong password, is given."""
        if user is not None:
            return self._alternate(user, password or "", address)
        if proxied is None:
            raise SignInRefused("connect with your NT identity through the site's single sign-on proxy, or with an "
                                "alternate identity (a user id and its password)")
        try:
            found = self.directory.account(proxied)
        except DirectoryUnavailable as error:
            raise _unavailable(error) from None
        if found is None:
            raise SignInRefused(f"the site's directory does not know the NT identity '{proxied[:100]}'")
        return found

    def _alternate(self, user: str, password: str, address: str) -> DirectoryAccount:
        name = normalized(user).strip()[:200]
        subject = comparison_key(name)
        with self.uow.write() as tx:  # counted before the password is checked, so parallel guesses are braked too
            self._unless_braked(tx, name, subject, address)
            failures = [self.by_name.fail(tx, subject), self.by_address.fail(tx, address)]
        try:
            found = self.directory.authenticate(name, password) if password else None
        except DirectoryUnavailable as error:
            raise _unavailable(error) from None
        if found is None:
            with self.uow.write() as tx:
                tx.history.audit(f"address:{address}", "lease.sign_in_failed", name,
                                 recent_failures=failures[0][1].failures)
            for (_, verdict), whose in zip(failures, (f"failed sign-ins as '{name}'", "failed sign-ins from this "
                                                                                       "address"), strict=True):
                if verdict.refused:
                    raise _too_many("too_many_sign_ins", whose, verdict)
            raise SignInRefused("the alternate identity's user id or password is not right")
        with self.uow.write() as tx:
            tx.auth_failures.forget([failure_id for failure_id, _ in failures])
            self.by_name.forget(tx, subject)
        return found

    def _unless_braked(self, tx: Transaction, name: str, subject: str, address: str) -> None:
        for verdict, whose in ((self.by_name.verdict(tx, subject), f"failed sign-ins as '{name}'"),
                               (self.by_address.verdict(tx, address), "failed sign-ins from this address")):
            if verdict.refused:
                raise _too_many("too_many_sign_ins", whose, verdict)


def _unavailable(error: DirectoryUnavailable) -> SignInRefused:
    return SignInRefused(f"the directory cannot be asked now ({error.message}), so no desktop client can sign in; "
                         "try again later", code="directory_sign_in_unavailable")


class Leases:
    """Grant and renew leases, and show, end and revoke them."""

    def __init__(self, *, admin: AdminTransactions, clock: Clock, key: Ed25519PrivateKey) -> None:
        self.admin = admin
        self.uow = admin.uow
        self.clock = clock
        self.key = key
        self.by_user = SharedBrake("lease_user", LEASE_BY_USER)
        self.by_address = SharedBrake("lease_address", LEASE_BY_ADDRESS)

    def public_key(self) -> Ed25519PublicKey:
        """The site's lease public key, for the license authority to vouch for in the LEF."""
        return self.key.public_key()

    def grant_lease(self, *, user: str, machine: str, fingerprint: str, server: str, presented: str | None = None,
                    address: str = "unknown") -> LeaseGrant:
        """Grant a lease for the user's machine, or renew the one it holds (LeaseRefused names why not)."""
        who = parse_user(user)
        where = parse_machine(machine)
        fingerprint = fingerprint.strip().lower()
        if len(fingerprint) != 64 or any(c not in "0123456789abcdef" for c in fingerprint):
            raise InvalidInput("a machine fingerprint is 64 hexadecimal digits (a SHA-256)")
        if not server.startswith(("http://", "https://")) or len(server) > SERVER_URL_MAX or any(
                ord(c) < 33 for c in server):
            raise InvalidInput(f"the server URL is http(s)://..., at most {SERVER_URL_MAX} characters")
        with self.uow.write() as tx:  # its own transaction: a refused request counts as much as a granted one
            for brake, subject, whose in ((self.by_user, who.key, f"lease requests for '{who.name}'"),
                                          (self.by_address, address, "lease requests from this address")):
                _, verdict = brake.fail(tx, subject)
                if verdict.refused:
                    raise _too_many("too_many_lease_requests", whose, verdict)
        with self.admin.change() as tx:
            tx.leases.lock_user(who.key)
            stored = tx.licenses.in_force()
            vouched = stored.terms.lease_key() if stored else None
            named = tx.assignments.named(who)
            check_conditions(LeaseConditions(
                allowed_by_setting=tx.site_state.get().allow_license_lease,
                allowed_by_license=stored.terms.lease_allowed if stored else None,
                key_vouched=vouched is not None and vouched.key_id == key_id_of(self.key.public_key()),
                holds_named_cal=named is not None, named_cal_removed=named is not None and named.marked_for_removal,
            ), user=who.name)
            assert stored is not None
            held = lease_on_machine(tx.leases.of_user(who.key, presented=presented), fingerprint=fingerprint,
                                    presented=presented, now=tx.now, user=who.name)
            expires = lease_expiry(tx.now)
            if held is None:
                record = LeaseRecord(secrets.token_hex(16), who.name, who.key, where.name, fingerprint,
                                     stored.terms.serial, server, tx.now, None, expires)
                tx.leases.add(record)
            else:
                tx.leases.renew(held.lease_id, expires_at=expires, machine=where.name, serial=stored.terms.serial,
                                server=server)
                record = LeaseRecord(held.lease_id, who.name, who.key, where.name, fingerprint, stored.terms.serial,
                                     server, held.leased_at, tx.now, expires)
            tx.history.audit(f"desktop:{who.name}", "lease.renewed" if held else "lease.granted", who.name,
                             machine=where.name, lease_id=record.lease_id, expires_at=expires, address=address)
            text = sign_lease(lease_id=record.lease_id, server=server, serial=record.serial, user=who.name,
                              machine=where.name, fingerprint=fingerprint, issued_at=tx.now, expires_at=expires,
                              lef_text=stored.terms.lef_text, key=self.key)
            return LeaseGrant(text, lease_view(record, tx.now), renewed=held is not None)

    def list_leases(self, *, user: str = "", machine: str = "", state: str = "all",
                    limit: int = 100) -> list[LeaseView]:
        """The lease history, newest first: of one user, one machine, live or ended ones (expired count as ended)."""
        if state not in STATES:
            raise InvalidInput(f"a lease's state is one of {', '.join(STATES)}, not '{state}'")
        if not 1 <= limit <= 1000:
            raise InvalidInput("list 1 to 1000 leases")
        key = parse_user(user).key if user.strip() else ""
        with self.uow.read() as tx:
            return [lease_view(r, tx.now) for r in tx.leases.history(user_key=key, machine=machine.strip(),
                                                                      state=state, limit=limit)]

    def end_lease(self, lease_id: str, *, actor: str | None = None) -> LeaseView:
        """End one machine's lease, freeing its place; the client's next connection is a new lease."""
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            record = tx.leases.find(lease_id.strip())
            if record is None:
                raise NotFound(f"no lease has the id '{lease_id.strip()[:40]}'", code="unknown_lease")
            if record.ended_at is None:
                tx.leases.end([record.lease_id], reason="ended", actor=actor)
                tx.history.audit(actor, "lease.ended", record.user, machine=record.machine, lease_id=record.lease_id)
            ended = tx.leases.find(record.lease_id)
            assert ended is not None
            return lease_view(ended, tx.now)

    def revoke_leases(self, user: str, *, actor: str | None = None) -> list[LeaseView]:
        """Revoke every lease of a user not ended yet: the client is refused at its next connection, and says so."""
        actor = self.admin.actor(actor)
        who = parse_user(user)
        with self.admin.change() as tx:
            open_leases = tx.leases.of_user(who.key)
            tx.leases.end([r.lease_id for r in open_leases], reason="revoked", actor=actor)
            tx.history.audit(actor, "lease.revoked", who.name, leases=len(open_leases),
                             machines=[r.machine for r in open_leases])
            revoked = [tx.leases.find(r.lease_id) for r in open_leases]
            return [lease_view(r, tx.now) for r in revoked if r is not None]
