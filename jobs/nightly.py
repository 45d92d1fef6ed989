"""The nightly run as RQ jobs: per store at 01:00 store-local time, or on demand.

``enqueue_due`` is what RQ's cron calls every 15 minutes; it enqueues ``run_store`` for every
store whose local clock has passed 01:00 and whose run for its local date is missing, failed,
interrupted or lost (queued or running for longer than a run may take). A run also makes the
lists of the dates before it that were missed (``core.nightly.jobruns.missed_dates``).
Arguments are ids and ISO dates only.
"""

from __future__ import annotations

import traceback
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.enums import JobKind
from core.locks import lock_store, try_lock
from core.nightly import jobruns, retention
from core.nightly import run as nightly
from core.stores.models import Store
from core.timeutil import local_date, store_zone
from jobs.runtime import job_session

NIGHTLY_AT = time(1, 0)
TIMEOUT = 1800  # seconds; a store of 100,000 opportunities takes a few
LOST_AFTER = timedelta(seconds=TIMEOUT)  # a run queued or running this long is run again


def run_store(store_id: int, run_on: str, job_run_id: int | None = None) -> dict[str, Any]:
    """Run the nightly work of one store for one store-local date, under the store's lock.

    The whole run is one transaction: a worker killed half-way leaves nothing behind, and the
    next run does the work in full. A run that finds the lock taken records itself as skipped.
    The nightly lock first (on PostgreSQL it never waits), then the store's lock before
    anything is read or written (core/locks.py), then the work.
    """
    day = date.fromisoformat(run_on)
    if job_run_id is None:
        with job_session() as session:
            job_run_id = jobruns.create(session, JobKind.NIGHTLY, store_id=store_id, run_on=day)
    try:
        with job_session() as session:
            locked = not try_lock(session, store_id, day)
            if not locked:
                _mark_running(session, job_run_id)
                lock_store(session, store_id)
                jobruns.interrupt_stale(session, store_id, JobKind.NIGHTLY, job_run_id)
                ctx = nightly.store_context(session, store_id, day, utcnow(), job_run_id)
                # customers kept past what the privacy notice promises go first
                purged = retention.purge(session, store_id, ctx.now, ctx.timezone)
                counts = {**nightly.run(session, ctx), "purged": purged}
                jobruns.finish(session, job_run_id, counts)
        if locked:
            with job_session() as session:
                jobruns.skip(session, job_run_id, "another run of this store holds the lock")
            return {"skipped": 1}
    except Exception:
        with job_session() as session:
            jobruns.fail(session, job_run_id, traceback.format_exc())
        raise
    return counts


def _mark_running(work: Session, job_run_id: int) -> None:
    """Show the run as running while it works. On PostgreSQL that is committed at once from a
    second session; SQLite has one writer at a time, so there it shows with the result."""
    if work.get_bind().dialect.name == "postgresql":
        with job_session() as session:
            jobruns.start(session, job_run_id)
    else:
        jobruns.start(work, job_run_id)


def due_stores(now: datetime) -> list[tuple[int, date]]:
    """Stores whose local time has passed 01:00 and whose run for their local date neither
    succeeded nor is queued or running since less than ``LOST_AFTER``."""
    due = []
    with job_session() as session:
        for store_id, timezone in session.execute(
            select(Store.id, Store.timezone).where(Store.active).order_by(Store.id)
        ):
            local_now = now.astimezone(store_zone(timezone))
            day = local_date(now, timezone)
            if local_now.time() >= NIGHTLY_AT and not jobruns.in_hand_for(
                session, store_id, JobKind.NIGHTLY, day, now - LOST_AFTER
            ):
                due.append((store_id, day))
    return due


def enqueue_due() -> int:
    """Called by RQ's cron: create a queued run for every due store and enqueue it."""
    from jobs import get_queue_for_worker

    queue = get_queue_for_worker()
    due = due_stores(utcnow())
    for store_id, day in due:
        with job_session() as session:
            run_id = jobruns.create(session, JobKind.NIGHTLY, store_id=store_id, run_on=day)
        queue.enqueue(run_store, store_id, day.isoformat(), run_id, job_timeout=TIMEOUT)
    return len(due)
