"""Job runs: what background work ran, when, with what counts or error."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, JSONType, UTCDateTime, fk, one_of, utcnow
from core.enums import (
    JobKind,
    JobStatus,
)


class JobRun(Base):
    """One run of a background job for a store and a store-local date."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = fk("stores.id")
    kind: Mapped[str] = mapped_column(String(16))
    run_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default=JobStatus.QUEUED.value)
    requested_by: Mapped[int | None] = fk("users.id")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    # the outbox (jobs/outbox.py): when the run was last handed to the queue, how many times,
    # and the queue's id of the delivery that holds it (the one handed, then the one running)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    queue_job: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        one_of("kind", JobKind),
        one_of("status", JobStatus),
        Index("ix_job_runs_store_created", "store_id", "created_at"),
        Index("ix_job_runs_status", "status"),
    )
