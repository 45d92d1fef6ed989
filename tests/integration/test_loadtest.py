"""`make loadtest` in its quick mode, end to end (bench/loadtest.py): its own PostgreSQL
cluster and Redis, gunicorn and an RQ worker, tablets and consultants under the faults. Run in
CI's PostgreSQL pass only (it needs PostgreSQL's server tools and redis-server, and a minute)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL")
    or shutil.which("pg_createcluster") is None
    or shutil.which("redis-server") is None,
    reason="the load test runs in CI's PostgreSQL pass (pg_createcluster, redis-server)",
)


def test_the_quick_load_test_keeps_every_invariant():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadtest", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    invariants = dict(re.findall(r"^\| ([^|]+?) \| (-?\d+) \|$", done.stdout, re.MULTILINE))
    assert len(invariants) >= 10, out[-6000:]
    assert set(invariants.values()) == {"0"}, invariants
    faults = re.findall(r"^\| [^|]+ \| [^|]+ \| (yes|\*\*no\*\*) \|$", done.stdout, re.MULTILINE)
    assert len(faults) == 6 and set(faults) == {"yes"}, out[-6000:]
    assert "README.md updated" not in out
