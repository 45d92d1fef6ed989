"""Customers as staff see them: search, and one page with the whole history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from core import audit
from core.callbacks.models import CallbackAnswers, CallbackTask
from core.checkin.models import Visit
from core.dispatch.models import Assignment, Decline
from core.enums import ConsentChannel, OpportunityStatus
from core.errors import DomainError, ValidationError
from core.i18n import N_
from core.opportunities.access import Viewer, open_customer, visible
from core.opportunities.models import (
    ConsentRecord,
    Customer,
    FollowUp,
    Invitation,
    NeedsAssessment,
    Opportunity,
)
from core.phone import mask_mobile
from core.scoping import get_in_store
from core.stores.models import CarModel, User

PAGE_SIZE = 25


@dataclass(frozen=True)
class CustomerRow:
    id: int
    name: str
    title: str | None
    masked_mobile: str
    grade: str | None
    status: str | None
    owner_name: str | None
    last_visit_at: datetime | None
    next_follow_up_due: date | None


@dataclass(frozen=True)
class CustomerPage:
    rows: list[CustomerRow]
    total: int
    page: int
    pages: int


def search_customers(
    session: Session,
    viewer: Viewer,
    now: datetime,
    query: str = "",
    *,
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> CustomerPage:
    """The customers the viewer may open (``core.opportunities.access``: a consultant's own
    book, else the whole store) by surname or the last digits of the mobile number, newest
    first, each with their current opportunity (the open one, else the latest). Two statements
    per call, whatever the size of the store.
    """
    owner = aliased(User)
    page = max(1, page)
    filtered = select(Customer).where(Customer.store_id == viewer.store_id)
    allowed = visible(viewer, now)
    if allowed is not None:
        filtered = filtered.where(allowed)
    current = (
        select(Opportunity.id)
        .where(Opportunity.customer_id == Customer.id)
        .order_by(Opportunity.status != OpportunityStatus.OPEN.value, Opportunity.id.desc())
        .limit(1)
        .correlate(Customer)
        .scalar_subquery()
    )
    rows_query = (
        filtered.add_columns(Opportunity, owner.display_name)
        .outerjoin(Opportunity, Opportunity.id == current)
        .outerjoin(owner, owner.id == Opportunity.owner_id)
    )
    condition = _search_condition(query)
    if condition is not None:
        filtered = filtered.where(condition)
        rows_query = rows_query.where(condition)
    total = session.scalar(select(func.count()).select_from(filtered.subquery())) or 0
    result = session.execute(
        rows_query.order_by(Customer.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    rows = [
        CustomerRow(
            id=c.id,
            name=c.surname,
            title=c.title,
            masked_mobile=mask_mobile(c.mobile),
            grade=o.grade if o else None,
            status=o.status if o else None,
            owner_name=owner_name,
            last_visit_at=o.last_visit_at if o else None,
            next_follow_up_due=o.next_follow_up_due if o else None,
        )
        for c, o, owner_name in result
    ]
    return CustomerPage(rows, total, page, max(1, -(-total // per_page)))


def _search_condition(query: str) -> ColumnElement[bool] | None:
    """Digits: the end of the mobile number. Anything else: the start of the surname."""
    query = (query or "").strip()
    if not query:
        return None
    if query.isdigit():
        return Customer.mobile.like(f"%{query}")
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Customer.surname.like(f"{escaped}%", escape="\\")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # visit, assessment, follow_up, invitation, callback, assignment
    data: dict[str, Any]


@dataclass
class CustomerProfile:
    id: int
    surname: str
    title: str | None
    masked_mobile: str
    consented: bool
    consent_notice_version: str | None
    do_not_contact: bool
    created_at: datetime
    opportunities: list[dict[str, Any]] = field(default_factory=list)
    # Every "not this consultant" the customer said, newest first, lifted ones too.
    declines: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)


def customer_profile(
    session: Session, viewer: Viewer, customer_id: int, now: datetime
) -> CustomerProfile:
    """The customer and their whole history, newest first, for a viewer who may open them
    (``core.opportunities.access``). A fixed number of statements."""
    customer = open_customer(session, viewer, customer_id, now)
    profile = CustomerProfile(
        id=customer.id,
        surname=customer.surname,
        title=customer.title,
        masked_mobile=mask_mobile(customer.mobile),
        consented=customer.consent_at is not None,
        consent_notice_version=customer.consent_notice_version,
        do_not_contact=customer.do_not_contact,
        created_at=customer.created_at,
    )
    owner = aliased(User)
    for opp, owner_name, model in session.execute(
        select(Opportunity, owner.display_name, CarModel.name)
        .outerjoin(owner, owner.id == Opportunity.owner_id)
        .outerjoin(CarModel, CarModel.id == Opportunity.car_model_id)
        .where(Opportunity.customer_id == customer.id)
        .order_by(Opportunity.id.desc())
    ):
        profile.opportunities.append(
            {
                "id": opp.id,
                "status": opp.status,
                "grade": opp.grade,
                "owner": owner_name,
                "owner_id": opp.owner_id,
                "model": model,
                "created_at": opp.created_at,
                "next_follow_up_due": opp.next_follow_up_due,
                "cycle_deadline": opp.cycle_deadline,
                "in_pool": opp.pool_since is not None,
                "defeat_reason": opp.defeat_reason,
                "competitor_brand": opp.competitor_brand,
                "closed_at": opp.closed_at,
            }
        )
    opp_ids = select(Opportunity.id).where(Opportunity.customer_id == customer.id)
    staff = aliased(User)
    timeline = profile.timeline

    for visit, name, model in session.execute(
        select(Visit, staff.display_name, CarModel.name)
        .outerjoin(staff, staff.id == Visit.consultant_id)
        .outerjoin(CarModel, CarModel.id == Visit.car_model_id)
        .where(Visit.customer_id == customer.id)
    ):
        timeline.append(
            TimelineEntry(
                visit.checked_in_at,
                "visit",
                {
                    "status": visit.status,
                    "purpose": visit.purpose,
                    "source": visit.source,
                    "consultant": name,
                    "model": model,
                    "party_size": visit.party_size,
                    "first": visit.is_first_visit,
                    "invited": visit.invitation_id is not None,
                },
            )
        )
    for a, name in session.execute(
        select(NeedsAssessment, staff.display_name)
        .join(staff, staff.id == NeedsAssessment.assessed_by)
        .where(NeedsAssessment.opportunity_id.in_(opp_ids))
    ):
        timeline.append(
            TimelineEntry(
                a.assessed_at,
                "assessment",
                {
                    "id": a.id,
                    "opportunity_id": a.opportunity_id,
                    "by": name,
                    "score": a.score,
                    "grade": a.grade,
                    "computed_grade": a.computed_grade,
                    "override_reason": a.override_reason,
                },
            )
        )
    for f, name in session.execute(
        select(FollowUp, staff.display_name)
        .join(staff, staff.id == FollowUp.consultant_id)
        .where(FollowUp.opportunity_id.in_(opp_ids))
    ):
        timeline.append(
            TimelineEntry(
                f.occurred_at,
                "follow_up",
                {"by": name, "kind": f.kind, "outcome": f.outcome, "next": f.next_follow_up_on},
            )
        )
    for inv, name in session.execute(
        select(Invitation, staff.display_name)
        .outerjoin(staff, staff.id == Invitation.consultant_id)
        .where(Invitation.customer_id == customer.id)
    ):
        timeline.append(
            TimelineEntry(
                inv.created_at,
                "invitation",
                {
                    "consultant": name,
                    "scheduled_at": inv.scheduled_at,
                    "status": inv.status,
                    "source": inv.source,
                },
            )
        )
    for task, answers, name in session.execute(
        select(CallbackTask, CallbackAnswers, staff.display_name)
        .outerjoin(CallbackAnswers, CallbackAnswers.task_id == CallbackTask.id)
        .outerjoin(staff, staff.id == CallbackTask.completed_by)
        .where(CallbackTask.customer_id == customer.id)
    ):
        timeline.append(
            TimelineEntry(
                task.completed_at or task.created_at,
                "callback",
                {
                    "kind": task.kind,
                    "status": task.status,
                    "due_on": task.due_on,
                    "by": name,
                    "call_result": task.call_result,
                    "outcome": task.outcome,
                    "note": task.note,
                    "answers": _answers(answers),
                },
            )
        )
    from_user, to_user = aliased(User), aliased(User)
    for asg, from_name, to_name in session.execute(
        select(Assignment, from_user.display_name, to_user.display_name)
        .outerjoin(from_user, from_user.id == Assignment.from_owner_id)
        .outerjoin(to_user, to_user.id == Assignment.to_owner_id)
        .where(Assignment.opportunity_id.in_(opp_ids))
    ):
        timeline.append(
            TimelineEntry(
                asg.assigned_at,
                "assignment",
                {
                    "reason": asg.reason,
                    "from": from_name,
                    "to": to_name,
                    "to_id": asg.to_owner_id,
                    "load": asg.to_load,
                    "cap": asg.to_cap,
                    "note": asg.note,
                    "candidates": asg.candidates or [],
                },
            )
        )
    consultant, recorder, lifter = aliased(User), aliased(User), aliased(User)
    for decline, consultant_name, recorder_name, lifter_name in session.execute(
        select(Decline, consultant.display_name, recorder.display_name, lifter.display_name)
        .join(consultant, consultant.id == Decline.consultant_id)
        .outerjoin(recorder, recorder.id == Decline.recorded_by)
        .outerjoin(lifter, lifter.id == Decline.lifted_by)
        .where(Decline.customer_id == customer.id)
        .order_by(Decline.declined_at.desc(), Decline.id.desc())
    ):
        profile.declines.append(
            {
                "id": decline.id,
                "consultant": consultant_name,
                "declined_at": decline.declined_at,
                "recorded_by": recorder_name,
                "callback_task_id": decline.callback_task_id,
                "lifted_at": decline.lifted_at,
                "lifted_by": lifter_name,
                "lift_reason": decline.lift_reason,
            }
        )
    timeline.sort(key=lambda e: e.at, reverse=True)
    return profile


LIFT_REASON_MAX = 500


def set_do_not_contact(
    session: Session,
    customer: Customer,
    barred: bool,
    channel: ConsentChannel,
    actor_id: int | None,
    now: datetime,
) -> None:
    """The one place a customer's do-not-contact changes: the flag, and the consent record of
    the customer's word (withdrawn when barred, granted again when lifted)."""
    customer.do_not_contact = barred
    customer.do_not_contact_at = now if barred else None
    if not barred:
        customer.consent_at = now
    session.add(
        ConsentRecord(
            customer_id=customer.id,
            granted=not barred,
            notice_version=customer.consent_notice_version,
            channel=channel.value,
            recorded_at=now,
            recorded_by=actor_id,
        )
    )


