"""How long a customer's data is kept: what the privacy notice promises.

The notice says: "While we are in contact about a purchase, and at most three years after your
last visit or call. Then they are deleted." A customer is *expired* when nothing was done with
them for three years: their record was created, and their last visit, call (a callback made,
or one still to make), follow-up by their consultant and invitation were all made, before the
cutoff (the start, in the store's calendar, of the same date three years ago).

``purge`` deletes every expired customer of a store with everything about them: opportunities,
needs analyses, follow-ups, invitations, visits, assignments, callbacks with their answers,
consent records, and the audit events about those records. It is set-based: each table is one
DELETE over the same definition, which deleting an expired customer's rows cannot change (no
other customer's rows are touched), so it is also idempotent. The caller commits.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from core import audit
from core.callbacks.models import CallbackTask
from core.checkin.models import Visit
from core.locks import lock_store
from core.opportunities.erasure import erase
from core.opportunities.models import Customer, FollowUp, Invitation, Opportunity
from core.timeutil import day_bounds_utc, local_date

RETENTION_YEARS = 3


def cutoff(now: datetime, timezone: str) -> datetime:
    """The start (UTC) of the store-local date ``RETENTION_YEARS`` years before today's; on
    29 February, of 28 February."""
    today = local_date(now, timezone)
    try:
        then = today.replace(year=today.year - RETENTION_YEARS)
    except ValueError:  # 29 February
        then = date(today.year - RETENTION_YEARS, 2, 28)
    return day_bounds_utc(then, timezone)[0]


def _expired(store_id: int, before: datetime) -> Any:
    """The ids of the store's expired customers (a subquery)."""
    customer = Customer.id
    recent: list[ColumnElement[bool]] = [
        exists().where(Visit.customer_id == customer, Visit.checked_in_at >= before),
        exists().where(
            CallbackTask.customer_id == customer,
            func.coalesce(CallbackTask.completed_at, CallbackTask.created_at) >= before,
        ),
        exists().where(
            Invitation.customer_id == customer,
            or_(Invitation.created_at >= before, Invitation.scheduled_at >= before),
        ),
        exists().where(
            FollowUp.opportunity_id == Opportunity.id,
            Opportunity.customer_id == customer,
            FollowUp.occurred_at >= before,
        ),
    ]
    return select(Customer.id).where(
        Customer.store_id == store_id,
        Customer.created_at < before,
        *(~condition for condition in recent),
    )


def expired_count(session: Session, store_id: int, now: datetime, timezone: str) -> int:
    """How many of the store's customers have expired (what ``purge`` would delete)."""
    return _count(session, _expired(store_id, cutoff(now, timezone)))


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def purge(session: Session, store_id: int, now: datetime, timezone: str) -> int:
    """Delete the store's expired customers and everything about them; return how many. One
    audit event records the number (no personal data). Under the store's lock: a customer who
    checks in again at that moment is either deleted before or kept."""
    lock_store(session, store_id)
    expired = _expired(store_id, cutoff(now, timezone))
    n = _count(session, expired)
    if not n:
        return 0
    erase(session, store_id, expired)
    audit.record(
        session,
        "retention.purged",
        store_id=store_id,
        actor_id=None,
        data={"customers": n, "years": RETENTION_YEARS},
    )
    return n
