"""Erasing customers with everything about them: one rule, for the retention purge (the privacy
notice's three years, core/nightly/retention.py) and a customer's own request at the desk
(core/opportunities/pipl.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from core.audit import AuditEvent
from core.callbacks.models import CallbackTask
from core.checkin.models import Visit
from core.dispatch.models import Assignment, Decline
from core.opportunities.models import Customer, FollowUp, Invitation, NeedsAssessment, Opportunity


def erase(session: Session, store_id: int, customers: Any) -> None:
    """Delete the customers ``customers`` selects (a subquery of ids of the store's customers)
    and everything about them: opportunities, needs analyses, follow-ups, invitations,
    visits, assignments, declines, callbacks with their answers, consent records, and the
    audit events about those records. Set-based: each table is one DELETE over the same
    definition, which deleting the rows cannot change (no other customer's rows are touched).
    The caller holds the store's lock and records what was erased, without personal data."""
    opportunities = select(Opportunity.id).where(Opportunity.customer_id.in_(customers))
    visits = select(Visit.id).where(Visit.customer_id.in_(customers))
    tasks = select(CallbackTask.id).where(CallbackTask.customer_id.in_(customers))
    statements = [
        delete(AuditEvent).where(
            AuditEvent.store_id == store_id,
            or_(
                and_(AuditEvent.entity == "customer", AuditEvent.entity_id.in_(customers)),
                and_(AuditEvent.entity == "opportunity", AuditEvent.entity_id.in_(opportunities)),
                and_(AuditEvent.entity == "visit", AuditEvent.entity_id.in_(visits)),
                and_(AuditEvent.entity == "callback_task", AuditEvent.entity_id.in_(tasks)),
            ),
        ),
        delete(Assignment).where(
            or_(Assignment.opportunity_id.in_(opportunities), Assignment.visit_id.in_(visits))
        ),
        delete(Decline).where(Decline.customer_id.in_(customers)),
        delete(FollowUp).where(FollowUp.opportunity_id.in_(opportunities)),
        delete(NeedsAssessment).where(NeedsAssessment.opportunity_id.in_(opportunities)),
        delete(CallbackTask).where(
            or_(
                CallbackTask.customer_id.in_(customers),
                CallbackTask.opportunity_id.in_(opportunities),
            )
        ),
        # visits and invitations point at each other
        update(Invitation).where(Invitation.customer_id.in_(customers)).values(visit_id=None),
        delete(Visit).where(Visit.customer_id.in_(customers)),
        delete(Invitation).where(Invitation.customer_id.in_(customers)),
        delete(Opportunity).where(Opportunity.customer_id.in_(customers)),
        delete(Customer).where(Customer.id.in_(customers)),  # consent records go with it
    ]
    for statement in statements:
        session.execute(statement.execution_options(synchronize_session=False))
