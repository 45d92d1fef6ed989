"""Customer service's worklist: today's callbacks by kind, overdue first, and one task as
the agent sees it before and during the call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from core.callbacks.claims import claim_is_live
from core.callbacks.models import CallbackTask
from core.checkin.models import Visit
from core.enums import (
    CALLBACK_KIND_PRIORITY,
    CallbackKind,
    CallbackStatus,
)
from core.errors import NotFound
from core.opportunities.models import Customer, FollowUp, Opportunity
from core.phone import mask_mobile
from core.rules.rulesets import current_rules
from core.stores.models import User

PER_PAGE = 25


RECENT = 3  # follow-ups, visits and earlier calls shown on the task


@dataclass(frozen=True)
class WorklistRow:
    task_id: int
    customer_id: int
    surname: str
    title: str | None
    masked_mobile: str
    kind: str
    due_on: date
    days_late: int  # 0: due today
    stall_rule: str | None
    stall_overdue_days: int | None
    attempt: int
    consultant_name: str | None
    grade: str | None
    opportunity_status: str | None
    mine: bool  # claimed by the agent looking: "continue"
    busy_with: str | None  # another agent holds a live claim: "being called by X"

    @property
    def overdue(self) -> bool:
        return self.days_late > 0


@dataclass(frozen=True)
class Worklist:
    rows: list[WorklistRow]
    counts: dict[str, int]  # every kind, today's open tasks
    overdue: int
    total: int  # all kinds
    filtered: int  # the kind shown
    kind: str | None
    page: int
    pages: int


def worklist(
    session: Session,
    store_id: int,
    today: date,
    agent_id: int,
    now: datetime,
    *,
    kind: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Worklist:
    """Today's open tasks (due today or overdue) of the store: the agent's own claim first, then
    overdue, then by kind priority and age. Counts per kind and one page of rows: two
    statements, whatever the number of tasks."""
    if kind not in {k.value for k in CallbackKind}:
        kind = None
    today_open = (
        CallbackTask.store_id == store_id,
        CallbackTask.status == CallbackStatus.OPEN.value,
        CallbackTask.due_on <= today,
    )
    late = CallbackTask.due_on < today
    counts: dict[str, int] = {k.value: 0 for k in CallbackKind}
    overdue = 0
    for task_kind, n, n_late in session.execute(
        select(CallbackTask.kind, func.count(), func.sum(case((late, 1), else_=0)))
        .where(*today_open)
        .group_by(CallbackTask.kind)
    ):
        counts[task_kind] = int(n)
        overdue += int(n_late or 0)
    total = sum(counts.values())
    filtered = counts[kind] if kind else total
    pages = max(1, -(-filtered // per_page))
    page = min(max(1, page), pages)

    consultant, claimer = aliased(User), aliased(User)
    mine = CallbackTask.claimed_by == agent_id
    priority = case(
        *[(CallbackTask.kind == k.value, p) for k, p in CALLBACK_KIND_PRIORITY.items()],
        else_=99,
    )
    query = (
        select(
            CallbackTask,
            Customer.surname,
            Customer.title,
            Customer.mobile,
            consultant.display_name,
            claimer.display_name,
            Opportunity.grade,
            Opportunity.status,
        )
        .join(Customer, Customer.id == CallbackTask.customer_id)
        .outerjoin(consultant, consultant.id == CallbackTask.consultant_id)
        .outerjoin(claimer, claimer.id == CallbackTask.claimed_by)
        .outerjoin(Opportunity, Opportunity.id == CallbackTask.opportunity_id)
        .where(*today_open)
        .order_by(
            case((mine, 0), else_=1),
            case((late, 0), else_=1),
            priority,
            CallbackTask.due_on,
            CallbackTask.created_at,
            CallbackTask.id,
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    if kind:
        query = query.where(CallbackTask.kind == kind)
    rows = [
        WorklistRow(
            task_id=task.id,
            customer_id=task.customer_id,
            surname=surname,
            title=title,
            masked_mobile=mask_mobile(mobile),
            kind=task.kind,
            due_on=task.due_on,
            days_late=(today - task.due_on).days,
            stall_rule=task.stall_rule,
            stall_overdue_days=task.overdue_days,
            attempt=task.attempt,
            consultant_name=consultant_name,
            grade=grade,
            opportunity_status=opp_status,
            mine=task.claimed_by == agent_id,
            busy_with=(
                claimer_name
                if task.claimed_by not in (None, agent_id) and claim_is_live(task.claimed_at, now)
                else None
            ),
        )
        for task, surname, title, mobile, consultant_name, claimer_name, grade, opp_status in (
            session.execute(query)
        )
    ]
    return Worklist(rows, counts, overdue, total, filtered, kind, page, pages)


@dataclass(frozen=True)
class TaskDetail:
    task_id: int
    status: str
    kind: str
    due_on: date
    stall_rule: str | None
    stall_overdue_days: int | None
    attempt: int
    retry_limit: int
    customer_id: int
    surname: str
    title: str | None
    masked_mobile: str
    do_not_contact: bool
    consultant_id: int | None
    consultant_name: str | None
    claimed_by_me: bool
    busy_with: str | None
    call_result: str | None
    outcome: str | None
    opportunity_id: int | None
    grade: str | None
    opportunity_status: str | None
    owner_name: str | None
    in_pool: bool
    last_follow_up_at: datetime | None
    last_visit_at: datetime | None
    next_follow_up_due: date | None
    defeat_reason: str | None
    competitor_brand: str | None
    close_note: str | None
    follow_ups: list[dict[str, Any]] = field(default_factory=list)
    visits: list[dict[str, Any]] = field(default_factory=list)
    earlier_calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status == CallbackStatus.OPEN.value

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.retry_limit


def task_detail(
    session: Session, store_id: int, task_id: int, agent_id: int, now: datetime
) -> TaskDetail:
    """The task with the customer, the consultant concerned, the opportunity and a summary of
    the latest follow-ups, visits and calls: five statements."""
    consultant, claimer, owner = aliased(User), aliased(User), aliased(User)
    row = session.execute(
        select(
            CallbackTask,
            Customer,
            consultant.display_name,
            claimer.display_name,
            Opportunity,
            owner.display_name,
        )
        .join(Customer, Customer.id == CallbackTask.customer_id)
        .outerjoin(consultant, consultant.id == CallbackTask.consultant_id)
        .outerjoin(claimer, claimer.id == CallbackTask.claimed_by)
        .outerjoin(Opportunity, Opportunity.id == CallbackTask.opportunity_id)
        .outerjoin(owner, owner.id == Opportunity.owner_id)
        .where(CallbackTask.id == task_id, CallbackTask.store_id == store_id)
    ).first()
    if row is None:
        raise NotFound("callback_task")
    task, customer, consultant_name, claimer_name, opp, owner_name = row
    retry_limit = current_rules(session, store_id).callback_retry_limit
    live = claim_is_live(task.claimed_at, now)
    staff = aliased(User)
    follow_ups = [
        {"at": f.occurred_at, "kind": f.kind, "by": name, "outcome": f.outcome}
        for f, name in session.execute(
            select(FollowUp, staff.display_name)
            .join(staff, staff.id == FollowUp.consultant_id)
            .join(Opportunity, Opportunity.id == FollowUp.opportunity_id)
            .where(Opportunity.customer_id == customer.id)
            .order_by(FollowUp.occurred_at.desc())
            .limit(RECENT)
        )
    ]
    visits = [
        {"at": v.checked_in_at, "purpose": v.purpose, "status": v.status, "consultant": name}
        for v, name in session.execute(
            select(Visit, staff.display_name)
            .outerjoin(staff, staff.id == Visit.consultant_id)
            .where(Visit.customer_id == customer.id)
            .order_by(Visit.checked_in_at.desc())
            .limit(RECENT)
        )
    ]
    earlier = [
        {
            "at": t.completed_at,
            "kind": t.kind,
            "call_result": t.call_result,
            "outcome": t.outcome,
            "by": name,
            "note": t.note,
        }
        for t, name in session.execute(
            select(CallbackTask, staff.display_name)
            .outerjoin(staff, staff.id == CallbackTask.completed_by)
            .where(
                CallbackTask.customer_id == customer.id,
                CallbackTask.id != task.id,
                CallbackTask.status == CallbackStatus.DONE.value,
            )
            .order_by(CallbackTask.completed_at.desc())
            .limit(RECENT)
        )
    ]
    return TaskDetail(
        task_id=task.id,
        status=task.status,
        kind=task.kind,
        due_on=task.due_on,
        stall_rule=task.stall_rule,
        stall_overdue_days=task.overdue_days,
        attempt=task.attempt,
        retry_limit=retry_limit,
        customer_id=customer.id,
        surname=customer.surname,
        title=customer.title,
        masked_mobile=mask_mobile(customer.mobile),
        do_not_contact=customer.do_not_contact,
        consultant_id=task.consultant_id,
        consultant_name=consultant_name,
        claimed_by_me=task.claimed_by == agent_id,
        busy_with=claimer_name if task.claimed_by not in (None, agent_id) and live else None,
        call_result=task.call_result,
        outcome=task.outcome,
        opportunity_id=opp.id if opp else None,
        grade=opp.grade if opp else None,
        opportunity_status=opp.status if opp else None,
        owner_name=owner_name,
        in_pool=bool(opp and opp.pool_since is not None),
        last_follow_up_at=opp.last_follow_up_at if opp else None,
        last_visit_at=opp.last_visit_at if opp else None,
        next_follow_up_due=opp.next_follow_up_due if opp else None,
        defeat_reason=opp.defeat_reason if opp else None,
        competitor_brand=opp.competitor_brand if opp else None,
        close_note=opp.close_note if opp else None,
        follow_ups=follow_ups,
        visits=visits,
        earlier_calls=earlier,
    )
