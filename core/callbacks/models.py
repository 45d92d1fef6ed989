"""Callback tasks of customer service and the answers of a call's questionnaire."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, fk, one_of, utcnow
from core.enums import (
    CallbackKind,
    CallbackOutcome,
    CallbackStatus,
    CallResult,
    StallRule,
)
from core.opportunities.models import (
    Customer,
)


class CallbackTask(Base):
    """One phone call customer service owes a customer on a store-local date."""

    __tablename__ = "callback_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = fk("stores.id")
    customer_id: Mapped[int] = fk("customers.id", index=True)
    opportunity_id: Mapped[int | None] = fk("opportunities.id", index=True)
    kind: Mapped[str] = mapped_column(String(12))
    due_on: Mapped[date] = mapped_column(Date)  # store-local
    # For stalled tasks: which rule ran out and by how many days.
    stall_rule: Mapped[str | None] = mapped_column(String(12))
    overdue_days: Mapped[int | None] = mapped_column(Integer)
    # The consultant whose judgement the call checks (grader, owner or who recorded the defeat).
    consultant_id: Mapped[int | None] = fk("users.id")
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # 1 = first call, 2.. = retries
    status: Mapped[str] = mapped_column(String(12), default=CallbackStatus.OPEN.value)
    claimed_by: Mapped[int | None] = fk("users.id")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    job_run_id: Mapped[int | None] = fk("job_runs.id")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[int | None] = fk("users.id")
    call_result: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(20))
    next_callback_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship()
    answers: Mapped[CallbackAnswers | None] = relationship(
        back_populates="task", uselist=False, cascade="all, delete-orphan"
    )

    __table_args__ = (
        one_of("kind", CallbackKind),
        one_of("status", CallbackStatus),
        one_of("stall_rule", StallRule, nullable=True),
        one_of("call_result", CallResult, nullable=True),
        one_of("outcome", CallbackOutcome, nullable=True),
        CheckConstraint("attempt >= 1", name="attempt"),
        CheckConstraint("status <> 'done' OR call_result IS NOT NULL", name="done_has_result"),
        # Never two open tasks for one customer.
        Index(
            "uq_callback_tasks_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # The worklist: a store's open tasks by due date.
        Index("ix_callback_tasks_worklist", "store_id", "status", "due_on", "kind"),
        Index("ix_callback_tasks_claimed", "claimed_by", "claimed_at"),
        # Analytics: calls completed in a period.
        Index("ix_callback_tasks_store_completed", "store_id", "completed_at"),
    )


class CallbackAnswers(Base):
    """The ten questions of DESIGN.md section 3 step 8; None where a question did not apply."""

    __tablename__ = "callback_answers"

    task_id: Mapped[int] = fk("callback_tasks.id", ondelete="CASCADE", primary_key=True)
    remembers_consultant: Mapped[bool | None] = mapped_column(Boolean)  # 1
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 2: 1..5
    received_follow_up: Mapped[bool | None] = mapped_column(Boolean)  # 3
    has_bought: Mapped[bool | None] = mapped_column(Boolean)  # 4
    bought_reason: Mapped[str | None] = mapped_column(Text)  # 5
    bought_brand: Mapped[str | None] = mapped_column(String(40))  # 6
    would_revisit: Mapped[bool | None] = mapped_column(Boolean)  # 7
    same_consultant_ok: Mapped[bool | None] = mapped_column(Boolean)  # 8
    concerns: Mapped[str | None] = mapped_column(Text)  # 9
    other_brands: Mapped[str | None] = mapped_column(String(200))  # 10

    task: Mapped[CallbackTask] = relationship(back_populates="answers")

    __table_args__ = (
        CheckConstraint(
            "satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5", name="satisfaction"
        ),
        CheckConstraint(
            "has_bought IS NULL OR has_bought OR (bought_reason IS NULL AND bought_brand IS NULL)",
            name="bought_questions",
        ),
        CheckConstraint(
            "has_bought IS NULL OR NOT has_bought OR "
            "(would_revisit IS NULL AND same_consultant_ok IS NULL)",
            name="not_bought_questions",
        ),
    )
