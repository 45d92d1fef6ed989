"""A consultant's day: follow-ups due and overdue, invitations for today, load against cap.

A fixed number of statements whatever the size of the consultant's book; the lists are capped
(the oldest overdue first), with the full counts alongside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.analytics.dashboard import consultant_today
from core.dispatch.authority import candidates
from core.enums import InvitationStatus, OpportunityStatus
from core.opportunities.models import Customer, Invitation, Opportunity
from core.phone import mask_mobile
from core.rules.rulesets import current_rules
from core.stores.models import CarModel
from core.timeutil import day_bounds_utc

LIST_LIMIT = 50


@dataclass(frozen=True)
class DueRow:
    opportunity_id: int
    customer_id: int
    surname: str
    title: str | None
    masked_mobile: str
    grade: str | None
    car_model: str | None
    due: date
    overdue_days: int
    last_follow_up_at: datetime | None


@dataclass(frozen=True)
class InvitationRow:
    invitation_id: int
    customer_id: int
    surname: str
    title: str | None
    masked_mobile: str
    scheduled_at: datetime
    status: str


@dataclass
class MyDay:
    due_today: list[DueRow] = field(default_factory=list)
    overdue: list[DueRow] = field(default_factory=list)
    invitations: list[InvitationRow] = field(default_factory=list)
    due_today_count: int = 0
    overdue_count: int = 0
    load: int = 0
    cap: int = 0
    by_grade: dict[str, int] = field(default_factory=dict)


def my_day(
    session: Session, store_id: int, consultant_id: int, today: date, timezone: str
) -> MyDay:
    day = MyDay()
    counts = consultant_today(session, consultant_id, store_id, today)
    day.due_today_count, day.overdue_count = counts.due_today, counts.overdue
    day.load, day.by_grade = counts.load, counts.by_grade
    mine = [
        s
        for s in candidates(session, store_id, current_rules(session, store_id).default_load_cap)
        if s.user_id == consultant_id
    ]
    day.cap = mine[0].cap if mine else 0
    day.overdue = _due(
        session, store_id, consultant_id, today, Opportunity.next_follow_up_due < today
    )
    day.due_today = _due(
        session, store_id, consultant_id, today, Opportunity.next_follow_up_due == today
    )
    start, end = day_bounds_utc(today, timezone)
    for invitation, customer in session.execute(
        select(Invitation, Customer)
        .join(Customer, Customer.id == Invitation.customer_id)
        .where(
            Invitation.store_id == store_id,
            Invitation.consultant_id == consultant_id,
            Invitation.scheduled_at >= start,
            Invitation.scheduled_at < end,
            Invitation.status.in_(
                [InvitationStatus.SCHEDULED.value, InvitationStatus.HONOURED.value]
            ),
        )
        .order_by(Invitation.scheduled_at)
        .limit(LIST_LIMIT)
    ).all():
        day.invitations.append(
            InvitationRow(
                invitation.id,
                customer.id,
                customer.surname,
                customer.title,
                mask_mobile(customer.mobile),
                invitation.scheduled_at,
                invitation.status,
            )
        )
    return day


def _due(
    session: Session, store_id: int, consultant_id: int, today: date, condition: Any
) -> list[DueRow]:
    """Open opportunities of the consultant whose follow-up date meets the condition, the
    oldest first (at most LIST_LIMIT)."""
    rows = session.execute(
        select(Opportunity, Customer, CarModel.name)
        .join(Customer, Customer.id == Opportunity.customer_id)
        .outerjoin(CarModel, CarModel.id == Opportunity.car_model_id)
        .where(
            Opportunity.store_id == store_id,
            Opportunity.owner_id == consultant_id,
            Opportunity.status == OpportunityStatus.OPEN.value,
            condition,
        )
        .order_by(Opportunity.next_follow_up_due, Opportunity.id)
        .limit(LIST_LIMIT)
    ).all()
    return [
        DueRow(
            opportunity_id=opp.id,
            customer_id=customer.id,
            surname=customer.surname,
            title=customer.title,
            masked_mobile=mask_mobile(customer.mobile),
            grade=opp.grade,
            car_model=model,
            due=due,
            overdue_days=(today - due).days,
            last_follow_up_at=opp.last_follow_up_at,
        )
        for opp, customer, model in rows
        # the condition is on the follow-up date, so every row has one
        if (due := opp.next_follow_up_due) is not None
    ]
