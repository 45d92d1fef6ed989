"""Customer service's callbacks (DESIGN.md section 3 steps 5-8): the worklist, claiming a task,
and recording the call with its questionnaire and outcome.

The nightly run (core/nightly.py) fills the worklist; tasks created by hand work the same way.

**Claims.** An agent claims a task before calling, with one conditional UPDATE: it succeeds when
the task is open and nobody else holds a *live* claim (younger than ``CLAIM_TTL``). A claim left
idle longer is released without a background job: the worklist and the next claim simply treat
it as free. Every save by the claimer refreshes the claim.

**Call results that were not a conversation.** *No answer* and *busy* are retried the next day
(outcome UNREACHABLE, picked up by the nightly run) until the store's retry limit is used up
(GAVE_UP, closed as unreachable). *Refused* means the customer hung up or would not talk on this
call: it is retried like no answer, because withdrawing consent is the customer's explicit
"do not contact" and is recorded only as such. *Wrong number* closes at once (GAVE_UP): calling
the same wrong number again reaches nobody.

**Outcomes of a conversation.**

- *bought elsewhere*: the open opportunity closes as lost (other brand, with the brand and the
  reason); a lost one gets the brand. When the customer had been graded dormant (C), the call
  proves the grading wrong: an audit event ``callback.misjudgement`` names the consultant who
  graded them (also derivable: task kind dormant, answers.has_bought, task.consultant_id).
- *invite back*: an appointment. With the same consultant when the customer agrees to keep them
  (and that consultant is active and has room, or already owns the customer): an assignment
  ``reinvite`` records their load and cap. Otherwise the customer goes to the refill pool
  (reason "reinvited"), marked "not consultant X" when the customer asked for someone else.
- *call again on D*: CS owns the customer's next callback: the nightly run makes a task on D.
- *do not contact*: consent withdrawn (a consent record, channel callback); every other open
  task of the customer is cancelled, an open opportunity is closed as lost so that nobody
  follows it up, and the nightly run never lists the customer again.
- *no change*: the answers are recorded for the consultant and the manager; nothing else moves.

**Defeat audit.** On a lost opportunity, a customer who has not bought and would come back
overturns the defeat: the opportunity is open again (``defeat_overturned_at``; an audit event
``callback.defeat_overturned`` keeps the old reason), ungraded for an invitation (the consultant
re-assesses at the visit), or dormant with CS when the customer is to be called again later.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from core import audit
from core.callbacks.models import CallbackAnswers, CallbackTask
from core.checkin.models import Visit
from core.dispatch.models import Assignment
from core.dispatch.team import Seat, seats
from core.enums import (
    CALLBACK_KIND_PRIORITY,
    HIGH_INTENT,
    AssignmentReason,
    CallbackKind,
    CallbackOutcome,
    CallbackStatus,
    CallResult,
    ConsentChannel,
    DefeatReason,
    Grade,
    InvitationSource,
    InvitationStatus,
    OpportunityStatus,
    PoolReason,
)
from core.errors import DomainError, NotFound, ValidationError
from core.i18n import N_
from core.locks import lock_store
from core.nightly.run import refill, store_context
from core.opportunities.customers import reveal_mobile
from core.opportunities.models import ConsentRecord, Customer, FollowUp, Invitation, Opportunity
from core.phone import mask_mobile
from core.rules.rulesets import current_rules
from core.stores.models import User
from core.stores.service import store_timezone
from core.timeutil import local_date, local_moment

CLAIM_TTL = timedelta(minutes=30)
PER_PAGE = 25
TEXT_MAX = 500
BRAND_MAX = 40
OTHER_BRANDS_MAX = 200
RECENT = 3  # follow-ups, visits and earlier calls shown on the task

# The brands customers buy instead, as stored (the store's language) and as an English msgid.
BRANDS: tuple[tuple[str, str], ...] = (
    ("比亚迪", N_("BYD")),
    ("大众", N_("Volkswagen")),
    ("丰田", N_("Toyota")),
    ("本田", N_("Honda")),
    ("日产", N_("Nissan")),
    ("吉利", N_("Geely")),
    ("长安", N_("Changan")),
    ("特斯拉", N_("Tesla")),
    ("理想", N_("Li Auto")),
    ("小鹏", N_("XPeng")),
    ("蔚来", N_("NIO")),
    ("别克", N_("Buick")),
    ("奔驰", N_("Mercedes-Benz")),
    ("宝马", N_("BMW")),
    ("奥迪", N_("Audi")),
)
OTHER_BRAND = "other"
NO_CHANGE = "no_change"  # a reached call that changes nothing: stored as outcome NULL
# What the agent may choose after a conversation, in the order the form shows them.
REACHED_OUTCOMES = (
    CallbackOutcome.INVITE_BACK.value,
    CallbackOutcome.CALL_AGAIN.value,
    CallbackOutcome.BOUGHT_ELSEWHERE.value,
    NO_CHANGE,
    CallbackOutcome.DO_NOT_CONTACT.value,
)
RETRIED = (CallResult.NO_ANSWER.value, CallResult.BUSY.value, CallResult.REFUSED.value)
YES, NO = "yes", "no"


def _claim_is_live(now: datetime) -> Any:
    return CallbackTask.claimed_at >= now - CLAIM_TTL


# --- the worklist ------------------------------------------------------------------------------


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
    cutoff = now - CLAIM_TTL
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
                if task.claimed_by not in (None, agent_id)
                and task.claimed_at is not None
                and task.claimed_at >= cutoff
                else None
            ),
        )
        for task, surname, title, mobile, consultant_name, claimer_name, grade, opp_status in (
            session.execute(query)
        )
    ]
    return Worklist(rows, counts, overdue, total, filtered, kind, page, pages)


# --- claiming ----------------------------------------------------------------------------------


def _refusal(
    session: Session,
    store_id: int,
    task_id: int,
    otherwise: str = N_("Another agent is calling this customer."),
) -> DomainError:
    """Why a conditional update on a task touched no row (only asked after a refusal)."""
    row = session.execute(
        select(CallbackTask.store_id, CallbackTask.status).where(CallbackTask.id == task_id)
    ).first()
    if row is None or row.store_id != store_id:
        return NotFound("callback_task")
    if row.status != CallbackStatus.OPEN.value:
        return DomainError(N_("This callback is already closed."))
    return DomainError(otherwise)


def claim(session: Session, store_id: int, task_id: int, agent_id: int, now: datetime) -> None:
    """Take the task for a call: one conditional UPDATE, so two agents never both get it. A
    claim idle for longer than CLAIM_TTL may be taken over. Claiming gives back any other task
    the agent held (one call at a time)."""
    taken = session.execute(
        update(CallbackTask)
        .where(
            CallbackTask.id == task_id,
            CallbackTask.store_id == store_id,
            CallbackTask.status == CallbackStatus.OPEN.value,
            or_(
                CallbackTask.claimed_by.is_(None),
                CallbackTask.claimed_by == agent_id,
                CallbackTask.claimed_at < now - CLAIM_TTL,
            ),
        )
        .values(claimed_by=agent_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise _refusal(session, store_id, task_id)
    session.execute(
        update(CallbackTask)
        .where(
            CallbackTask.store_id == store_id,
            CallbackTask.claimed_by == agent_id,
            CallbackTask.status == CallbackStatus.OPEN.value,
            CallbackTask.id != task_id,
        )
        .values(claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def release(session: Session, store_id: int, task_id: int, agent_id: int) -> None:
    """Give the task back to the worklist. Only the agent holding it may."""
    done = session.execute(
        update(CallbackTask)
        .where(
            CallbackTask.id == task_id,
            CallbackTask.store_id == store_id,
            CallbackTask.status == CallbackStatus.OPEN.value,
            CallbackTask.claimed_by == agent_id,
        )
        .values(claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise _refusal(session, store_id, task_id, N_("You are not calling this customer."))
    session.expire_all()


def _keep_claim(
    session: Session, store_id: int, task_id: int, agent_id: int, now: datetime
) -> None:
    """The claimer is still at work: refresh the claim, or refuse when it is not theirs. A claim
    the agent let go idle is still theirs as long as nobody else took the task over."""
    kept = session.execute(
        update(CallbackTask)
        .where(
            CallbackTask.id == task_id,
            CallbackTask.store_id == store_id,
            CallbackTask.status == CallbackStatus.OPEN.value,
            CallbackTask.claimed_by == agent_id,
        )
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if kept.rowcount != 1:
        raise _refusal(
            session, store_id, task_id, N_("Claim this callback before you call the customer.")
        )


def reveal_task_mobile(
    session: Session, store_id: int, task_id: int, agent_id: int, now: datetime
) -> str:
    """The customer's full number, only for the task the agent is working; audit-logged."""
    _keep_claim(session, store_id, task_id, agent_id, now)
    customer_id = session.scalar(select(CallbackTask.customer_id).where(CallbackTask.id == task_id))
    assert customer_id is not None
    return reveal_mobile(session, store_id, customer_id, agent_id)


