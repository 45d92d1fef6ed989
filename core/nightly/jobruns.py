"""Job runs: what background work ran, when, with what counts or error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.db import rowcount, utcnow
from core.enums import JobKind, JobStatus
from core.errors import NotFound
from core.nightly.models import JobRun


def create(
    session: Session,
    kind: JobKind,
    *,
    store_id: int | None,
    run_on: date | None = None,
    requested_by: int | None = None,
    now: datetime | None = None,
    started: bool = False,
) -> int:
    """A queued run; ``now`` (default: the clock) is when it was asked for. The row is also the
    job's outbox entry (jobs/outbox.py): written in the transaction that asks for the work, it
    is handed to the queue after the commit. ``started``: a run done at once outside the queue
    (``flask nightly``), claimed as it is made."""
    at = now or utcnow()
    run = JobRun(
        kind=kind.value,
        store_id=store_id,
        run_on=run_on,
        requested_by=requested_by,
        status=(JobStatus.RUNNING if started else JobStatus.QUEUED).value,
        created_at=at,
        started_at=at if started else None,
        attempts=0,
    )
    session.add(run)
    session.flush()
    return run.id


def _get(session: Session, run_id: int) -> JobRun:
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound("job run")
    return run


def start(
    session: Session, run_id: int, now: datetime | None = None, queue_job: str | None = None
) -> bool:
    """Claim a queued run for the delivery that works on it, or return False (it is already
    running under another delivery, or done). One conditional UPDATE: of two deliveries of
    the same run only one works, the other changes nothing. ``queue_job``: the queue's id of
    the claiming delivery, whose life the dispatcher then watches."""
    values: dict[str, Any] = {"status": JobStatus.RUNNING.value, "started_at": now or utcnow()}
    if queue_job is not None:
        values["queue_job"] = queue_job
    result = session.execute(
        update(JobRun)
        .where(JobRun.id == run_id, JobRun.status == JobStatus.QUEUED.value)
        .values(**values)
    )
    return rowcount(result) == 1


def finish(
    session: Session, run_id: int, counts: dict[str, Any], now: datetime | None = None
) -> None:
    run = _get(session, run_id)
    run.status = JobStatus.SUCCEEDED.value
    run.finished_at = now or utcnow()
    run.counts = counts


def skip(session: Session, run_id: int, reason: str) -> None:
    """Another run of the store holds the lock: this one, still queued, stops. A delivery of a
    run that another delivery is working on changes nothing."""
    session.execute(
        update(JobRun)
        .where(JobRun.id == run_id, JobRun.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.SKIPPED.value, finished_at=utcnow(), error=reason)
    )


INTERRUPTED = "interrupted: the worker stopped before the run finished"


def interrupt_stale(session: Session, store_id: int, kind: JobKind, keep_id: int) -> int:
    """Mark as interrupted the runs still 'running' although we now hold the store's lock.

    A run is marked running only once it holds the lock, so another running one is dead (its
    worker was killed). One UPDATE, so it never overwrites a status set in the meantime.
    """
    result = session.execute(
        update(JobRun)
        .where(
            JobRun.store_id == store_id,
            JobRun.kind == kind.value,
            JobRun.status == JobStatus.RUNNING.value,
            JobRun.id != keep_id,
        )
        .values(
            status=JobStatus.FAILED.value,
            finished_at=utcnow(),
            error=INTERRUPTED,
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


# A run for a date is in hand when it succeeded or is still owed: the outbox (jobs/outbox.py)
# sees that a queued or running run is done, handing it again when its delivery is lost.
IN_HAND = (JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.SUCCEEDED.value)


def exists_for(session: Session, store_id: int, kind: JobKind, run_on: date) -> bool:
    """A run for this store and date is in hand (queued, running or done)."""
    return (
        session.scalar(
            select(JobRun.id)
            .where(JobRun.store_id == store_id, JobRun.kind == kind.value)
            .where(JobRun.run_on == run_on, JobRun.status.in_(IN_HAND))
            .limit(1)
        )
        is not None
    )


def in_hand(session: Session, kind: JobKind, since: date) -> set[tuple[int, date]]:
    """The (store, date) pairs from ``since`` on whose run is in hand. One statement; a failed,
    interrupted or skipped run leaves its date to be run again."""
    rows = session.execute(
        select(JobRun.store_id, JobRun.run_on)
        .where(JobRun.kind == kind.value, JobRun.run_on >= since, JobRun.status.in_(IN_HAND))
        .distinct()
    )
    return {(store_id, run_on) for store_id, run_on in rows if store_id and run_on}


CATCH_UP_DAYS = 7  # a nightly run makes the lists of at most this many missed dates before it


def missed_dates(session: Session, store_id: int, run_on: date) -> list[date]:
    """The dates before ``run_on`` whose nightly run never succeeded, oldest first, which the
    run of ``run_on`` makes the callback lists of too (DESIGN.md section 3 step 9: nights are
    never lost).

    They are the dates after the store's last successful nightly run up to ``run_on``, at
    most ``CATCH_UP_DAYS`` back. A store's record begins with its first nightly run of any
    status: a store that was never run has missed nothing, and once ``run_on`` has succeeded,
    running it again catches nothing up.
    """
    last_done, first = session.execute(
        select(
            func.max(JobRun.run_on).filter(JobRun.status == JobStatus.SUCCEEDED.value),
            func.min(JobRun.run_on),
        ).where(
            JobRun.store_id == store_id,
            JobRun.kind == JobKind.NIGHTLY.value,
            JobRun.run_on <= run_on,
        )
    ).one()
    if first is None:
        return []
    start = max(first, run_on - timedelta(days=CATCH_UP_DAYS))
    if last_done is not None:
        start = max(start, last_done + timedelta(days=1))
    return [start + timedelta(days=n) for n in range((run_on - start).days)]


def fail(session: Session, run_id: int, error: str, now: datetime | None = None) -> None:
    """The run's work raised: recorded with its error. A run already finished keeps its end."""
    session.execute(
        update(JobRun)
        .where(
            JobRun.id == run_id,
            JobRun.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
        )
        .values(status=JobStatus.FAILED.value, finished_at=now or utcnow(), error=error[:4000])
    )


