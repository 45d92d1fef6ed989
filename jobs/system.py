"""Operational jobs."""

from __future__ import annotations

import os
import socket

from jobs.runtime import run_recorded

TIMEOUT = 60  # seconds


def probe(job_run_id: int) -> None:
    """A round trip through the queue and a worker, started from the admin console."""
    run_recorded(job_run_id, lambda session: {"host": socket.gethostname(), "pid": os.getpid()})
