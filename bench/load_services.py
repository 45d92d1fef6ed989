"""The load test's own deployment: a PostgreSQL cluster and a Redis on free ports of 127.0.0.1
(``tests/own_services.py``: the machine's shared ones are never touched), the migrations,
gunicorn with four workers and one RQ worker, each a process of ours that is always ended,
and the cluster dropped, however the run ends."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from tests.own_services import OwnPostgres, OwnRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATABASE = "showroom_load"


class Deployment:
    """Everything the load test starts; :meth:`close` undoes it (idempotent)."""

    def __init__(self, gunicorn_workers: int = 4) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix="showroom-loadtest-"))
        self.secret_key = secrets.token_hex(32)
        self.postgres = OwnPostgres()
        self.redis = OwnRedis()
        self.port = free_port()
        self.gunicorn_workers = gunicorn_workers
        self.gunicorn: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.database_url = ""
        self._postgres_made = False
        self._log_files: list[Any] = []

    # --- set-up ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "SECRET_KEY": self.secret_key,
            # a reverse proxy in front, as in production: each simulated tablet and member of
            # staff has an address of its own (X-Forwarded-For), so per-address limits are theirs
            "TRUSTED_PROXIES": "1",
        }

    def start_services(self) -> None:
        self._postgres_made = True
        self.postgres.create()
        self.database_url = self.postgres.create_database(DATABASE)
        self.redis.start()

    def migrate(self) -> None:
        done = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        (self.logs / "migrate.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"migrations failed: see {self.logs / 'migrate.log'}")

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115  (closed in close())
        self._log_files.append(log)
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: ended as a whole, by its id
        )

    def start_gunicorn(self) -> None:
        """gunicorn started (its workers boot meanwhile: see :meth:`wait_gunicorn`)."""
        self.gunicorn = self._spawn(
            "gunicorn",
            [
                str(BIN / "gunicorn"),
                *("-w", str(self.gunicorn_workers)),
                *("-b", f"127.0.0.1:{self.port}"),
                # its own control socket (the default is one per user, in ~/.gunicorn)
                *("--control-socket", str(self.logs / "gunicorn.ctl")),
                "wsgi:create_app()",
            ],
        )

    def wait_gunicorn(self) -> None:
        self.wait_healthy(timeout=60)
        deadline = time.monotonic() + 30
        while len(self.gunicorn_pids()) < self.gunicorn_workers:
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start its workers")
            time.sleep(0.1)

    def start_worker(self, burst: bool = False) -> subprocess.Popen[bytes]:
        name = f"worker{len(self.workers) + 1}"
        args = [str(BIN / "flask"), "--app", "wsgi", "worker", *(["--burst"] if burst else [])]
        proc = self._spawn(name, args)
        self.workers.append(proc)
        return proc

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.gunicorn is not None and self.gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.logs / 'gunicorn.log'}")
            try:
                if requests.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("the application did not answer /healthz")

    # --- gunicorn's workers ------------------------------------------------------------------

    def gunicorn_pids(self) -> list[int]:
        """The master's worker processes."""
        if self.gunicorn is None:
            return []
        return children_of(self.gunicorn.pid)

    # --- tear-down ---------------------------------------------------------------------------

    def close(self) -> None:
        """End every process of ours, drop the cluster. Safe to call twice."""
        for proc in [*self.workers, *([self.gunicorn] if self.gunicorn else [])]:
            _end(proc)
        self.workers = []
        self.gunicorn = None
        self.redis.stop()
        if self._postgres_made:
            self.postgres.drop()
            self._postgres_made = False
        for log in self._log_files:
            log.close()
        self._log_files = []

    def discard_logs(self) -> None:
        shutil.rmtree(self.logs, ignore_errors=True)


def _end(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group we started, SIGKILL if it has not gone in 10 s; then the
    children it had (an RQ work horse runs in a session of its own)."""
    children = children_of(proc.pid)
    if proc.poll() is None:
        _kill_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    _kill_group(proc.pid, signal.SIGKILL)
    for pid in children:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _parent_of(entry) == pid:
            found.append(int(entry))
    return sorted(found)


def _parent_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


_SOCKET = re.compile(r"socket:\[(\d+)\]")


def socket_owners(pids: list[int]) -> dict[int, int]:
    """Local TCP port -> pid, for the sockets these processes hold (from /proc)."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                match = _SOCKET.fullmatch(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
            if match:
                inodes[match.group(1)] = pid
    owners: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    fields = line.split()
                    port = int(fields[1].rsplit(":", 1)[1], 16)
                    if fields[9] in inodes:
                        owners[port] = inodes[fields[9]]
        except OSError:
            continue
    return owners
