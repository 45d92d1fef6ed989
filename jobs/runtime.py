"""Where a job gets its database session: one session, one commit, per job."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import has_app_context
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core import schema  # noqa: F401  (every feature's models: a bare worker maps them all)
from core.db import configure_sqlite
from core.nightly import jobruns
from core.phone import scrub_mobiles
from core.redaction import SQLALCHEMY_ENGINE, protect
from settings import database_url

_ENGINES: dict[str, Engine] = {}  # a bare worker's engines, one per database URL
# A bare ``rq worker`` logs a failed job's traceback: no mobile number in it (core.redaction).
protect("rq.worker", "jobs.outbox", SQLALCHEMY_ENGINE)


def _worker_engine(url: str) -> Engine:
    if url not in _ENGINES:
        # hide_parameters: an error's text never quotes the statement's values (wsgi.py too).
        made = create_engine(url, pool_pre_ping=True, hide_parameters=True)
        _ENGINES[url] = configure_sqlite(made)
    return _ENGINES[url]


def _after_fork_in_child() -> None:
    """RQ forks a work horse per job: the horse must not use the connections it inherited,
    which the worker still holds. Were it to, a horse killed half-way (kill -9, the OOM
    killer) would leave its transaction open on the worker's socket, holding the store's locks
    until the worker stops. The child forgets them without closing them (SQLAlchemy's
    ``dispose(close=False)``) and opens its own."""
    engines = list(_ENGINES.values())
    if has_app_context():
        from extensions import db

        engines.append(db.engine)
    for inherited in engines:
        inherited.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


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


def queue_job() -> str | None:
    """The queue's id of the delivery running now (None outside a queued job)."""
    from rq import get_current_job

    job = get_current_job()
    return job.id if job is not None else None


def run_recorded(job_run_id: int, body: Callable[[Session], dict[str, Any]]) -> dict[str, Any]:
    """Claim the run, run ``body`` in one transaction and record the run as finished or failed.
    A delivery of a run another delivery has claimed (or finished) does nothing."""
    with job_session() as session:
        if not jobruns.start(session, job_run_id, queue_job=queue_job()):
            return {}
    try:
        with job_session() as session:
            counts = body(session)
            jobruns.finish(session, job_run_id, counts)
    except Exception:
        with job_session() as session:
            jobruns.fail(session, job_run_id, scrub_mobiles(traceback.format_exc()))
        raise
    return counts
