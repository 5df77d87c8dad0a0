"""An LDAP server or Active Directory as the site's directory (the core's ``Directory`` port), through ldap3.

Every search is paged, with a size limit and a time limit, so that a directory of 100,000 entries
stays responsive; every value typed into a filter is escaped (``escape_filter_chars``), so no search
text can change the filter. Each operation opens its own connection (StartTLS on ``ldap://`` unless
turned off, TLS on ``ldaps://``, checked against the CA file) and binds as calkeeper's account.

Nested groups: Active Directory answers them itself (the in-chain matching rule
1.2.840.113556.1.4.1941); other servers are expanded here, group by group, each group once, so a
loop of groups ends.

The bind password appears in no message this module makes; an empty password never authenticates.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as ldap_errors
from ldap3.utils.conv import escape_filter_chars

from calkeeper.core.directory import DirectoryAccount, DirectoryCheck, DirectoryEntry, login_parts, user_name
from calkeeper.core.errors import DirectoryUnavailable, InvalidInput, UnknownGroup
from calkeeper.core.identities import user_key

log = logging.getLogger("calkeeper.directory")

IN_CHAIN = "1.2.840.113556.1.4.1941"  # Active Directory's LDAP_MATCHING_RULE_IN_CHAIN
PAGED_RESULTS = "1.2.840.113556.1.4.319"
SUCCESS, TIME_LIMIT, SIZE_LIMIT, NO_SUCH_OBJECT, INVALID_CREDENTIALS = 0, 3, 4, 32, 49
GROUPS_VISITED_MAX = 10_000  # the most groups one nested expansion reads
LONGEST_PASSWORD = 1000


@dataclass(frozen=True)
class LdapConfig:
    """How to reach and read the directory; ``bind_password`` is never shown (repr, messages, logs)."""

    url: str
    user_base: str
    group_base: str
    domain: str
    bind_dn: str | None = None
    bind_password: str = field(default="", repr=False)
    active_directory: bool = False
    start_tls: bool = True
    ca_file: str | None = None
    login_attribute: str = "sAMAccountName"
    display_attribute: str = "displayName"
    group_name_attribute: str = "cn"
    member_attribute: str = "member"
    user_filter: str = "(objectClass=person)"
    group_filter: str = "(|(objectClass=group)(objectClass=groupOfNames))"
    timeout_seconds: float = 5.0
    page_size: int = 200

    @property
    def secure(self) -> str:
        if self.url.lower().startswith("ldaps://"):
            return "TLS"
        return "StartTLS" if self.start_tls else "no TLS"


class LdapConnection(Protocol):
    """What calkeeper uses of an ldap3 ``Connection`` (tests give recorded answers through it)."""

    result: Any
    response: Any

    def search(self, search_base: str, search_filter: str, search_scope: str = ..., dereference_aliases: str = ...,
               attributes: Any = ..., size_limit: int = ..., time_limit: int = ..., types_only: bool = ...,
               get_operational_attributes: bool = ..., controls: Any = ..., paged_size: int | None = ...,
               paged_criticality: bool = ..., paged_cookie: Any = ..., auto_escape: bool | None = ...) -> Any: ...

    def unbind(self) -> Any: ...


# Opens a connection bound as (who, password); (None, None): calkeeper's own account.
Connector = Callable[[LdapConfig, "str | None", "str | None"], LdapConnection]


class BindRefused(Exception):
    """The server refused the name and password of a bind (result 49)."""


def _unavailable(config: LdapConfig, reason: str, code: str = "directory_unreachable") -> DirectoryUnavailable:
    return DirectoryUnavailable(f"the directory at {config.url} {reason}", code=code)


def connect(config: LdapConfig, who: str | None, password: str | None) -> LdapConnection:
    """Open, secure and bind a connection; raise DirectoryUnavailable (or BindRefused for a user's bind)."""
    parts = urlsplit(config.url)
    ldaps = parts.scheme.lower() == "ldaps"
    tls = None
    if ldaps or config.start_tls:
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=config.ca_file or None)
    server = Server(parts.hostname or "", port=parts.port or (636 if ldaps else 389), use_ssl=ldaps, tls=tls,
                    get_info=NONE, connect_timeout=max(1, int(config.timeout_seconds)))
    own = who is None
    user, secret = (config.bind_dn, config.bind_password) if own else (who, password)
    connection = Connection(server, user=user or None, password=secret or None,
                            receive_timeout=max(1, int(config.timeout_seconds)), raise_exceptions=False,
                            read_only=True, auto_referrals=False)
    try:
        connection.open()
        if not ldaps and config.start_tls and not connection.start_tls():
            raise _unavailable(config, "refused StartTLS: check that the server offers it (or use ldaps://)",
                               "directory_tls_failed")
        if user and not connection.bind():
            refused = connection.result.get("result") == INVALID_CREDENTIALS
            connection.unbind()
            if refused and not own:
                raise BindRefused()
            if refused:
                raise _unavailable(config, f"refused calkeeper's bind DN '{config.bind_dn}' or its password: "
                                   "check CALKEEPER_DIRECTORY_BIND_DN and the bind password",
                                   "directory_bind_failed")
            raise _unavailable(config, f"refused the bind ({connection.result.get('description', 'no reason')})")
    except (ldap_errors.LDAPStartTLSError, ssl.SSLError) as error:
        raise _unavailable(config, f"could not set up TLS ({_short(error, secret)}): check the CA file and the "
                           "server's certificate", "directory_tls_failed") from None
    except ldap_errors.LDAPSocketOpenError as error:
        text = _short(error, secret)
        if "ssl" in text.lower() or "certificate" in text.lower() or "tls" in text.lower():
            raise _unavailable(config, f"could not set up TLS ({text}): check the CA file and the server's "
                               "certificate", "directory_tls_failed") from None
        raise _unavailable(config, f"cannot be reached ({text})") from None
    except ldap_errors.LDAPException as error:
        raise _unavailable(config, f"did not answer ({_short(error, secret)})") from None
    opened: LdapConnection = connection
    return opened


