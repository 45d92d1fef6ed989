"""The outbox: every job is a job run, a row written in the same transaction as the change
that asks for it (``core.nightly.jobruns.create``); the queue only carries it.

A run is handed to RQ after its commit, marked first as sent (attempt n, queue job
``run-<id>-<n>``, ``jobruns.mark_sent``): by the request that asked for it
(``jobs.send_after_commit``) or by the dispatcher. The dispatcher (:func:`dispatch`) runs in
the worker between jobs (:class:`Worker`, at least every ``DISPATCH_EVERY`` seconds) and in the
cron (``jobs/schedule.py``, every minute). It looks at every queued or running run:

- its delivery is waiting in the queue or working: in hand, nothing to do;
- a queued run never handed, or whose delivery is gone (Redis restarted), failed or stopped:
  handed again as its next attempt (after ``GRACE``, so an enqueue on its way is not raced);
- a running run whose delivery is gone or failed (its work horse was killed): recorded as
  interrupted, and a new run of the same work queued and handed in its place.

A delivery claims its run before it works (``jobruns.start``): a second delivery of the same
run finds it running or done and changes nothing, and the work itself is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import rq
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy.orm import Session

from core.db import utcnow
from core.enums import JobKind
from core.enums import JobStatus as RunStatus
from core.nightly import jobruns
from core.nightly.jobruns import Outstanding
from jobs.runtime import job_session

log = logging.getLogger(__name__)

GRACE = timedelta(seconds=30)  # a run handed (or made) this recently is left alone
DISPATCH_EVERY = 60  # seconds: the worker dispatches at least this often while idle
# a run done outside the queue (``flask nightly``) has no delivery to watch: it is taken as
# lost once it has run longer than any run may
OUTSIDE_THE_QUEUE_LOST_AFTER = timedelta(hours=1)
IN_HAND = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def call(run: Outstanding) -> tuple[Callable[..., Any], tuple[int | str, ...], int]:
    """The job function, its arguments (ids and ISO dates) and its timeout for a run."""
    if run.kind == JobKind.NIGHTLY.value:
        from jobs.nightly import TIMEOUT, run_store

        if run.store_id is None or run.run_on is None:
            raise ValueError(f"nightly run {run.id} without a store or a date")
        return run_store, (run.store_id, run.run_on.isoformat(), run.id), TIMEOUT
    from jobs.system import TIMEOUT as PROBE_TIMEOUT
    from jobs.system import probe

    return probe, (run.id,), PROBE_TIMEOUT


def mark_new(session: Session, run_id: int, now: datetime) -> tuple[Outstanding, str]:
    """Mark a run just made, in the transaction that made it, as handed (its first attempt);
    the caller enqueues it after the commit (:func:`enqueue_run`). If that never happens, the
    dispatcher finds the delivery missing and hands it again."""
    queue_job = jobruns.mark_sent(session, run_id, 0, now)
    if queue_job is None:
        raise RuntimeError(f"run {run_id} was already handed")
    [run] = jobruns.outstanding(session, ids=[run_id])
    return run, queue_job


def enqueue_run(queue: Queue, run: Outstanding, queue_job: str) -> None:
    """Hand a run, already marked as sent, to the queue."""
    from jobs import enqueue_on

    func, args, timeout = call(run)
    enqueue_on(queue, func, *args, timeout=timeout, job_id=queue_job)


def lost(run: Outstanding, delivery: str | None, now: datetime, grace: timedelta) -> bool:
    """Whether a queued or running run is no longer in anyone's hand: the one rule of the
    outbox. ``delivery``: the queue's status of the run's delivery (None: unknown to it)."""
    if run.status == RunStatus.RUNNING.value and run.queue_job is None:
        started = run.started_at or run.created_at
        return started < now - OUTSIDE_THE_QUEUE_LOST_AFTER
    if (run.sent_at or run.created_at) > now - grace:
        return False
    return delivery not in IN_HAND


def _deliveries(queue: Queue, runs: list[Outstanding]) -> dict[str, str]:
    """The queue's status of each run's delivery, in one round trip to Redis."""
    ids = [run.queue_job for run in runs if run.queue_job]
    if not ids:
        return {}
    jobs = Job.fetch_many(ids, connection=queue.connection, serializer=queue.serializer)
    return {job.id: job.get_status(refresh=False) for job in jobs if job is not None}


def dispatch(queue: Queue, now: datetime | None = None, grace: timedelta = GRACE) -> dict[str, int]:
    """Hand again every run that is owed and no longer in hand (see the module). Returns the
    counts: ``handed`` (queued runs handed again) and ``interrupted`` (running runs replaced).
    Safe to run in several processes at once: each hand is a conditional update."""
    now = now or utcnow()
    # a worker that died whole leaves its job "started" until the registry expires it
    StartedJobRegistry(queue=queue).cleanup()
    with job_session() as session:
        runs = jobruns.outstanding(session)
    deliveries = _deliveries(queue, runs)
    counts = {"handed": 0, "interrupted": 0}
    for run in runs:
        if not lost(run, deliveries.get(run.queue_job or ""), now, grace):
            continue
        with job_session() as session:
            target, seen = run, run.attempts
            if run.status == RunStatus.RUNNING.value:
                new_id = jobruns.interrupt(session, run.id, run.queue_job, now)
                if new_id is None:
                    continue
                counts["interrupted"] += 1
                [target] = jobruns.outstanding(session, ids=[new_id])
                seen = 0
            queue_job = jobruns.mark_sent(session, target.id, seen, now)
        if queue_job is not None:
            enqueue_run(queue, target, queue_job)
            counts["handed"] += 1
            log.warning("run %s handed again as %s", target.id, queue_job)
    return counts


def dispatch_job() -> dict[str, int]:
    """The cron's entry: dispatch on the worker's queue."""
    from jobs import get_queue_for_worker

    return dispatch(get_queue_for_worker())


class Worker(rq.Worker):
    """RQ's worker, also the outbox's dispatcher: it dispatches when it starts and then at
    least every ``DISPATCH_EVERY`` seconds while idle (with RQ's own registry maintenance), so
    the runs a fault left behind are handed again within minutes of the fault clearing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", DISPATCH_EVERY)
        kwargs.setdefault("worker_ttl", DISPATCH_EVERY + 15)  # RQ waits ttl - 15 s per dequeue
        super().__init__(*args, **kwargs)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        for queue in self.queues:
            try:
                counts = dispatch(queue)
            except Exception:  # the database or Redis away: the next round tries again
                log.exception("the outbox could not be dispatched; trying again later")
                continue
            if any(counts.values()):
                log.warning("outbox: %s", counts)
