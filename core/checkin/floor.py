"""The showroom floor: the waiting queue, consultants' presence, receptions, visitors who left,
and a visitor sent to another consultant by the desk."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session

from core import audit
from core.checkin.models import Visit
from core.dispatch.authority import (
    Order,
    OwnerChange,
    apply,
    assign_visit,
    candidates,
    choose,
    declined_by,
    nobody,
    own_consultant,
    preference,
    preferred_note,
    refusal,
    took,
)
from core.enums import (
    AssignmentReason,
    Grade,
    OpportunityStatus,
    PoolReason,
    Presence,
    VisitStatus,
)
from core.errors import DomainError, NotFound, ValidationError
from core.i18n import N_
from core.locks import lock_store
from core.opportunities.models import Invitation, Opportunity
from core.stores.models import ConsultantSettings


@cache
def _waiting_statement() -> Any:
    """The waiting visitors in arrival order, with whom each is for: built once."""
    return (
        select(
            Visit.id,
            Visit.customer_id,
            Opportunity.id,
            Opportunity.owner_id,
            Opportunity.grade,
            Invitation.consultant_id,
            Invitation.source,
            own_consultant(Visit.customer_id),
        )
        .join(Opportunity, Opportunity.id == Visit.opportunity_id)
        .outerjoin(Invitation, Invitation.id == Visit.invitation_id)
        .where(
            Visit.store_id == bindparam("p_store_id", type_=Integer),
            Visit.status == VisitStatus.WAITING.value,
        )
        .order_by(Visit.id)
    )


def dispatch_waiting(session: Session, store_id: int, now: datetime) -> int:
    """Hand waiting visitors, in arrival order, to consultants who can take them now."""
    lock_store(session, store_id)
    waiting = session.execute(_waiting_statement(), {"p_store_id": store_id}).all()
    if not waiting:
        return 0
    pool = candidates(session, store_id)
    declined = declined_by(session, (row[1] for row in waiting))
    handed = 0
    for visit_id, customer_id, opp_id, owner_id, grade, inv_consultant, inv_source, own in waiting:
        preferred, preferred_reason = preference(inv_consultant, inv_source, own)
        decision = choose(
            pool,
            order=Order.ROTATION,
            reason=AssignmentReason.QUEUE.value,
            walk_in=True,
            preferred=preferred,
            preferred_reason=preferred_reason,
            own=own,
            declined=declined.get(customer_id, frozenset()),
        )
        if decision.consultant_id is None:
            continue  # a later visitor may still go to their own consultant
        assign_visit(
            session,
            OwnerChange(
                store_id,
                opp_id,
                owner_id,
                decision,
                now,
                visit_id=visit_id,
                note=preferred_note(decision),
                walk_in=True,
            ),
        )
        handed += 1
        # the pool as the next visitor sees it
        took(
            pool,
            decision,
            grade=grade,
            new_owner=owner_id != decision.consultant_id,
            walk_in_at=now,
        )
    session.flush()
    return handed


def _settings(session: Session, store_id: int, consultant_id: int) -> ConsultantSettings:
    settings = session.get(ConsultantSettings, consultant_id)
    if settings is None or settings.store_id != store_id:
        raise NotFound("consultant")
    return settings


def set_presence(
    session: Session, store_id: int, consultant_id: int, presence: str, now: datetime
) -> int:
    """On duty, on break or off duty. Coming on duty may take a waiting visitor at once."""
    lock_store(session, store_id)  # first: core/locks.py
    if presence not in {p.value for p in Presence}:
        raise ValidationError({"presence": N_("Choose on duty, on break or off duty.")})
    settings = _settings(session, store_id, consultant_id)
    if settings.presence != presence:
        settings.presence = presence
        settings.presence_since = now
    session.flush()
    return dispatch_waiting(session, store_id, now) if presence == Presence.ON_DUTY else 0


def _visit(session: Session, store_id: int, visit_id: int) -> Visit:
    visit = session.get(Visit, visit_id)
    if visit is None or visit.store_id != store_id:
        raise NotFound("visit")
    return visit


def start_reception(
    session: Session, store_id: int, consultant_id: int, visit_id: int, now: datetime
) -> None:
    lock_store(session, store_id)  # first: core/locks.py
    visit = _visit(session, store_id, visit_id)
    if visit.consultant_id != consultant_id:
        raise DomainError(N_("This visitor was given to another consultant."))
    if visit.status != VisitStatus.ASSIGNED.value:
        raise DomainError(N_("This reception has already started or ended."))
    visit.status = VisitStatus.IN_RECEPTION.value
    visit.reception_started_at = now
    _settings(session, store_id, consultant_id).current_visit_id = visit.id


def end_reception(
    session: Session, store_id: int, consultant_id: int, visit_id: int, now: datetime
) -> int:
    """The visitor leaves the consultant; the next waiting visitor may come to them."""
    lock_store(session, store_id)  # first: core/locks.py
    visit = _visit(session, store_id, visit_id)
    if visit.consultant_id != consultant_id:
        raise DomainError(N_("This visitor was given to another consultant."))
    if visit.status != VisitStatus.IN_RECEPTION.value:
        raise DomainError(N_("Start the reception before ending it."))
    visit.status = VisitStatus.FINISHED.value
    visit.reception_ended_at = now
    settings = _settings(session, store_id, consultant_id)
    if settings.current_visit_id == visit.id:
        settings.current_visit_id = None
    session.flush()
    return dispatch_waiting(session, store_id, now)


def mark_left(session: Session, store_id: int, visit_id: int, actor_id: int, now: datetime) -> int:
    """The visitor left before a consultant received them."""
    lock_store(session, store_id)  # first: core/locks.py
    visit = _visit(session, store_id, visit_id)
    if visit.status not in (VisitStatus.WAITING.value, VisitStatus.ASSIGNED.value):
        raise DomainError(N_("Only a visitor who is still waiting can be marked as left."))
    visit.status = VisitStatus.LEFT.value
    visit.left_at = now
    opportunity = session.get(Opportunity, visit.opportunity_id)
    if (
        opportunity is not None
        and opportunity.status == OpportunityStatus.OPEN.value
        and opportunity.owner_id is None
        and opportunity.pool_since is None
        and opportunity.grade != Grade.C.value
    ):
        # A walk-in nobody could take: the refill gives them to a consultant tonight.
        apply(
            session,
            [
                OwnerChange(
                    store_id,
                    opportunity.id,
                    None,
                    nobody(candidates(session, store_id)),
                    now,
                    reason=AssignmentReason.RELEASED.value,
                    actor_id=actor_id,
                    visit_id=visit.id,
                    pool_reason=PoolReason.WAITING.value,
                )
            ],
        )
    audit.record(
        session,
        "visit_left",
        store_id=store_id,
        actor_id=actor_id,
        entity="visit",
        entity_id=visit.id,
    )
    session.flush()
    return dispatch_waiting(session, store_id, now)


def reassign_visit(
    session: Session,
    store_id: int,
    visit_id: int,
    consultant_id: int,
    actor_id: int,
    now: datetime,
    note: str | None = None,
) -> None:
    """The receptionist sends a visitor to another consultant (recorded as a manual assignment)."""
    lock_store(session, store_id)  # first: core/locks.py
    visit = _visit(session, store_id, visit_id)
    if visit.status not in (VisitStatus.WAITING.value, VisitStatus.ASSIGNED.value):
        raise DomainError(N_("Only a visitor who is still waiting can be reassigned."))
    opportunity = session.get(Opportunity, visit.opportunity_id)
    assert opportunity is not None
    pool = candidates(session, store_id)
    decision = choose(
        pool,
        order=Order.NAMED,
        reason=AssignmentReason.MANUAL.value,
        walk_in=False,
        preferred=consultant_id,
        own=opportunity.owner_id,
        declined=declined_by(session, [opportunity.customer_id]).get(
            opportunity.customer_id, frozenset()
        ),
    )
    if decision.consultant_id is None:
        raise ValidationError({"consultant": refusal(decision.preferred_skipped)})
    assign_visit(
        session,
        OwnerChange(
            store_id,
            opportunity.id,
            opportunity.owner_id,
            decision,
            now,
            actor_id=actor_id,
            visit_id=visit.id,
            note=note,
        ),
    )
