"""A real OpenLDAP slapd for the directory tests: its own config and data in a temporary folder, a free
loopback port, an Active-Directory-like schema (sAMAccountName, userPrincipalName, memberOf), seeded
with users, groups, nested groups and a loop of groups; stopped after.

    ACME (dc=acme,dc=example)
      ou=people    alice bob carol dave erin frank paren   (paren's display name is "Paren (test) *star*")
      ou=groups    sales: alice, bob, emea      emea: carol, sales (a loop)     finance: dave
                   console-admins: erin         console-viewers: frank         big: none but frank
      ou=services  calkeeper (the bind account, password "service-secret")

Every user's password is "<name>-password".
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ldap3 import Connection, Server

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SUFFIX = "dc=acme,dc=example"
ROOT_DN, ROOT_PASSWORD = f"cn=admin,{SUFFIX}", "root-secret"
BIND_DN, BIND_PASSWORD = f"cn=calkeeper,ou=services,{SUFFIX}", "service-secret"
PEOPLE, GROUPS = f"ou=people,{SUFFIX}", f"ou=groups,{SUFFIX}"
USERS = ("alice", "bob", "carol", "dave", "erin", "frank")

AD_LIKE_SCHEMA = """
attributetype ( 1.3.6.1.4.1.55555.1.1 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2 NAME 'userPrincipalName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.3 NAME 'memberOf'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
objectclass ( 1.3.6.1.4.1.55555.2.1 NAME 'adLikeUser' SUP top AUXILIARY
  MAY ( sAMAccountName $ userPrincipalName $ memberOf ) )
"""

CONFIG = """
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include {folder}/ad-like.schema
pidfile {folder}/slapd.pid
argsfile {folder}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
sizelimit 5000
database mdb
maxsize 104857600
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {folder}/data
access to attrs=userPassword by self read by anonymous auth by * none
access to * by users read by * none
"""


@dataclass(frozen=True)
class Slapd:
    url: str
    folder: Path

    def admin(self) -> Connection:
        connection = Connection(Server(self.url), ROOT_DN, ROOT_PASSWORD, auto_bind=True)
        return connection


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_slapd(folder: Path) -> Iterator[Slapd]:
    """Start slapd from its own config in ``folder``, seed it, and stop it (by its process id) after."""
    (folder / "data").mkdir(parents=True)
    (folder / "ad-like.schema").write_text(AD_LIKE_SCHEMA)
    config = folder / "slapd.conf"
    config.write_text(CONFIG.format(folder=folder, suffix=SUFFIX, root_dn=ROOT_DN, root_password=ROOT_PASSWORD))
    port = free_port()
    url = f"ldap://127.0.0.1:{port}"
    log = (folder / "slapd.log").open("wb")
    process = subprocess.Popen([SLAPD, "-f", str(config), "-h", f"{url}/", "-d", "0"], stdout=log, stderr=log)
    try:
        server = Slapd(url, folder)
        _wait_until_up(server, process)
        seed(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(server: Slapd, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f"slapd stopped: {(server.folder / 'slapd.log').read_text(errors='replace')[-2000:]}")
        try:
            server.admin().unbind()
            return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError("slapd did not start")


def user_dn(name: str) -> str:
    return f"uid={name},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


def seed(server: Slapd) -> None:
    conn = server.admin()
    add = conn.add
    add(SUFFIX, ["top", "dcObject", "organization"], {"o": "ACME", "dc": "acme"})
    for ou in ("people", "groups", "services"):
        add(f"ou={ou},{SUFFIX}", ["organizationalUnit"], {"ou": ou})
    add(BIND_DN, ["person", "simpleSecurityObject"], {"cn": "calkeeper", "sn": "service",
                                                       "userPassword": BIND_PASSWORD})
    groups = {"sales": ["alice", "bob", "@emea"], "emea": ["carol", "@sales"], "finance": ["dave"],
              "console-admins": ["erin"], "console-viewers": ["frank"], "big": ["frank"]}
    member_of: dict[str, list[str]] = {}
    for group, members in groups.items():
        for member in members:
            if not member.startswith("@"):
                member_of.setdefault(member, []).append(group_dn(group))
    for name in USERS:
        add(user_dn(name), ["inetOrgPerson", "adLikeUser"], {
            "uid": name, "cn": name.title(), "sn": name.title(), "displayName": f"{name.title()} Example",
            "sAMAccountName": name, "userPrincipalName": f"{name}@acme.example",
            "userPassword": f"{name}-password", **({"memberOf": member_of[name]} if name in member_of else {})})
    add(user_dn("paren"), ["inetOrgPerson", "adLikeUser"], {
        "uid": "paren", "cn": "Paren", "sn": "Paren", "displayName": "Paren (test) *star* back\\slash",
        "sAMAccountName": "paren", "userPassword": "paren-password"})
    # groupOfNames needs a member when added: add each with a placeholder, then set the real members
    for group in groups:
        add(group_dn(group), ["groupOfNames"], {"cn": group, "member": [BIND_DN]})
    for group, members in groups.items():
        dns = [group_dn(m[1:]) if m.startswith("@") else user_dn(m) for m in members]
        conn.modify(group_dn(group), {"member": [("MODIFY_REPLACE", dns)]})
    conn.unbind()


def add_users(server: Slapd, count: int, *, group: str = "big") -> None:
    """Add ``count`` users u00000... to the directory and to a group (a large directory)."""
    conn = server.admin()
    dns = []
    for n in range(count):
        name = f"u{n:05d}"
        conn.add(user_dn(name), ["inetOrgPerson", "adLikeUser"], {
            "uid": name, "cn": name, "sn": name, "sAMAccountName": name, "userPassword": f"{name}-password"})
        dns.append(user_dn(name))
    conn.modify(group_dn(group), {"member": [("MODIFY_ADD", dns)]})
    conn.unbind()