# --- one task, as the agent sees it ------------------------------------------------------------


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
    live = task.claimed_at is not None and task.claimed_at >= now - CLAIM_TTL
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


# --- recording the call ------------------------------------------------------------------------


@dataclass
class CallbackForm:
    """What the agent chose and typed, read into values (text stripped; "" or None = not
    answered). Which answers the call needs, and what they must agree with, is checked here."""

    call_result: str = ""
    remembers_consultant: bool | None = None  # 1
    satisfaction: int | None = None  # 2: 1..5
    received_follow_up: bool | None = None  # 3
    has_bought: bool | None = None  # 4
    bought_reason: str = ""  # 5
    bought_brand: str = ""  # 6: a stored brand or "other"
    bought_brand_other: str = ""
    would_revisit: bool | None = None  # 7
    same_consultant_ok: bool | None = None  # 8
    concerns: str = ""  # 9
    other_brands: str = ""  # 10
    outcome: str = ""
    invite_date: date | None = None
    invite_time: time | None = None
    call_again_on: date | None = None
    note: str = ""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Each field's value when nothing was answered."""
        return {f.name: f.default for f in fields(cls)}


@dataclass(frozen=True)
class RecordResult:
    task_id: int
    customer_id: int
    call_result: str
    outcome: str | None
    retry_tomorrow: bool = False
    invitation_id: int | None = None
    invitation_at: datetime | None = None
    consultant_name: str | None = None  # who receives an invited customer
    to_pool: bool = False
    call_again_on: date | None = None
    misjudged_consultant_id: int | None = None
    defeat_overturned: bool = False