def lift_do_not_contact(
    session: Session, store_id: int, customer_id: int, actor_id: int, reason: str, now: datetime
) -> None:
    """The customer asked to be contacted again: staff lift their do-not-contact, saying why.
    Recorded as the customer's consent (at the desk, by this member of staff) and audited. A
    consent ticked at the kiosk never lifts it: only this does."""
    customer = get_in_store(session, Customer, customer_id, store_id)
    if not customer.do_not_contact:
        raise DomainError(N_("This customer is not marked do-not-contact."))
    text = (reason or "").strip()
    if not text:
        raise ValidationError({"reason": N_("Write what the customer asked for.")})
    if len(text) > LIFT_REASON_MAX:
        raise ValidationError({"reason": N_("This text is too long.")})
    set_do_not_contact(session, customer, False, ConsentChannel.RECEPTION, actor_id, now)
    audit.record(
        session,
        "customer.contact_again",
        store_id=store_id,
        actor_id=actor_id,
        entity="customer",
        entity_id=customer.id,
        data={"reason": text},
    )
    session.flush()


def _answers(answers: CallbackAnswers | None) -> dict[str, Any] | None:
    if answers is None:
        return None
    return {
        column: getattr(answers, column)
        for column in (
            "remembers_consultant",
            "satisfaction",
            "received_follow_up",
            "has_bought",
            "bought_reason",
            "bought_brand",
            "would_revisit",
            "same_consultant_ok",
            "concerns",
            "other_brands",
        )
    }
