"""The nightly run as RQ jobs: per store at 01:00 store-local time, or on demand.

``enqueue_due`` is what RQ's cron calls every 15 minutes; it enqueues ``run_store`` for every
store whose local clock has passed 01:00 and whose run for its local date is missing, failed
or interrupted; the outbox (jobs/outbox.py) sees that a queued or running run gets done. A run
also makes the lists of the dates before it that were missed (``jobruns.missed_dates``).
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
from jobs.runtime import job_session, queue_job

NIGHTLY_AT = time(1, 0)
TIMEOUT = 1800  # seconds; a store of 100,000 opportunities takes a few


def run_store(store_id: int, run_on: str, job_run_id: int | None = None) -> dict[str, Any]:
    """Run the nightly work of one store for one store-local date, under the store's lock.

    The whole run is one transaction: a worker killed half-way leaves nothing behind, and the
    next run does the work in full. The nightly lock first (on PostgreSQL it never waits),
    then the run is claimed (a second delivery of the same run stops there, changing
    nothing), then the store's lock before anything is read or written (core/locks.py), then
    the work. A run that finds the nightly lock taken (another run of the store and date is
    working) records itself as skipped. Without ``job_run_id`` (``flask nightly``) the run is
    made here, claimed as it is made.
    """
    day = date.fromisoformat(run_on)
    claimed = job_run_id is None
    if job_run_id is None:
        with job_session() as session:
            job_run_id = jobruns.create(
                session, JobKind.NIGHTLY, store_id=store_id, run_on=day, started=True
            )
    counts: dict[str, Any] = {}
    try:
        with job_session() as session:
            locked = not try_lock(session, store_id, day)
            if not locked:
                claimed = claimed or _claim(session, job_run_id)
            if claimed and not locked:
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
        if claimed:  # a delivery that never claimed the run leaves it to the outbox
            with job_session() as session:
                jobruns.fail(session, job_run_id, traceback.format_exc())
        raise
    return counts


def _claim(work: Session, job_run_id: int) -> bool:
    """Claim the run for this delivery (``jobruns.start``). On PostgreSQL the claim is
    committed at once from a second session, so the run shows as running while it works;
    SQLite has one writer at a time, so there it is part of the work's transaction."""
    if work.get_bind().dialect.name == "postgresql":
        with job_session() as session:
            return jobruns.start(session, job_run_id, queue_job=queue_job())
    return jobruns.start(work, job_run_id, queue_job=queue_job())


def due_stores(now: datetime) -> list[tuple[int, date]]:
    """Stores whose local time has passed 01:00 and whose run for their local date is not in
    hand (none succeeded, queued or running: a failed or skipped night is run again). Two
    statements, whatever the number of stores."""
    due = []
    with job_session() as session:
        stores = session.execute(
            select(Store.id, Store.timezone).where(Store.active).order_by(Store.id)
        ).all()
        # no store's local date is more than a day behind UTC's
        held = jobruns.in_hand(session, JobKind.NIGHTLY, now.date() - timedelta(days=1))
    for store_id, timezone in stores:
        local_now = now.astimezone(store_zone(timezone))
        day = local_date(now, timezone)
        if local_now.time() >= NIGHTLY_AT and (store_id, day) not in held:
            due.append((store_id, day))
    return due


def enqueue_due() -> int:
    """Called by RQ's cron: make a queued run for every due store (one transaction) and hand
    them to the queue after its commit (the outbox's dispatcher hands any it loses)."""
    from jobs import get_queue_for_worker
    from jobs.outbox import enqueue_run, mark_new

    now = utcnow()
    due = due_stores(now)
    with job_session() as session:
        sent = [
            mark_new(
                session,
                jobruns.create(session, JobKind.NIGHTLY, store_id=store_id, run_on=day, now=now),
                now,
            )
            for store_id, day in due
        ]
    queue = get_queue_for_worker()
    for run, delivery in sent:
        enqueue_run(queue, run, delivery)
    return len(due)