@dataclass
class _Parsed:
    call_result: str
    outcome: str | None
    answers: dict[str, Any] | None
    invitation_at: datetime | None
    call_again_on: date | None
    note: str | None


def _yes_no(
    answer: bool | None, name: str, errors: dict[str, str], *, required: bool
) -> bool | None:
    if answer is None and required:
        errors[name] = N_("Choose yes or no.")
    return answer


def _bounded(raw: str, name: str, limit: int, errors: dict[str, str]) -> str | None:
    value = raw.strip()
    if len(value) > limit:
        errors[name] = N_("This text is too long.")
    return value or None


def _validate(
    form: CallbackForm,
    opp: Opportunity | None,
    now: datetime,
    today: date,
    timezone: str,
) -> _Parsed:
    """Every rule of the form, every message at once; nothing is written."""
    errors: dict[str, str] = {}
    note = _bounded(form.note, "note", TEXT_MAX, errors)
    if form.call_result not in {r.value for r in CallResult}:
        errors["call_result"] = N_("Choose the result of the call.")
        raise ValidationError(errors)
    if form.call_result != CallResult.REACHED.value:
        if errors:
            raise ValidationError(errors)
        return _Parsed(form.call_result, None, None, None, None, note)

    outcome = form.outcome
    if outcome not in REACHED_OUTCOMES:
        errors["outcome"] = N_("Choose what happens next.")
        outcome = ""
    # A customer who asks not to be called may hang up before the questions: none is required.
    strict = outcome != CallbackOutcome.DO_NOT_CONTACT.value
    answers: dict[str, Any] = {
        "remembers_consultant": _yes_no(
            form.remembers_consultant, "remembers_consultant", errors, required=strict
        ),
        "received_follow_up": _yes_no(
            form.received_follow_up, "received_follow_up", errors, required=strict
        ),
        "satisfaction": None,
    }
    if form.satisfaction is not None:
        if 1 <= form.satisfaction <= 5:
            answers["satisfaction"] = form.satisfaction
        else:
            errors["satisfaction"] = N_("Choose 1 to 5, or leave it if the customer did not say.")
    bought = _yes_no(form.has_bought, "has_bought", errors, required=strict)
    answers["has_bought"] = bought
    # Questions 5-6 apply only when bought, 7-10 only when not: the others stay NULL.
    for name in ("bought_reason", "bought_brand", "would_revisit", "same_consultant_ok"):
        answers[name] = None
    answers["concerns"] = answers["other_brands"] = None
    if bought is True:
        answers["bought_reason"] = _bounded(form.bought_reason, "bought_reason", TEXT_MAX, errors)
        if answers["bought_reason"] is None and strict and "bought_reason" not in errors:
            errors["bought_reason"] = N_("Why did the customer not buy from us?")
        brand: str | None = None
        if form.bought_brand == OTHER_BRAND:
            brand = _bounded(form.bought_brand_other, "bought_brand", BRAND_MAX, errors)
            if brand is None and "bought_brand" not in errors:
                errors["bought_brand"] = N_("Type the brand the customer bought.")
        elif form.bought_brand in {b for b, _ in BRANDS}:
            brand = form.bought_brand
        elif form.bought_brand or strict:
            errors["bought_brand"] = N_("Choose the brand the customer bought.")
        answers["bought_brand"] = brand
    elif bought is False:
        answers["would_revisit"] = _yes_no(
            form.would_revisit, "would_revisit", errors, required=strict
        )
        answers["same_consultant_ok"] = _yes_no(
            form.same_consultant_ok, "same_consultant_ok", errors, required=strict
        )
        answers["concerns"] = _bounded(form.concerns, "concerns", TEXT_MAX, errors)
        answers["other_brands"] = _bounded(
            form.other_brands, "other_brands", OTHER_BRANDS_MAX, errors
        )

    # The outcome must agree with the answers and the opportunity.
    invitation_at: datetime | None = None
    call_again_on: date | None = None
    won = opp is not None and opp.status == OpportunityStatus.WON.value
    lost = opp is not None and opp.status == OpportunityStatus.LOST.value
    if outcome == CallbackOutcome.BOUGHT_ELSEWHERE.value:
        if bought is not True:
            errors["outcome"] = N_(
                "Bought elsewhere: answer 'Already bought a car' with yes first."
            )
        elif won:
            errors["outcome"] = N_("The customer ordered from us: this cannot be recorded.")
    elif outcome in (CallbackOutcome.INVITE_BACK.value, CallbackOutcome.CALL_AGAIN.value):
        if bought is True:
            errors["outcome"] = N_("The customer has bought a car: choose 'Bought elsewhere'.")
        elif opp is None or won:
            errors["outcome"] = N_("The customer has no open opportunity to follow up.")
    elif outcome == NO_CHANGE and bought is True:
        errors["outcome"] = N_("The customer has bought a car: choose 'Bought elsewhere'.")

    if outcome == CallbackOutcome.INVITE_BACK.value and "outcome" not in errors:
        if answers["would_revisit"] is not True:
            errors["would_revisit"] = N_("An invitation needs a customer who would visit again.")
        day, at = form.invite_date, form.invite_time
        if day is not None and at is not None:
            invitation_at = local_moment(day, at, timezone)
        if invitation_at is None or invitation_at <= now:
            errors["invite_at"] = N_("Choose the date and time of the appointment, in the future.")
    if outcome == CallbackOutcome.CALL_AGAIN.value and "outcome" not in errors:
        call_again_on = form.call_again_on
        if call_again_on is None or call_again_on <= today:
            errors["call_again_on"] = N_("Choose a day after today.")
        elif call_again_on > today + timedelta(days=366):
            errors["call_again_on"] = N_("Choose a day within a year.")
        if lost and answers["would_revisit"] is not True:
            errors["outcome"] = N_(
                "The customer was lost and would not come back: choose 'No change'."
            )
    if errors:
        raise ValidationError(errors)
    return _Parsed(
        form.call_result,
        None if outcome == NO_CHANGE else outcome,
        answers,
        invitation_at,
        call_again_on,
        note,
    )


