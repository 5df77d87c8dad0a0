"""The desktop client's side of "Open in Server": connect, list documents, open one, keep a license lease.

    desktop = DesktopClient(desktop_folder())
    desktop.trust(Path("ck-2f6d624cc12e.pub"))                 # the vendor's key: the only thing trusted
    got = desktop.open_in_server("https://cal.acme.example", user="ACME\\dev1", password=secret)
    desktop.status()                                           # offline, from the stored lease alone

The folder (the user's config folder, ``CALKEEPER_DESKTOP_DIR`` overrides it) holds ``trusted-keys/``,
``lease`` (the signed lease), ``seen`` (the latest time this client has seen, to notice a clock set back)
and ``revoked`` (the server's word that the lease was revoked), all readable by their owner only.

The machine is recognised by its fingerprint (``calkeeper.core.lease.machine_fingerprint``): the
operating system's machine id (``/etc/machine-id`` on Linux, ``MachineGuid`` on Windows,
``IOPlatformUUID`` on macOS) and the host name. Tests and embedders pass a ``Machine`` of their own.
This module loads ``cryptography`` (to check leases); ``import calkeeper.client`` does not load it.
"""

from __future__ import annotations

import base64
import os
import platform
import re
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calkeeper.client.errors import error_from_response
from calkeeper.core.errors import CalkeeperError, InvalidInput, LeaseInvalid, LeaseRefused, ServerUnavailable
from calkeeper.core.keys import load_public_keys
from calkeeper.core.lease import Lease, check_lease, machine_fingerprint, read_lease

LINUX_MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))
FOLDER_VARIABLE = "CALKEEPER_DESKTOP_DIR"
PERSONAL_EDITION = "Not licensed (Personal Edition)"


@dataclass(frozen=True)
class Machine:
    """This machine as a lease names it: its host name and its fingerprint."""

    name: str
    fingerprint: str


def _host_name() -> str:
    name = socket.gethostname().split(".")[0] or "localhost"
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)[:63]


