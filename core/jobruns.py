"""Job runs: what background work ran, when, with what counts or error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.enums import JobKind, JobStatus
from core.errors import NotFound
from core.models import JobRun


def create(
    session: Session,
    kind: JobKind,
    *,
    store_id: int | None,
    run_on: date | None = None,
    requested_by: int | None = None,
) -> int:
    run = JobRun(
        kind=kind.value,
        store_id=store_id,
        run_on=run_on,
        requested_by=requested_by,
        status=JobStatus.QUEUED.value,
    )
    session.add(run)
    session.flush()
    return run.id


def _get(session: Session, run_id: int) -> JobRun:
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound("job run")
    return run


def start(session: Session, run_id: int) -> None:
    run = _get(session, run_id)
    run.status = JobStatus.RUNNING.value
    run.started_at = utcnow()


def finish(session: Session, run_id: int, counts: dict[str, Any]) -> None:
    run = _get(session, run_id)
    run.status = JobStatus.SUCCEEDED.value
    run.finished_at = utcnow()
    run.counts = counts


def fail(session: Session, run_id: int, error: str) -> None:
    run = _get(session, run_id)
    run.status = JobStatus.FAILED.value
    run.finished_at = utcnow()
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


def recent(session: Session, store_id: int, limit: int = 30) -> list[JobRunRow]:
    runs = session.scalars(
        select(JobRun)
        .where(JobRun.store_id == store_id)
        .order_by(JobRun.created_at.desc(), JobRun.id.desc())
        .limit(limit)
    )
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