@dataclass(frozen=True)
class Outstanding:
    """A run the outbox still owes: queued, or running."""

    id: int
    kind: str
    store_id: int | None
    run_on: date | None
    status: str
    created_at: datetime
    started_at: datetime | None
    sent_at: datetime | None
    attempts: int
    queue_job: str | None


def outstanding(session: Session, ids: list[int] | None = None) -> list[Outstanding]:
    """The queued and running runs (or those of ``ids``), oldest first. One statement."""
    query = select(
        JobRun.id,
        JobRun.kind,
        JobRun.store_id,
        JobRun.run_on,
        JobRun.status,
        JobRun.created_at,
        JobRun.started_at,
        JobRun.sent_at,
        JobRun.attempts,
        JobRun.queue_job,
    ).where(JobRun.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]))
    if ids is not None:
        query = query.where(JobRun.id.in_(ids))
    return [Outstanding(**row._asdict()) for row in session.execute(query.order_by(JobRun.id))]


def mark_sent(session: Session, run_id: int, seen_attempts: int, now: datetime) -> str | None:
    """Record that a queued run is handed to the queue as its next attempt and return the
    queue's id for that delivery, or None when someone else handed it meanwhile (a conditional
    UPDATE: two dispatchers never both hand the same attempt)."""
    attempt = seen_attempts + 1
    queue_job = f"run-{run_id}-{attempt}"
    result = session.execute(
        update(JobRun)
        .where(
            JobRun.id == run_id,
            JobRun.attempts == seen_attempts,
            JobRun.status == JobStatus.QUEUED.value,
        )
        .values(attempts=attempt, sent_at=now, queue_job=queue_job)
    )
    return queue_job if rowcount(result) == 1 else None


def interrupt(session: Session, run_id: int, queue_job: str | None, now: datetime) -> int | None:
    """A running run whose delivery is gone (the work horse killed, the worker lost): recorded
    as interrupted, and a new run of the same work queued in its place, whose id is returned.
    None when the run changed meanwhile (it finished, or another dispatcher did this)."""
    result = session.execute(
        update(JobRun)
        .where(
            JobRun.id == run_id,
            JobRun.status == JobStatus.RUNNING.value,
            JobRun.queue_job.is_(None) if queue_job is None else JobRun.queue_job == queue_job,
        )
        .values(status=JobStatus.FAILED.value, finished_at=now, error=INTERRUPTED)
    )
    if rowcount(result) != 1:
        return None
    old = session.execute(
        select(JobRun.kind, JobRun.store_id, JobRun.run_on, JobRun.requested_by).where(
            JobRun.id == run_id
        )
    ).one()
    return create(
        session,
        JobKind(old.kind),
        store_id=old.store_id,
        run_on=old.run_on,
        requested_by=old.requested_by,
        now=now,
    )


@dataclass(frozen=True)
class JobRunRow:
    id: int
    kind: str
    status: str
    run_on: date | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, Any] | None
    error: str | None
    attempts: int = 0


def recent(
    session: Session, store_id: int, limit: int = 30, kind: JobKind | None = None
) -> list[JobRunRow]:
    query = select(JobRun).where(JobRun.store_id == store_id)
    if kind is not None:
        query = query.where(JobRun.kind == kind.value)
    runs = session.scalars(query.order_by(JobRun.created_at.desc(), JobRun.id.desc()).limit(limit))
    return [
        JobRunRow(
            r.id,
            r.kind,
            r.status,
            r.run_on,
            r.created_at,
            r.started_at,
            r.finished_at,
            r.counts,
            r.error,
            r.attempts,
        )
        for r in runs
    ]


# By this store-local time the night's run has normally finished (it starts after 01:00).
ALERT_AFTER = time(6, 0)


@dataclass(frozen=True)
class NightAlert:
    """Tonight's nightly run needs a person: it failed, or had not finished by 06:00."""

    run_on: date
    state: str  # "failed", "unfinished" (queued or running), "missing" (never started)
    error: str | None = None


def _reason(error: str | None) -> str | None:
    """A failure's reason in one line: the last line of what was recorded (a traceback ends
    with the exception), at most 200 characters."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return lines[-1][:200] if lines else None


def night_alert(session: Session, store_id: int, now: datetime, timezone: str) -> NightAlert | None:
    """The alert the manager's and customer service's start pages show, or None: the store's
    run for today (store-local) failed (at once), or has not succeeded by ``ALERT_AFTER``. One
    statement."""
    moment = now.astimezone(ZoneInfo(timezone))
    today = moment.date()
    runs = session.execute(
        select(JobRun.status, JobRun.error)
        .where(
            JobRun.store_id == store_id,
            JobRun.kind == JobKind.NIGHTLY.value,
            JobRun.run_on == today,
        )
        .order_by(JobRun.created_at.desc(), JobRun.id.desc())
    ).all()
    if any(status == JobStatus.SUCCEEDED.value for status, _ in runs):
        return None
    live = [r for r in runs if r.status != JobStatus.SKIPPED.value]
    if live and live[0].status == JobStatus.FAILED.value:
        return NightAlert(today, "failed", _reason(live[0].error))
    if moment.time() < ALERT_AFTER:
        return None
    return NightAlert(today, "unfinished" if live else "missing")
