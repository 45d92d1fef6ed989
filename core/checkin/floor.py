"""The showroom floor: the waiting queue, consultants' presence, receptions, visitors who left,
and a visitor sent to another consultant by the desk."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from core import audit
from core.checkin.models import Visit
from core.dispatch.load import grade_counts_towards_load
from core.dispatch.rotation import (
    Decision,
    VisitAssignment,
    assign_visit,
    candidates,
    choose,
    preference,
)
from core.enums import (
    AssignmentReason,
    Presence,
    VisitStatus,
)
from core.errors import DomainError, NotFound, ValidationError
from core.i18n import N_
from core.locks import lock_store
from core.opportunities.models import Invitation, Opportunity
from core.stores.models import ConsultantSettings


def dispatch_waiting(session: Session, store_id: int, now: datetime) -> int:
    """Hand waiting visitors, in arrival order, to consultants who can take them now."""
    lock_store(session, store_id)
    handed = 0
    waiting = session.execute(
        select(Visit, Opportunity, Invitation)
        .join(Opportunity, Opportunity.id == Visit.opportunity_id)
        .outerjoin(Invitation, Invitation.id == Visit.invitation_id)
        .where(Visit.store_id == store_id, Visit.status == VisitStatus.WAITING.value)
        .order_by(Visit.id)
    ).all()
    if not waiting:
        return 0
    pool = candidates(session, store_id)
    for visit, opportunity, invitation in waiting:
        preferred, preferred_reason = preference(session, opportunity, invitation)
        decision = choose(
            pool,
            preferred=preferred,
            preferred_reason=preferred_reason,
            declined=opportunity.declined_owner_id,
        )
        if decision.consultant_id is None:
            continue  # a later visitor may still go to their own consultant
        reason = decision.reason
        if reason == AssignmentReason.ROTATION.value:
            reason = AssignmentReason.QUEUE.value
        new_owner = opportunity.owner_id != decision.consultant_id
        grade = opportunity.grade
        assign_visit(
            session,
            VisitAssignment(
                store_id, visit.id, opportunity.id, opportunity.owner_id, decision, now, reason
            ),
        )
        handed += 1
        # the pool as the next visitor sees it
        taker = next(c for c in pool if c.user_id == decision.consultant_id)
        taker.busy = True
        taker.last_walk_in_at = now
        if new_owner and grade_counts_towards_load(grade):
            taker.load += 1
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
    visit = _visit(session, store_id, visit_id)
    if visit.status not in (VisitStatus.WAITING.value, VisitStatus.ASSIGNED.value):
        raise DomainError(N_("Only a visitor who is still waiting can be marked as left."))
    visit.status = VisitStatus.LEFT.value
    visit.left_at = now
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
    visit = _visit(session, store_id, visit_id)
    if visit.status not in (VisitStatus.WAITING.value, VisitStatus.ASSIGNED.value):
        raise DomainError(N_("Only a visitor who is still waiting can be reassigned."))
    lock_store(session, store_id)
    pool = candidates(session, store_id)
    target = next((c for c in pool if c.user_id == consultant_id), None)
    if target is None or not target.active:
        raise ValidationError({"consultant": N_("Choose an active consultant of this store.")})
    for c in pool:
        c.skipped = None if c is target else "not_chosen"
    opportunity = session.get(Opportunity, visit.opportunity_id)
    assert opportunity is not None
    decision = Decision(
        target.user_id,
        AssignmentReason.MANUAL.value,
        [c.as_record() for c in pool],
        target.load,
        target.cap,
    )
    assign_visit(
        session,
        VisitAssignment(
            store_id,
            visit.id,
            opportunity.id,
            opportunity.owner_id,
            decision,
            now,
            actor_id=actor_id,
            note=note,
        ),
    )
