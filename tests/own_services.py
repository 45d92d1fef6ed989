"""Services of a test's own, on free ports of 127.0.0.1: a fault test stops these, never the
machine's shared PostgreSQL or Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import time

from redis import Redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnRedis:
    """A redis-server without persistence: stopped, it loses everything it held."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("own redis did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _pg_version() -> str:
    return sorted(os.listdir("/etc/postgresql"), key=int)[-1]


class OwnPostgres:
    """A PostgreSQL cluster of the test's own (``pg_createcluster`` on a free port, trust
    authentication on 127.0.0.1), which a fault test may stop and start; dropped at the end."""

    def __init__(self) -> None:
        self.port = free_port()
        self.version = _pg_version()
        self.name = f"fault_{self.port}"

    def create(self) -> None:
        subprocess.run(
            [
                *("pg_createcluster", self.version, self.name, "-p", str(self.port)),
                *("--", "--auth-local=trust", "--auth-host=trust"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.start()

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        self._ctl("start")
        for _ in range(100):
            if self.ready():
                return
            time.sleep(0.1)
        raise RuntimeError("own postgresql did not start")

    def stop(self) -> None:
        """Stop at once (fast shutdown): every connection is cut."""
        self._ctl("stop", "-m", "fast")

    def ready(self) -> bool:
        done = subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False
        )
        return done.returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        subprocess.run(
            [
                *("psql", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"),
                *("-c", f'CREATE DATABASE "{name}"'),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return self.url(name)

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, self.name],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