def record_callback(
    session: Session,
    store_id: int,
    task_id: int,
    agent_id: int,
    now: datetime,
    form: CallbackForm,
) -> RecordResult:
    """Validate everything, then record the call, its answers and its outcome in the caller's
    transaction. Only the agent who claimed the task (and still holds it) may."""
    task = session.get(CallbackTask, task_id)
    if task is None or task.store_id != store_id:
        raise NotFound("callback_task")
    if task.status != CallbackStatus.OPEN.value:
        raise DomainError(N_("This callback is already closed."))
    if task.claimed_by != agent_id:
        if task.claimed_by is not None and task.claimed_at and task.claimed_at >= now - CLAIM_TTL:
            raise DomainError(N_("Another agent is calling this customer."))
        raise DomainError(N_("Claim this callback before you call the customer."))
    opp = session.get(Opportunity, task.opportunity_id) if task.opportunity_id else None
    timezone = store_timezone(session, store_id)
    today = local_date(now, timezone)
    parsed = _validate(form, opp, now, today, timezone)
    # Guards against a takeover between reading the task and now (the row is locked from here).
    _keep_claim(session, store_id, task_id, agent_id, now)
    session.refresh(task)

    task.status = CallbackStatus.DONE.value
    task.completed_at = now
    task.completed_by = agent_id
    task.call_result = parsed.call_result
    task.note = parsed.note
    if task.consultant_id is None and opp is not None:
        task.consultant_id = _consultant_concerned(task.kind, opp)
    if parsed.answers is None:  # not reached
        retry_limit = current_rules(session, store_id).callback_retry_limit
        retry = parsed.call_result in RETRIED and task.attempt < retry_limit
        task.outcome = (CallbackOutcome.UNREACHABLE if retry else CallbackOutcome.GAVE_UP).value
        session.flush()
        return RecordResult(task.id, task.customer_id, parsed.call_result, task.outcome, retry)

    task.outcome = parsed.outcome
    task.answers = CallbackAnswers(**parsed.answers)
    result: dict[str, Any] = {}
    bought = parsed.answers["has_bought"] is True
    if bought and opp is not None:
        result["misjudged_consultant_id"] = _misjudgement(session, task, opp, parsed, agent_id)
    outcome = parsed.outcome
    if outcome == CallbackOutcome.BOUGHT_ELSEWHERE.value:
        _bought_elsewhere(session, task, opp, parsed.answers, agent_id, now)
    elif outcome == CallbackOutcome.DO_NOT_CONTACT.value:
        _do_not_contact(session, task, opp, parsed.answers, agent_id, now)
    elif outcome in (CallbackOutcome.INVITE_BACK.value, CallbackOutcome.CALL_AGAIN.value):
        assert opp is not None
        previous = task.consultant_id or opp.owner_id or opp.dormant_by
        # the load before this customer comes back to them
        seat = (
            _seat_of(session, store_id, previous)
            if outcome == CallbackOutcome.INVITE_BACK.value
            else None
        )
        overturned = False
        if opp.status == OpportunityStatus.LOST.value:
            reopened = _overturn(session, task, opp, agent_id, now)
            overturned = reopened is opp
            opp = reopened
            result["defeat_overturned"] = overturned
        if outcome == CallbackOutcome.INVITE_BACK.value:
            result.update(
                _invite_back(
                    session,
                    task,
                    opp,
                    parsed,
                    agent_id,
                    now,
                    previous=previous,
                    seat=seat,
                    overturned=overturned,
                )
            )
        else:
            assert parsed.call_again_on is not None
            if overturned:
                _to_service(session, task, opp, agent_id, now)
            opp.next_callback_on = parsed.call_again_on
            task.next_callback_on = parsed.call_again_on
            result["call_again_on"] = parsed.call_again_on
    session.flush()
    return RecordResult(task.id, task.customer_id, parsed.call_result, task.outcome, **result)


