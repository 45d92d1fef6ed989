"""The figures on each role's start page. Each is one grouped statement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.callbacks.models import CallbackTask
from core.checkin.models import Visit
from core.dispatch.load import NEW, counts_towards_load
from core.dispatch.pool import in_pool
from core.enums import CallbackStatus, InvitationStatus, OpportunityStatus
from core.opportunities.models import Invitation, Opportunity
from core.timeutil import day_bounds_utc


@dataclass
class StoreToday:
    visits_by_status: dict[str, int] = field(default_factory=dict)
    callbacks_by_kind: dict[str, int] = field(default_factory=dict)
    open_by_grade: dict[str, int] = field(default_factory=dict)
    pool: int = 0
    invitations_today: int = 0

    @property
    def visits(self) -> int:
        return sum(self.visits_by_status.values())

    @property
    def callbacks(self) -> int:
        return sum(self.callbacks_by_kind.values())


def store_today(session: Session, store_id: int, today: date, timezone: str) -> StoreToday:
    start, end = day_bounds_utc(today, timezone)
    result = StoreToday()
    result.visits_by_status = dict(
        session.execute(
            select(Visit.status, func.count())
            .where(Visit.store_id == store_id, Visit.checked_in_at >= start)
            .where(Visit.checked_in_at < end)
            .group_by(Visit.status)
        ).all()
    )
    result.callbacks_by_kind = dict(
        session.execute(
            select(CallbackTask.kind, func.count())
            .where(CallbackTask.store_id == store_id)
            .where(CallbackTask.status == CallbackStatus.OPEN.value, CallbackTask.due_on <= today)
            .group_by(CallbackTask.kind)
        ).all()
    )
    grade = func.coalesce(Opportunity.grade, NEW)
    pooled = in_pool()
    open_rows = session.execute(
        select(grade, pooled, func.count())
        .where(Opportunity.store_id == store_id, Opportunity.status == OpportunityStatus.OPEN)
        .group_by(grade, pooled)
    ).all()
    for g, waiting, n in open_rows:
        result.open_by_grade[g] = result.open_by_grade.get(g, 0) + n
        if waiting:
            result.pool += n
    result.invitations_today = (
        session.scalar(
            select(func.count())
            .select_from(Invitation)
            .where(Invitation.store_id == store_id)
            .where(Invitation.status == InvitationStatus.SCHEDULED.value)
            .where(Invitation.scheduled_at >= start, Invitation.scheduled_at < end)
        )
        or 0
    )
    return result


@dataclass
class ConsultantToday:
    load: int = 0
    due_today: int = 0
    overdue: int = 0
    by_grade: dict[str, int] = field(default_factory=dict)


def consultant_today(session: Session, user_id: int, store_id: int, today: date) -> ConsultantToday:
    """One consultant's open book: by grade, load, follow-ups due today and overdue."""
    grade = func.coalesce(Opportunity.grade, "new")
    rows = session.execute(
        select(
            grade,
            func.count(),
            func.count().filter(Opportunity.next_follow_up_due == today),
            func.count().filter(Opportunity.next_follow_up_due < today),
            func.count().filter(counts_towards_load()),
        )
        .where(Opportunity.store_id == store_id, Opportunity.owner_id == user_id)
        .where(Opportunity.status == OpportunityStatus.OPEN.value)
        .group_by(grade)
    ).all()
    result = ConsultantToday()
    for g, n, due, overdue, load in rows:
        result.by_grade[g] = n
        result.due_today += due
        result.overdue += overdue
        result.load += load
    return result
