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

import ipaddress
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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
    ldaps_url: str | None = None  # with tls=True: ldaps:// beside ldap:// (which then offers StartTLS)
    ca_file: Path | None = None

    def admin(self) -> Connection:
        connection = Connection(Server(self.url), ROOT_DN, ROOT_PASSWORD, auto_bind=True)
        return connection


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_slapd(folder: Path, *, tls: bool = False) -> Iterator[Slapd]:
    """Start slapd from its own config in ``folder``, seed it, and stop it (by its process id) after.

    ``tls``: a certificate for 127.0.0.1 signed by a CA of the test's own (``Slapd.ca_file``), StartTLS on
    the ldap:// port and TLS on an ldaps:// port.
    """
    (folder / "data").mkdir(parents=True)
    (folder / "ad-like.schema").write_text(AD_LIKE_SCHEMA)
    config = folder / "slapd.conf"
    text = CONFIG.format(folder=folder, suffix=SUFFIX, root_dn=ROOT_DN, root_password=ROOT_PASSWORD)
    ca_file = ldaps_url = None
    if tls:
        ca_file, cert, key = make_certificates(folder)
        text = (f"TLSCACertificateFile {ca_file}\nTLSCertificateFile {cert}\nTLSCertificateKeyFile {key}\n"
                + text)
    config.write_text(text)
    url = f"ldap://127.0.0.1:{free_port()}"
    listen = f"{url}/"
    if tls:
        ldaps_url = f"ldaps://127.0.0.1:{free_port()}"
        listen += f" {ldaps_url}/"
    log = (folder / "slapd.log").open("wb")
    process = subprocess.Popen([SLAPD, "-f", str(config), "-h", listen, "-d", "0"], stdout=log, stderr=log)
    try:
        server = Slapd(url, folder, ldaps_url, ca_file)
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


def make_certificates(folder: Path, name: str = "Test directory CA") -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (CA file, certificate, key), in PEM."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
          .not_valid_after(now + timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths


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
