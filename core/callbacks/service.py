"""Recording a callback (DESIGN.md section 3 steps 5-8): the call's result, the questionnaire
and the outcome, and handing the refill pool out on demand.

The nightly run (core/nightly/run.py) fills the worklist (core/callbacks/tasks.py); an agent
claims a task before calling (core/callbacks/claims.py), and every save by the claimer refreshes
the claim.

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

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.callbacks.claims import claim_is_live, keep_claim
from core.callbacks.models import CallbackAnswers, CallbackTask
from core.dispatch.authority import Skip, candidates, hand_over, record_decline
from core.dispatch.models import Assignment
from core.dispatch.pool import in_pool
from core.enums import (
    AssignmentReason,
    CallbackKind,
    CallbackOutcome,
    CallbackStatus,
    CallResult,
    ConsentChannel,
    DefeatReason,
    Grade,
    InvitationSource,
    OpportunityStatus,
    PoolReason,
)
from core.errors import DomainError, NotFound, ValidationError
from core.i18n import N_
from core.locks import lock_store
from core.nightly.run import refill, store_context
from core.opportunities.closing import close_opportunity
from core.opportunities.customers import set_do_not_contact
from core.opportunities.models import Customer, Invitation, Opportunity
from core.rules.rulesets import current_rules
from core.stores.models import User
from core.stores.service import store_timezone
from core.timeutil import local_date, local_moment

TEXT_MAX = 500
BRAND_MAX = 40
OTHER_BRANDS_MAX = 200

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


# --- the worklist ------------------------------------------------------------------------------


# --- claiming ----------------------------------------------------------------------------------


# --- one task, as the agent sees it ------------------------------------------------------------


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
    lock_store(session, store_id)  # first: core/locks.py
    task = session.get(CallbackTask, task_id)
    if task is None or task.store_id != store_id:
        raise NotFound("callback_task")
    if task.status != CallbackStatus.OPEN.value:
        raise DomainError(N_("This callback is already closed."))
    if task.claimed_by != agent_id:
        if task.claimed_by is not None and claim_is_live(task.claimed_at, now):
            raise DomainError(N_("Another agent is calling this customer."))
        raise DomainError(N_("Claim this callback before you call the customer."))
    opp = session.get(Opportunity, task.opportunity_id) if task.opportunity_id else None
    timezone = store_timezone(session, store_id)
    today = local_date(now, timezone)
    parsed = _validate(form, opp, now, today, timezone)
    # Guards against a takeover between reading the task and now (the row is locked from here).
    keep_claim(session, store_id, task_id, agent_id, now)
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
        # the consultant the customer has now, else the one the call is about
        previous = opp.owner_id or task.consultant_id or opp.dormant_by
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
    close_opportunity(
        session,
        opp,
        Grade.F,
        agent_id,
        now,
        defeat_reason=reason.value,
        competitor_brand=brand,
        note=note,
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
    set_do_not_contact(session, customer, True, ConsentChannel.CALLBACK, agent_id, now)
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
    # Open again, with customer service until the call decides who receives the customer.
    hand_over(
        session, opp, now, to=None, reason=AssignmentReason.TO_SERVICE.value, actor_id=agent_id
    )
    return opp


def _to_service(
    session: Session, task: CallbackTask, opp: Opportunity, agent_id: int, now: datetime
) -> None:
    """An overturned defeat to be called again later: dormant (C), owned by customer service.
    graded_at stays the defeat's, so the nightly run does not mistake it for a new dormant."""
    if opp.owner_id is not None:
        hand_over(
            session, opp, now, to=None, reason=AssignmentReason.TO_SERVICE.value, actor_id=agent_id
        )
    opp.grade = Grade.C.value
    opp.graded_by = agent_id
    opp.next_follow_up_due = None
    opp.cycle_deadline = None


def _invite_back(
    session: Session,
    task: CallbackTask,
    opp: Opportunity,
    parsed: _Parsed,
    agent_id: int,
    now: datetime,
    *,
    previous: int | None,
    overturned: bool,
) -> dict[str, Any]:
    """An appointment: with the consultant the customer keeps, when the dispatch rule lets
    them have the customer, else via the refill pool ("not consultant X" kept when said)."""
    assert parsed.answers is not None and parsed.invitation_at is not None
    same = parsed.answers["same_consultant_ok"]
    if same is False and previous is not None:
        record_decline(
            session,
            task.store_id,
            opp.customer_id,
            previous,
            now,
            recorded_by=agent_id,
            callback_task_id=task.id,
        )
    if opp.grade == Grade.C.value:
        opp.grade = None  # a dormant customer coming back is assessed again (and counts)
    consultant_id: int | None = None
    consultant_name: str | None = None
    if same is True and previous is not None:
        if opp.owner_id == previous and not overturned:
            consultant_id = previous  # already theirs: nothing changes hands
        else:
            decision = hand_over(
                session,
                opp,
                now,
                to=previous,
                reason=AssignmentReason.REINVITE.value,
                actor_id=agent_id,
            )
            consultant_id = decision.consultant_id
        if consultant_id is not None:
            consultant_name = session.scalar(
                select(User.display_name).where(User.id == consultant_id)
            )
    if consultant_id is None:
        # Someone else receives the customer: the refill pool.
        hand_over(
            session,
            opp,
            now,
            to=None,
            reason=AssignmentReason.RELEASED.value,
            actor_id=agent_id,
            pool_reason=PoolReason.REINVITED.value,
            note=PoolReason.REINVITED.value,
        )
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
                in_pool(),
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
    for seat in candidates(session, store_id, ctx.rules.default_load_cap):
        if received.get(seat.user_id):
            placed_with.append((seat.name, int(received[seat.user_id])))
        elif not seat.active:
            skipped.append((seat.name, Skip.INACTIVE.value))
        elif seat.room <= 0:
            skipped.append((seat.name, Skip.AT_CAP.value))
        elif counts["unplaced"]:
            skipped.append((seat.name, Skip.DECLINED.value))
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
