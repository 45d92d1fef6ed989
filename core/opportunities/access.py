"""Need to know: who may open a customer's record, and who may see their full number
(DESIGN.md sections 2 and 5). The rule is written here once; the customer page, the search,
the opportunity pages, the reveal and the callback's reveal all go through it.

- A **consultant** opens the customers on their own book (an open or won opportunity of the
  customer is theirs) and today's visitors handed to them, and sees their full numbers.
- **Customer service** opens every customer of the store (they call them), and sees a full
  number only on the callback it has claimed (``core.callbacks.claims.reveal_task_mobile``).
- A **manager** opens the whole store, and sees a full number with a written reason.

Every full number shown is written to the audit trail, and nobody sees more than
``REVEALS_PER_HOUR`` different customers' numbers in an hour: a departing consultant cannot
walk off with the store's customers. The manager sees who revealed how many
(:func:`reveals_by_person`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from core import audit
from core.checkin.models import Visit
from core.enums import OpportunityStatus, Role
from core.errors import DomainError, PermissionDenied, ValidationError
from core.i18n import N_
from core.opportunities.models import Customer, Opportunity
from core.scoping import get_in_store
from core.stores.models import User
from core.timeutil import day_bounds_utc, local_date

REVEALS_PER_HOUR = 20  # different customers' full numbers a person may see in an hour
REVEAL_REASON_MAX = 200
REVEAL = "reveal_mobile"  # the audit action of a full number shown


@dataclass(frozen=True)
class Viewer:
    """The member of staff asking, in their store and its calendar."""

    user_id: int
    role: str
    store_id: int
    timezone: str


class TooManyReveals(DomainError):
    """The person has seen as many full numbers as an hour allows."""

    def __init__(self) -> None:
        super().__init__(
            N_(
                "You have seen %(count)s customers' full numbers in the last hour, the most "
                "allowed. Call from the masked number's callback, or ask your manager."
            ),
            count=REVEALS_PER_HOUR,
        )


def on_book(viewer: Viewer, now: datetime) -> ColumnElement[bool]:
    """SQL over ``Customer.id``: the customer is on the consultant's book (an open or won
    opportunity is theirs) or visited today and was handed to them."""
    start, end = day_bounds_utc(local_date(now, viewer.timezone), viewer.timezone)
    owned = select(Opportunity.customer_id).where(
        Opportunity.store_id == viewer.store_id,
        Opportunity.owner_id == viewer.user_id,
        Opportunity.status.in_((OpportunityStatus.OPEN.value, OpportunityStatus.WON.value)),
    )
    visited = select(Visit.customer_id).where(
        Visit.store_id == viewer.store_id,
        Visit.consultant_id == viewer.user_id,
        Visit.checked_in_at >= start,
        Visit.checked_in_at < end,
    )
    return or_(Customer.id.in_(owned), Customer.id.in_(visited))


def visible(viewer: Viewer, now: datetime) -> ColumnElement[bool] | None:
    """SQL over ``Customer``: the customers the viewer may open (None: the whole store)."""
    return on_book(viewer, now) if viewer.role == Role.CONSULTANT else None


def open_customer(session: Session, viewer: Viewer, customer_id: int, now: datetime) -> Customer:
    """The customer, if the viewer may open them; another store's is not found, another
    consultant's customer is refused (and the refusal recorded)."""
    customer = get_in_store(session, Customer, customer_id, viewer.store_id)
    condition = visible(viewer, now)
    if condition is not None and not session.scalar(
        select(func.count()).select_from(Customer).where(Customer.id == customer_id, condition)
    ):
        raise PermissionDenied(N_("This customer is on another consultant's book."))
    return customer


def open_assessment_customer(
    session: Session, viewer: Viewer, customer_id: int, assessed_by: int, now: datetime
) -> Customer:
    """The customer of a needs analysis: whoever may open the customer, and the consultant who
    made the analysis (a grading to C hands the customer on, but its result stays theirs)."""
    if viewer.role == Role.CONSULTANT and assessed_by == viewer.user_id:
        return get_in_store(session, Customer, customer_id, viewer.store_id)
    return open_customer(session, viewer, customer_id, now)


def reveal_mobile(
    session: Session,
    viewer: Viewer,
    customer_id: int,
    now: datetime,
    *,
    reason: str | None = None,
    task_id: int | None = None,
) -> str:
    """The customer's full number for the viewer, under the need-to-know rule: audited, and at
    most ``REVEALS_PER_HOUR`` different customers an hour. ``task_id``: shown on a callback
    the agent has claimed (the caller has checked the claim). A manager writes why."""
    customer = open_customer(session, viewer, customer_id, now)
    if viewer.role == Role.CS_AGENT and task_id is None:
        raise PermissionDenied(
            N_("Customer service sees a full number on the callback it has claimed.")
        )
    text = (reason or "").strip()
    if viewer.role == Role.MANAGER and task_id is None:
        if not text:
            raise ValidationError({"reason": N_("Write why you need the full number.")})
        if len(text) > REVEAL_REASON_MAX:
            raise ValidationError({"reason": N_("This text is too long.")})
    _throttle(session, viewer, customer_id, now)
    data: dict[str, object] = {}
    if text:
        data["reason"] = text
    if task_id is not None:
        data["task"] = task_id
    audit.record(
        session,
        REVEAL,
        store_id=viewer.store_id,
        actor_id=viewer.user_id,
        entity="customer",
        entity_id=customer_id,
        data=data or None,
        at=now,
    )
    return customer.mobile


def _throttle(session: Session, viewer: Viewer, customer_id: int, now: datetime) -> None:
    """Refuse a new customer's number past ``REVEALS_PER_HOUR`` in the last hour (seeing again
    a number already seen in that hour does not count twice). One statement."""
    seen = select(audit.AuditEvent.entity_id).where(
        audit.AuditEvent.actor_id == viewer.user_id,
        audit.AuditEvent.action == REVEAL,
        audit.AuditEvent.at > now - timedelta(hours=1),
    )
    ids = set(session.scalars(seen.distinct()))
    if customer_id not in ids and len(ids) >= REVEALS_PER_HOUR:
        raise TooManyReveals()


@dataclass(frozen=True)
class RevealCount:
    user_id: int
    name: str
    role: str
    customers: int  # different customers whose number they saw
    reveals: int


def reveals_by_person(session: Session, store_id: int, since: datetime) -> list[RevealCount]:
    """Who saw how many full numbers since ``since``, most first. One statement."""
    rows = session.execute(
        select(
            User.id,
            User.display_name,
            User.role,
            func.count(func.distinct(audit.AuditEvent.entity_id)),
            func.count(),
        )
        .join(User, User.id == audit.AuditEvent.actor_id)
        .where(
            audit.AuditEvent.store_id == store_id,
            audit.AuditEvent.action == REVEAL,
            audit.AuditEvent.at >= since,
        )
        .group_by(User.id, User.display_name, User.role)
        .order_by(func.count(func.distinct(audit.AuditEvent.entity_id)).desc(), User.id)
    )
    return [RevealCount(*row) for row in rows]