def os_machine_id() -> str:
    """The operating system's machine id; CalkeeperError when it cannot be read."""
    system = platform.system()
    if system == "Windows":  # pragma: no cover - read on Windows only
        import winreg

        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography") as key:  # type: ignore[attr-defined,unused-ignore]
            return str(winreg.QueryValueEx(key, "MachineGuid")[0])  # type: ignore[attr-defined,unused-ignore]
    if system == "Darwin":  # pragma: no cover - read on macOS only
        out = subprocess.run(["/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
        found = re.search(r'"IOPlatformUUID" = "([^"]+)"', out)
        if found:
            return found.group(1)
    for path in LINUX_MACHINE_ID_FILES:
        if path.is_file() and path.read_text(encoding="ascii", errors="replace").strip():
            return path.read_text(encoding="ascii", errors="replace").strip()
    raise CalkeeperError("this machine's id cannot be read (/etc/machine-id), so no lease can be bound to it")


def this_machine(*, machine_id_file: Path | None = None, host_name: str | None = None) -> Machine:
    """This machine, from the operating system; ``machine_id_file``/``host_name`` stand in for them (tests)."""
    machine_id = machine_id_file.read_text(encoding="ascii").strip() if machine_id_file else os_machine_id()
    name = host_name or _host_name()
    return Machine(name, machine_fingerprint(machine_id, name))


def desktop_folder() -> Path:
    """Where the client keeps its lease: ``CALKEEPER_DESKTOP_DIR``, else the user's config folder."""
    given = os.environ.get(FOLDER_VARIABLE)
    if given:
        return Path(given)
    system = platform.system()
    if system == "Windows":  # pragma: no cover
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "calkeeper" / "desktop"
    if system == "Darwin":  # pragma: no cover
        return Path.home() / "Library" / "Application Support" / "calkeeper" / "desktop"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "calkeeper" / "desktop"


@dataclass(frozen=True)
class LeaseStatus:
    """What the stored lease says offline: licensed until when, or why not (``code`` of the failed check)."""

    licensed: bool
    message: str
    code: str | None = None
    server: str | None = None
    user: str | None = None
    machine: str | None = None
    expires_at: datetime | None = None
    days_left: int | None = None

    def as_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items()}
        data["expires_at"] = self.expires_at.isoformat().replace("+00:00", "Z") if self.expires_at else None
        return data


@dataclass(frozen=True)
class DesktopDocuments:
    user: str
    folders: list[str]
    documents: list[str]


@dataclass(frozen=True)
class OpenedInServer:
    """What "Open in Server" did: the document opened (or why not), and the lease received."""

    user: str
    opened: dict[str, Any] | None
    lease: Lease
    renewed: bool


def _private_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    temporary = path.with_name(f".{path.name}.new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.replace(temporary, path)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


class DesktopClient:
    """The desktop client's lease: from the server over HTTP, kept in a folder, checked offline."""

    def __init__(self, folder: Path, *, machine: Machine | None = None,
                 clock: Callable[[], datetime] | None = None, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.folder = folder
        self._machine = machine
        self.clock = clock or (lambda: datetime.now(UTC))
        self.timeout = timeout
        self.transport = transport

    @property
    def machine(self) -> Machine:
        if self._machine is None:
            self._machine = this_machine()
        return self._machine

    # -- files -----------------------------------------------------------------------------------------

    @property
    def keys_dir(self) -> Path:
        return self.folder / "trusted-keys"

    def trust(self, public_key_file: Path) -> str:
        """Trust the vendor's public key (a PEM ``.pub`` file); its key id."""
        try:
            keys = load_public_keys([public_key_file])
        except (OSError, ValueError) as error:
            raise InvalidInput(f"{public_key_file} is not an Ed25519 public key ({error})",
                               code="invalid_key") from None
        (key_id, _), = keys.items()
        _private_write(self.keys_dir / f"{key_id}.pub", public_key_file.read_text(encoding="ascii"))
        return key_id

    def vendor_keys(self) -> dict[str, Ed25519PublicKey]:
        return load_public_keys([self.keys_dir]) if self.keys_dir.is_dir() else {}

    def _seen(self) -> datetime | None:
        try:
            return datetime.fromisoformat((self.folder / "seen").read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def _saw(self, now: datetime) -> None:
        """Remember the latest time seen (never moving it back)."""
        seen = self._seen()
        if seen is None or now > seen:
            _private_write(self.folder / "seen", now.astimezone(UTC).isoformat())

    # -- offline ---------------------------------------------------------------------------------------

    def status(self) -> LeaseStatus:
        """Check the stored lease offline: signature chain, this machine, the clock, expiry."""
        now = self.clock()
        revoked = self.folder / "revoked"
        lease_file = self.folder / "lease"
        if not lease_file.exists():
            if revoked.exists():
                return LeaseStatus(False, f"{PERSONAL_EDITION}: the server revoked the lease "
                                          f"({revoked.read_text(encoding='utf-8').strip()})", "lease_revoked")
            return LeaseStatus(False, f"{PERSONAL_EDITION}: no lease; connect with 'Open in Server'", "lease_missing")
        try:
            lease = check_lease(lease_file.read_text(encoding="utf-8"), vendor_keys=self.vendor_keys(),
                                fingerprint=self.machine.fingerprint, now=now, latest_seen=self._seen())
        except LeaseInvalid as error:
            return LeaseStatus(False, f"{PERSONAL_EDITION}: {error.message}", error.code)
        except (OSError, UnicodeDecodeError) as error:
            return LeaseStatus(False, f"{PERSONAL_EDITION}: the lease file cannot be read ({error})", "lease_malformed")
        self._saw(now)
        days = lease.days_left(now)
        return LeaseStatus(True, f"Licensed: lease from {lease.server} for {lease.user} on this machine, expires "
                                 f"{_stamp(lease.expires_at)} (in {days} day{'s' if days != 1 else ''})",
                           None, lease.server, lease.user, lease.machine, lease.expires_at, days)

    # -- online ----------------------------------------------------------------------------------------

    def _post(self, server: str, path: str, body: dict[str, Any], user: str | None, password: str | None) -> Any:
        headers = {}
        if user is not None:
            pair = f"{user}:{password or ''}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        try:
            with httpx.Client(base_url=server, timeout=self.timeout, transport=self.transport) as http:
                response = http.post(path, json=body, headers=headers)
        except httpx.TransportError as error:
            raise ServerUnavailable(f"the CAL server at {server} cannot be reached ({error})") from None
        if response.status_code >= 400:
            raise error_from_response(response)
        return response.json()

    def documents(self, server: str, *, user: str | None = None, password: str | None = None) -> DesktopDocuments:
        """Connect and list the folders and documents the server offers the user."""
        data = self._post(server.rstrip("/"), "/desktop/v1/documents", {}, user, password)
        return DesktopDocuments(str(data["user"]), list(data["folders"]), list(data["documents"]))

    def open_in_server(self, server: str, *, user: str | None = None, password: str | None = None,
                       document: str | None = None) -> OpenedInServer:
        """Connect, open the document if one is named, and receive (or renew) this machine's lease.

        The lease is checked as ``status`` checks it before it is kept; one that fails is refused
        (LeaseInvalid) and the lease kept before stays. A revoked lease (LeaseRefused ``lease_revoked``) is
        forgotten, and ``status`` says it was revoked.
        """
        server = server.rstrip("/")
        listing = self.documents(server, user=user, password=password)
        opened = None
        if document:
            opened = self._post(server, "/desktop/v1/open", {"document": document, "machine": self.machine.name},
                                user, password)
        held = self._held_lease_id()
        body = {"machine": self.machine.name, "fingerprint": self.machine.fingerprint, "server": server,
                "lease_id": held}
        try:
            data = self._post(server, "/desktop/v1/lease", body, user, password)
        except LeaseRefused as error:
            if error.code == "lease_revoked":
                (self.folder / "lease").unlink(missing_ok=True)
                _private_write(self.folder / "revoked", f"{error.message}\n")
            raise
        now = self.clock()
        lease = check_lease(str(data["lease"]), vendor_keys=self.vendor_keys(), fingerprint=self.machine.fingerprint,
                            now=now, latest_seen=self._seen())
        _private_write(self.folder / "lease", lease.text)
        (self.folder / "revoked").unlink(missing_ok=True)
        self._saw(now)
        return OpenedInServer(listing.user, opened, lease, bool(data["renewed"]))

    def _held_lease_id(self) -> str | None:
        try:
            lease, *_ = read_lease((self.folder / "lease").read_text(encoding="utf-8"))
        except (OSError, CalkeeperError, UnicodeDecodeError):
            return None
        return lease.lease_id