def _short(error: BaseException, secret: str | None) -> str:
    text = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    return text.replace(secret, "***") if secret else text


def _first(attributes: dict[str, Any], name: str) -> str:
    value = attributes.get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value) if value is not None else ""


def _all(attributes: dict[str, Any], name: str) -> list[str]:
    """Every value of an attribute; Active Directory's ranged values (member;range=0-1499) counted too."""
    found: list[str] = []
    for key, value in attributes.items():
        if key.lower() == name.lower() or key.lower().startswith(name.lower() + ";range="):
            found += [str(v) for v in (value if isinstance(value, list) else [value]) if v not in (None, "")]
    return found


class LdapDirectory:
    """The directory of an LDAP server (``kind`` "ldap") or of Active Directory ("active directory")."""

    def __init__(self, config: LdapConfig, *, connector: Connector = connect) -> None:
        self.config = config
        self.connector = connector
        self.kind = "active directory" if config.active_directory else "ldap"
        self.escape = escape_filter_chars

    # -- the port --------------------------------------------------------------------------------------

    def check(self) -> DirectoryCheck:
        c = self.config
        steps = [f"connected to {c.url} ({c.secure})"]
        with self._session() as conn:
            steps.append(f"bound as {c.bind_dn}" if c.bind_dn else "bound anonymously (no bind DN is set)")
            for label, base, wanted in (("user", c.user_base, c.user_filter), ("group", c.group_base, c.group_filter)):
                found = next(self._paged(conn, base, wanted, ["objectClass"], limit=1), None)
                if found is None:
                    raise _unavailable(c, f"has no {label} under the {label} base '{base}' (filter {wanted}): check "
                                       f"CALKEEPER_DIRECTORY_{label.upper()}_BASE", "directory_base_not_found")
                steps.append(f"found {label}s under {base}")
        return DirectoryCheck(self.kind, c.url, steps)

    def search(self, text: str, *, kind: str, limit: int) -> list[DirectoryEntry]:
        c, value = self.config, self.escape(text)
        if kind == "user":
            named = (f"(|({c.login_attribute}=*{value}*)({c.display_attribute}=*{value}*)(cn=*{value}*))" if value
                     else f"({c.login_attribute}=*)")
            wanted, base = f"(&{c.user_filter}{named})", c.user_base
            attributes = [c.login_attribute, c.display_attribute, "cn"]
        else:
            named = (f"(|({c.group_name_attribute}=*{value}*)({c.display_attribute}=*{value}*))" if value
                     else f"({c.group_name_attribute}=*)")
            wanted, base = f"(&{c.group_filter}{named})", c.group_base
            attributes = [c.group_name_attribute, c.display_attribute, c.member_attribute]
        with self._session() as conn:
            entries = [e for e in (self._entry(dn, attrs, kind) for dn, attrs in
                                   self._paged(conn, base, wanted, attributes, limit=limit)) if e is not None]
        return sorted(entries, key=lambda e: e.name.casefold())[:limit]

    def members(self, group: str) -> list[DirectoryEntry]:
        c = self.config
        with self._session() as conn:
            group_dn = self._group_dn(conn, group)
            if c.active_directory:
                wanted = f"(&{c.user_filter}(memberOf:{IN_CHAIN}:={self.escape(group_dn)}))"
                found = (self._entry(dn, attrs, "user") for dn, attrs in
                         self._paged(conn, c.user_base, wanted, [c.login_attribute, c.display_attribute, "cn"]))
                users = {user_key(e.name): e for e in found if e is not None}
            else:
                users = self._expand(conn, group_dn)
        return sorted(users.values(), key=lambda e: e.name.casefold())

    def authenticate(self, user: str, password: str) -> DirectoryAccount | None:
        if not password or len(password) > LONGEST_PASSWORD:
            return None  # an empty password would be an LDAP "unauthenticated bind", which proves nothing
        with self._session() as conn:
            found = self._find_user(conn, user)
        if found is None:
            return None
        dn, attributes = found
        # Active Directory takes a bind as user@domain (the userPrincipalName); any server takes the DN
        bind_as = _first(attributes, "userPrincipalName") if self.config.active_directory else ""
        try:
            self.connector(self.config, bind_as or dn, password).unbind()
        except BindRefused:
            return None
        with self._session() as conn:
            return self._account(conn, dn, attributes)

    def account(self, user: str) -> DirectoryAccount | None:
        with self._session() as conn:
            found = self._find_user(conn, user)
            return self._account(conn, *found) if found is not None else None

    # -- searching ---------------------------------------------------------------------------------------

    def _session(self) -> _Session:
        return _Session(self.connector(self.config, None, None))

    def _paged(self, conn: LdapConnection, base: str, wanted: str, attributes: list[str], *,
               limit: int = 0, scope: str = SUBTREE) -> Iterator[tuple[str, dict[str, Any]]]:
        """Entries a page at a time, at most ``limit`` (0: all), each search bounded by the time limit."""
        c, cookie, given = self.config, None, 0
        time_limit = max(1, int(c.timeout_seconds))
        while True:
            page = min(c.page_size, limit - given) if limit else c.page_size
            try:
                conn.search(base, wanted, search_scope=scope, attributes=attributes,
                            size_limit=limit, time_limit=time_limit,
                            paged_size=page if scope == SUBTREE else None, paged_cookie=cookie)
            except ldap_errors.LDAPException as error:
                raise _unavailable(c, f"stopped answering ({_short(error, None)})") from None
            code = conn.result.get("result", SUCCESS) if isinstance(conn.result, dict) else SUCCESS
            if code == NO_SUCH_OBJECT:
                if scope == BASE:
                    return
                raise _unavailable(c, f"has no entry '{base}': check the base DNs", "directory_base_not_found")
            if code not in (SUCCESS, TIME_LIMIT, SIZE_LIMIT):
                raise _unavailable(c, f"refused a search ({conn.result.get('description', code)})")
            for item in conn.response or []:
                if item.get("type") == "searchResEntry":
                    yield item["dn"], dict(item.get("attributes") or {})
                    given += 1
                    if limit and given >= limit:
                        return
            controls = conn.result.get("controls") or {}
            cookie = controls.get(PAGED_RESULTS, {}).get("value", {}).get("cookie")
            if not cookie or code != SUCCESS or scope != SUBTREE:
                return

    def _entry(self, dn: str, attributes: dict[str, Any], kind: str) -> DirectoryEntry | None:
        c = self.config
        if kind == "user":
            login = _first(attributes, c.login_attribute)
            name = user_name(c.domain, login) if login else None
            if name is None:
                return None
            display = _first(attributes, c.display_attribute) or _first(attributes, "cn") or login
            return DirectoryEntry("user", name, display, dn)
        group = _first(attributes, c.group_name_attribute)
        if not group:
            return None
        return DirectoryEntry("group", group, _first(attributes, c.display_attribute) or group, dn,
                              members=len(_all(attributes, c.member_attribute)))

    def _group_dn(self, conn: LdapConnection, group: str) -> str:
        """The DN of a group given by DN or by name; a name two groups share must be given as a DN."""
        c, group = self.config, group.strip()
        if not group:
            raise InvalidInput("name a group of the directory")
        if "=" in group:
            if next(self._paged(conn, group, c.group_filter, ["objectClass"], scope=BASE), None) is not None:
                return group
        else:
            wanted = f"(&{c.group_filter}({c.group_name_attribute}={self.escape(group)}))"
            found = [dn for dn, _ in self._paged(conn, c.group_base, wanted, ["objectClass"], limit=20)]
            if len(found) > 1:
                raise InvalidInput(f"{len(found)} groups of the directory are named '{group}': give the DN of the "
                                   f"one you mean ({'; '.join(found[:5])})")
            if found:
                return found[0]
        raise UnknownGroup(f"the directory has no group '{group}'")

    def _expand(self, conn: LdapConnection, group_dn: str) -> dict[str, DirectoryEntry]:
        """Every user in a group and the groups nested in it, each group read once (a loop of groups ends)."""
        c = self.config
        seen, queue, groups_read = {group_dn.casefold()}, [group_dn], 0
        users: dict[str, DirectoryEntry] = {}
        user_attributes = [c.login_attribute, c.display_attribute, "cn"]
        while queue and groups_read < GROUPS_VISITED_MAX:
            dn, groups_read = queue.pop(0), groups_read + 1
            entry = next(self._paged(conn, dn, c.group_filter, [c.member_attribute], scope=BASE), None)
            for member in _all(entry[1], c.member_attribute) if entry else []:
                if member.casefold() in seen:
                    continue
                seen.add(member.casefold())
                found = next(self._paged(conn, member, c.user_filter, user_attributes, scope=BASE), None)
                if found is not None:
                    user = self._entry(member, found[1], "user")
                    if user is not None:
                        users.setdefault(user.name.casefold(), user)
                else:
                    queue.append(member)  # a nested group (or an entry that is neither: read as a group, empty)
        return users

    def _find_user(self, conn: LdapConnection, login: str) -> tuple[str, dict[str, Any]] | None:
        """The one user entry a sign-in name finds (``ACME\\alice``, ``alice@acme.example`` or ``alice``)."""
        c = self.config
        domain, user = login_parts(login)
        if not user or (domain and "\\" in login and domain.casefold() != c.domain.casefold()):
            return None
        if "@" in login and c.active_directory:
            named = f"(userPrincipalName={self.escape(login.strip())})"
        else:
            named = f"({c.login_attribute}={self.escape(user)})"
        attributes = [c.login_attribute, c.display_attribute, "cn", "userPrincipalName"]
        found = list(self._paged(conn, c.user_base, f"(&{c.user_filter}{named})", attributes, limit=2))
        return found[0] if len(found) == 1 else None

    def _account(self, conn: LdapConnection, dn: str, attributes: dict[str, Any]) -> DirectoryAccount | None:
        c, user = self.config, self._entry(dn, attributes, "user")
        if user is None:
            return None
        groups: set[str] = set()
        attrs = [c.group_name_attribute]
        if c.active_directory:
            wanted = f"(&{c.group_filter}({c.member_attribute}:{IN_CHAIN}:={self.escape(dn)}))"
            for group_dn, found in self._paged(conn, c.group_base, wanted, attrs):
                groups |= {group_dn.casefold(), _first(found, c.group_name_attribute).casefold()}
        else:
            seen, queue = {dn.casefold()}, [dn]
            while queue and len(seen) < GROUPS_VISITED_MAX:
                member = queue.pop(0)
                wanted = f"(&{c.group_filter}({c.member_attribute}={self.escape(member)}))"
                for group_dn, found in self._paged(conn, c.group_base, wanted, attrs):
                    if group_dn.casefold() not in seen:
                        seen.add(group_dn.casefold())
                        queue.append(group_dn)
                        groups |= {group_dn.casefold(), _first(found, c.group_name_attribute).casefold()}
        groups.discard("")
        return DirectoryAccount(user.name, user.display_name, frozenset(groups))


class _Session:
    """A bound connection for one operation, unbound after it."""

    def __init__(self, connection: LdapConnection) -> None:
        self.connection = connection

    def __enter__(self) -> LdapConnection:
        return self.connection

    def __exit__(self, *_: object) -> None:
        try:
            self.connection.unbind()
        except ldap_errors.LDAPException:
            log.debug("the directory connection was already closed")