def _consultant_concerned(kind: str, opp: Opportunity) -> int | None:
    """The consultant whose judgement the call checks, for a task made without one."""
    if kind == CallbackKind.DORMANT.value:
        return opp.dormant_by
    if kind == CallbackKind.DEFEAT.value:
        return opp.graded_by
    return opp.owner_id or opp.dormant_by


def _misjudgement(
    session: Session, task: CallbackTask, opp: Opportunity, parsed: _Parsed, agent_id: int
) -> int | None:
    """A customer graded dormant (C) who has bought a car: the grading was wrong."""
    consultant_id = None
    if task.kind == CallbackKind.DORMANT.value:
        consultant_id = task.consultant_id
    elif opp.status == OpportunityStatus.OPEN.value and opp.grade == Grade.C.value:
        consultant_id = opp.dormant_by  # a scheduled or retried call of a dormant customer
    if consultant_id is None:
        return None
    audit.record(
        session,
        "callback.misjudgement",
        store_id=task.store_id,
        actor_id=agent_id,
        entity="callback_task",
        entity_id=task.id,
        data={
            "consultant_id": consultant_id,
            "opportunity_id": opp.id,
            "kind": task.kind,
            "brand": (parsed.answers or {}).get("bought_brand"),
        },
    )
    return consultant_id


