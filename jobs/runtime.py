"""Where a job gets its database session: one session, one commit, per job."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from flask import has_app_context
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core import schema  # noqa: F401  (every feature's models: a bare worker maps them all)
from core.db import configure_sqlite
from core.nightly import jobruns
from settings import database_url


@cache
def _worker_engine(url: str) -> Engine:
    return configure_sqlite(create_engine(url, pool_pre_ping=True))


def engine() -> Engine:
    """The app's engine inside the app (inline jobs, tests); in a bare ``rq worker``
    process, an engine for ``DATABASE_URL``."""
    if has_app_context():
        from extensions import db

        return db.engine
    return _worker_engine(database_url())


@contextmanager
def job_session() -> Iterator[Session]:
    """A fresh session, committed once when the block ends, rolled back if it raises."""
    with Session(engine(), expire_on_commit=False) as session, session.begin():
        yield session


def run_recorded(job_run_id: int, body: Callable[[Session], dict[str, Any]]) -> dict[str, Any]:
    """Run ``body`` in one transaction and record the run as started, finished or failed."""
    with job_session() as session:
        jobruns.start(session, job_run_id)
    try:
        with job_session() as session:
            counts = body(session)
            jobruns.finish(session, job_run_id, counts)
    except Exception:
        with job_session() as session:
            jobruns.fail(session, job_run_id, traceback.format_exc())
        raise
    return counts
