"""Assignments: every change of owner, with who, when, why and each candidate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.checkin.models import Visit
from core.db import Base, JSONType, UTCDateTime, fk, one_of, utcnow
from core.enums import (
    AssignmentReason,
)
from core.opportunities.models import (
    Opportunity,
)


class Assignment(Base):
    """A change of owner: who, when, why, and the loads dispatch saw at that moment."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    opportunity_id: Mapped[int] = fk("opportunities.id")
    visit_id: Mapped[int | None] = fk("visits.id", index=True)
    from_owner_id: Mapped[int | None] = fk("users.id")
    to_owner_id: Mapped[int | None] = fk("users.id")  # None: to customer service / the pool
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_by: Mapped[int | None] = fk("users.id")  # None: the system
    job_run_id: Mapped[int | None] = fk("job_runs.id")
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    to_load: Mapped[int | None] = mapped_column(Integer)  # the new owner's load before
    to_cap: Mapped[int | None] = mapped_column(Integer)
    # [{"user_id", "name", "load", "cap", "skipped": reason or None}, ...]
    candidates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)

    opportunity: Mapped[Opportunity] = relationship(foreign_keys=[opportunity_id])
    visit: Mapped[Visit | None] = relationship(foreign_keys=[visit_id])

    __table_args__ = (
        one_of("reason", AssignmentReason),
        Index("ix_assignments_opportunity_time", "opportunity_id", "assigned_at"),
        Index("ix_assignments_store_time", "store_id", "assigned_at"),
        Index("ix_assignments_to_owner_time", "to_owner_id", "assigned_at"),
    )


class Decline(Base):
    """A customer's "not this consultant": kept, all of them, until a manager lifts one with a
    written reason. Dispatch never gives the customer to a consultant they declined."""

    __tablename__ = "declines"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    customer_id: Mapped[int] = fk("customers.id")
    consultant_id: Mapped[int] = fk("users.id")
    declined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[int | None] = fk("users.id")  # the agent who heard it
    callback_task_id: Mapped[int | None] = fk("callback_tasks.id", index=True)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[int | None] = fk("users.id")
    lift_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_declines_customer", "customer_id", "consultant_id"),)
