"""Job runs: what background work ran, when, with what counts or error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
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
) -> int:
    """A queued run; ``now`` (default: the clock) is when it was asked for."""
    run = JobRun(
        kind=kind.value,
        store_id=store_id,
        run_on=run_on,
        requested_by=requested_by,
        status=JobStatus.QUEUED.value,
        created_at=now or utcnow(),
    )
    session.add(run)
    session.flush()
    return run.id


def _get(session: Session, run_id: int) -> JobRun:
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound("job run")
    return run


def start(session: Session, run_id: int, now: datetime | None = None) -> None:
    run = _get(session, run_id)
    run.status = JobStatus.RUNNING.value
    run.started_at = now or utcnow()


def finish(
    session: Session, run_id: int, counts: dict[str, Any], now: datetime | None = None
) -> None:
    run = _get(session, run_id)
    run.status = JobStatus.SUCCEEDED.value
    run.finished_at = now or utcnow()
    run.counts = counts


def skip(session: Session, run_id: int, reason: str) -> None:
    run = _get(session, run_id)
    run.status = JobStatus.SKIPPED.value
    run.finished_at = utcnow()
    run.error = reason


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
            error="interrupted: the worker stopped before the run finished",
        )
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


def exists_for(session: Session, store_id: int, kind: JobKind, run_on: date) -> bool:
    """A run for this store and date is queued, running or done."""
    return (
        session.scalar(
            select(JobRun.id)
            .where(JobRun.store_id == store_id, JobRun.kind == kind.value)
            .where(JobRun.run_on == run_on)
            .where(
                JobRun.status.in_(
                    [JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.SUCCEEDED.value]
                )
            )
            .limit(1)
        )
        is not None
    )


def in_hand_for(
    session: Session, store_id: int, kind: JobKind, run_on: date, since: datetime
) -> bool:
    """A run for this store and date succeeded, or one was queued or started since ``since``.

    A run still queued or running from before then is taken as lost (its job dropped, its
    worker killed), as is a failed, interrupted or skipped one: the date is to be run again.
    """
    return (
        session.scalar(
            select(JobRun.id)
            .where(JobRun.store_id == store_id, JobRun.kind == kind.value)
            .where(JobRun.run_on == run_on)
            .where(
                or_(
                    JobRun.status == JobStatus.SUCCEEDED.value,
                    and_(JobRun.status == JobStatus.QUEUED.value, JobRun.created_at >= since),
                    and_(
                        JobRun.status == JobStatus.RUNNING.value,
                        func.coalesce(JobRun.started_at, JobRun.created_at) >= since,
                    ),
                )
            )
            .limit(1)
        )
        is not None
    )


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
    run = _get(session, run_id)
    run.status = JobStatus.FAILED.value
    run.finished_at = now or utcnow()
    run.error = error[:4000]


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
