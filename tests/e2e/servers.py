"""A real ``calkeeper serve`` process for end-to-end tests: started on a free port, stopped at the end.

    with running_server(tmp_path / "site") as server:
        httpx.get(f"{server.url}/api/v1/cals", headers={"Authorization": f"Bearer {server.admin_token}"})
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "calkeeper.cli"]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
TOKEN_LINE = re.compile(r"token \(shown once\): (\S+)")


@dataclass
class RunningServer:
    url: str
    admin_token: str
    process: subprocess.Popen[str]
    data_dir: Path
    database_url: str | None
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)  # what the server printed so far

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def cli(self, *args: str, token: str | None = None, expect: int | None = 0,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``calkeeper --server URL --token T ARGS`` and check its exit code (None: any)."""
        done = subprocess.run([*CLI, "--server", self.url, "--token", token or self.admin_token, *args],
                              env=self.env, input=stdin, capture_output=True, text=True, timeout=60)
        if expect is not None:
            assert done.returncode == expect, f"{args}: rc={done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def local_cli(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        """Run ``calkeeper`` on the server's own data dir and database, as an admin on its host would."""
        return _local(_site_args(self.data_dir, self.database_url), self.env, *args, expect=expect)

    def create_token(self, role: str, name: str) -> str:
        """A new API token of this role, made on the server's host."""
        return _create_token(_site_args(self.data_dir, self.database_url), self.env, role, name)

    def kill(self) -> None:
        """SIGKILL the server's whole process group, as a crash or a power cut would stop it."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # start_new_session: the group id is the pid
        self.process.wait(timeout=STOP_TIMEOUT)


def _site_args(data_dir: Path, database_url: str | None) -> list[str]:
    return ["--data-dir", str(data_dir), *(["--db", database_url] if database_url else [])]


def _local(site: list[str], env: dict[str, str], *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *site, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == expect, f"{args}: rc={done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _create_token(site: list[str], env: dict[str, str], role: str, name: str) -> str:
    made = json.loads(_local(site, env, "token", "create", "--role", role, "--name", name, "--json").stdout)
    return str(made["secret"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clean_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALKEEPER_")}
    env.update({"COLUMNS": "200", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


@contextmanager
def running_server(
    data_dir: Path,
    *,
    database_url: str | None = None,
    port: int | None = None,
    workers: int = 1,
    demo: bool = True,
    extra_env: Mapping[str, str] | None = None,
    admin_token: str | None = None,
) -> Iterator[RunningServer]:
    """Start ``calkeeper serve`` (with the demo site, or empty with a new admin token) and stop it at the end.

    ``admin_token``: a token the site already has (a restart on the same data), used instead of a new one.
    """
    port = port or free_port()
    env, site = _clean_env(extra_env), _site_args(Path(data_dir), database_url)
    token = admin_token or ("" if demo else _create_token(site, env, "admin", f"e2e-admin-{port}"))  # demo: printed
    command = [*CLI, *site, "serve", "--port", str(port), "--workers", str(workers), *(["--demo"] if demo else [])]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    server = RunningServer(f"http://127.0.0.1:{port}", token, process, Path(data_dir), database_url, env)
    reader = threading.Thread(target=_collect, args=(server.process, server.lines), daemon=True)
    reader.start()
    try:
        _wait_until_ready(server)
        yield server
    finally:
        _stop(server.process)
        reader.join(timeout=STOP_TIMEOUT)


def _collect(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:  # keep reading, so that the server never blocks on a full pipe
        lines.append(line)


def _wait_until_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"calkeeper serve exited with {server.process.returncode}:\n{server.output}")
        if not server.admin_token:
            found = TOKEN_LINE.search(server.output)
            server.admin_token = found.group(1) if found else ""
        try:
            up = httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200
        except httpx.TransportError:
            up = False
        if up and server.admin_token:
            return
        if up:  # the token is printed before the server starts: give the reader a moment, then say so
            deadline = min(deadline, time.monotonic() + 2.0)
        time.sleep(0.1)
    raise RuntimeError(f"calkeeper serve at {server.url} did not come up with an admin token within "
                       f"{START_TIMEOUT:g} s:\n{server.output}")


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM (uvicorn shuts down gracefully), then SIGKILL to the server's own process group."""
    if process.poll() is None:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # workers left behind by a crashed or stuck supervisor
    process.wait(timeout=STOP_TIMEOUT)