def _close_lost(
    session: Session,
    opp: Opportunity,
    agent_id: int,
    now: datetime,
    reason: DefeatReason,
    brand: str | None,
    note: str | None,
) -> None:
    """Customer service closes an open opportunity as lost (never a consultant's defeat: the
    nightly run makes no defeat callback for it)."""
    opp.status = OpportunityStatus.LOST.value
    opp.grade = Grade.F.value
    opp.graded_at = now
    opp.graded_by = agent_id
    opp.closed_at = now
    opp.defeat_reason = reason.value
    opp.competitor_brand = brand
    opp.close_note = note
    opp.next_follow_up_due = None
    opp.cycle_deadline = None
    opp.next_callback_on = None
    opp.pool_since = None
    opp.pool_reason = None
    opp.declined_owner_id = None
    session.execute(
        update(Invitation)
        .where(
            Invitation.opportunity_id == opp.id,
            Invitation.status == InvitationStatus.SCHEDULED.value,
        )
        .values(status=InvitationStatus.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )


def _bought_elsewhere(
    session: Session,
    task: CallbackTask,
    opp: Opportunity | None,
    answers: dict[str, Any],
    agent_id: int,
    now: datetime,
) -> None:
    if opp is None:
        return
    brand = answers["bought_brand"]
    if opp.status == OpportunityStatus.OPEN.value:
        _close_lost(
            session, opp, agent_id, now, DefeatReason.OTHER_BRAND, brand, answers["bought_reason"]
        )
    elif opp.status == OpportunityStatus.LOST.value:
        opp.competitor_brand = brand  # the consultant's reason stands; the brand is now known


def _do_not_contact(
    session: Session,
    task: CallbackTask,
    opp: Opportunity | None,
    answers: dict[str, Any],
    agent_id: int,
    now: datetime,
) -> None:
    customer = session.get(Customer, task.customer_id)
    assert customer is not None
    customer.do_not_contact = True
    customer.do_not_contact_at = now
    session.add(
        ConsentRecord(
            customer_id=customer.id,
            granted=False,
            notice_version=customer.consent_notice_version,
            channel=ConsentChannel.CALLBACK.value,
            recorded_at=now,
            recorded_by=agent_id,
        )
    )
    session.execute(
        update(CallbackTask)
        .where(
            CallbackTask.customer_id == customer.id,
            CallbackTask.status == CallbackStatus.OPEN.value,
            CallbackTask.id != task.id,
        )
        .values(status=CallbackStatus.CANCELLED.value, completed_at=now, completed_by=agent_id)
        .execution_options(synchronize_session=False)
    )
    open_opp = opp if opp is not None and opp.status == OpportunityStatus.OPEN.value else None
    if open_opp is None:
        open_opp = session.scalars(
            select(Opportunity).where(
                Opportunity.customer_id == customer.id,
                Opportunity.status == OpportunityStatus.OPEN.value,
            )
        ).first()
    if open_opp is not None:  # nobody may follow the customer up any more
        bought = answers["has_bought"] is True
        _close_lost(
            session,
            open_opp,
            agent_id,
            now,
            DefeatReason.OTHER_BRAND if bought else DefeatReason.OTHER,
            answers["bought_brand"] if bought else None,
            answers["bought_reason"] if bought else None,
        )
    audit.record(
        session,
        "customer.do_not_contact",
        store_id=task.store_id,
        actor_id=agent_id,
        entity="customer",
        entity_id=customer.id,
        data={"callback_task_id": task.id},
    )


def _overturn(
    session: Session, task: CallbackTask, opp: Opportunity, agent_id: int, now: datetime
) -> Opportunity:
    """The defeat audit: the customer has not bought and would come back. The opportunity is
    open again (or, if the customer has opened another since, that one is worked instead)."""
    other = session.scalars(
        select(Opportunity).where(
            Opportunity.customer_id == opp.customer_id,
            Opportunity.status == OpportunityStatus.OPEN.value,
        )
    ).first()
    if other is not None:
        return other
    audit.record(
        session,
        "callback.defeat_overturned",
        store_id=task.store_id,
        actor_id=agent_id,
        entity="opportunity",
        entity_id=opp.id,
        data={
            "callback_task_id": task.id,
            "consultant_id": task.consultant_id,
            "defeat_reason": opp.defeat_reason,
            "competitor_brand": opp.competitor_brand,
            "close_note": opp.close_note,
            "closed_at": opp.closed_at.isoformat() if opp.closed_at else None,
        },
    )
    opp.status = OpportunityStatus.OPEN.value
    opp.grade = None  # to be re-assessed; counts towards the receiving consultant's load
    opp.closed_at = None
    opp.defeat_reason = None
    opp.competitor_brand = None
    opp.close_note = None
    opp.defeat_overturned_at = now
    session.flush()  # the open opportunity exists before anything refers to it
    return opp


def _record_assignment(
    session: Session,
    task: CallbackTask,
    opp: Opportunity,
    to: Seat | None,
    reason: AssignmentReason,
    agent_id: int,
    now: datetime,
    *,
    note: str | None = None,
) -> None:
    """The change of owner the call makes, from the current owner to ``to`` (None: customer
    service or the pool), with the new owner's load and cap as dispatch saw them."""
    session.add(
        Assignment(
            store_id=task.store_id,
            opportunity_id=opp.id,
            from_owner_id=opp.owner_id,
            to_owner_id=to.user_id if to else None,
            assigned_at=now,
            assigned_by=agent_id,
            reason=reason.value,
            note=note,
            to_load=to.load if to else None,
            to_cap=to.cap if to else None,
        )
    )


def _to_service(
    session: Session, task: CallbackTask, opp: Opportunity, agent_id: int, now: datetime
) -> None:
    """An overturned defeat to be called again later: dormant (C), owned by customer service.
    graded_at stays the defeat's, so the nightly run does not mistake it for a new dormant."""
    if opp.owner_id is not None:
        _record_assignment(session, task, opp, None, AssignmentReason.TO_SERVICE, agent_id, now)
    opp.owner_id = None
    opp.grade = Grade.C.value
    opp.graded_by = agent_id
    opp.next_follow_up_due = None
    opp.cycle_deadline = None


def _seat_of(session: Session, store_id: int, user_id: int | None) -> Seat | None:
    """The consultant's load and cap as dispatch sees them (one statement)."""
    if user_id is None:
        return None
    default_cap = current_rules(session, store_id).default_load_cap
    return next((s for s in seats(session, store_id, default_cap) if s.user_id == user_id), None)


def _invite_back(
    session: Session,
    task: CallbackTask,
    opp: Opportunity,
    parsed: _Parsed,
    agent_id: int,
    now: datetime,
    *,
    previous: int | None,
    seat: Seat | None,
    overturned: bool,
) -> dict[str, Any]:
    """An appointment: with the consultant the customer keeps, or via the refill pool."""
    assert parsed.answers is not None and parsed.invitation_at is not None
    keep = parsed.answers["same_consultant_ok"] is True
    # Already on the consultant's book (and counted in their load): stays, whatever the cap.
    on_book = (
        not overturned
        and opp.owner_id == previous
        and (opp.grade is None or opp.grade in {g.value for g in HIGH_INTENT})
    )
    consultant_id: int | None = None
    consultant_name: str | None = None
    if keep and seat is not None and seat.active and (on_book or seat.room > 0):
        if opp.owner_id != seat.user_id or overturned:
            _record_assignment(session, task, opp, seat, AssignmentReason.REINVITE, agent_id, now)
        opp.owner_id = seat.user_id
        opp.pool_since = None
        opp.pool_reason = None
        opp.declined_owner_id = None
        consultant_id, consultant_name = seat.user_id, seat.name
    else:
        # Someone else receives the customer: the refill pool, "not consultant X" if asked.
        if opp.owner_id is not None:
            _record_assignment(
                session,
                task,
                opp,
                None,
                AssignmentReason.RELEASED,
                agent_id,
                now,
                note=PoolReason.REINVITED.value,
            )
        opp.owner_id = None
        opp.pool_since = now
        opp.pool_reason = PoolReason.REINVITED.value
        opp.declined_owner_id = previous if parsed.answers["same_consultant_ok"] is False else None
    if opp.grade == Grade.C.value:
        opp.grade = None  # a dormant customer coming back is assessed again at the visit
    opp.next_callback_on = None
    opp.next_follow_up_due = local_date(
        parsed.invitation_at, store_timezone(session, task.store_id)
    )
    invitation = Invitation(
        store_id=task.store_id,
        opportunity_id=opp.id,
        customer_id=opp.customer_id,
        consultant_id=consultant_id,
        created_by=agent_id,
        created_at=now,
        scheduled_at=parsed.invitation_at,
        source=InvitationSource.CALLBACK.value,
    )
    session.add(invitation)
    session.flush()
    return {
        "invitation_id": invitation.id,
        "invitation_at": parsed.invitation_at,
        "consultant_name": consultant_name,
        "to_pool": consultant_id is None,
    }


# --- the refill pool, on demand ----------------------------------------------------------------


@dataclass(frozen=True)
class HandOut:
    placed: int
    unplaced: int
    placed_with: list[tuple[str, int]]  # consultant, customers received
    skipped: list[tuple[str, str]]  # consultant, why nobody was given to them


def pool_size(session: Session, store_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Opportunity)
            .where(
                Opportunity.store_id == store_id,
                Opportunity.status == OpportunityStatus.OPEN.value,
                Opportunity.owner_id.is_(None),
                Opportunity.pool_since.is_not(None),
            )
        )
        or 0
    )


def hand_out_pool(session: Session, store_id: int, actor_id: int, now: datetime) -> HandOut:
    """The cyclic refill now rather than tonight, under the store's lock (as dispatch)."""
    lock_store(session, store_id)
    timezone = store_timezone(session, store_id)
    ctx = store_context(session, store_id, local_date(now, timezone), now, None)
    counts = refill(session, ctx, assigned_by=actor_id)
    received = dict(
        session.execute(
            select(Assignment.to_owner_id, func.count())
            .where(
                Assignment.store_id == store_id,
                Assignment.assigned_at == now,
                Assignment.assigned_by == actor_id,
                Assignment.reason == AssignmentReason.REFILL.value,
            )
            .group_by(Assignment.to_owner_id)
        ).all()
    )
    placed_with: list[tuple[str, int]] = []
    skipped: list[tuple[str, str]] = []
    for seat in seats(session, store_id, ctx.rules.default_load_cap):
        if received.get(seat.user_id):
            placed_with.append((seat.name, int(received[seat.user_id])))
        elif not seat.active:
            skipped.append((seat.name, "inactive"))
        elif seat.room <= 0:
            skipped.append((seat.name, "at_cap"))
        elif counts["unplaced"]:
            skipped.append((seat.name, "declined"))
    return HandOut(counts["refilled"], counts["unplaced"], placed_with, skipped)


# Helpers the views use to keep the form's choices in one place.
def form_choices() -> dict[str, Any]:
    return {
        "call_results": [r.value for r in CallResult],
        "outcomes": REACHED_OUTCOMES,
        "brands": BRANDS,
        "other_brand": OTHER_BRAND,
        "no_change": NO_CHANGE,
    }
