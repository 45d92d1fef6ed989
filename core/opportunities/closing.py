"""Closing an opportunity: the one way an opportunity becomes won (O) or lost (F), whoever
closes it (the consultant's order or defeat, customer service's "bought elsewhere")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.callbacks.models import CallbackTask
from core.enums import CallbackStatus, Grade, InvitationStatus, OpportunityStatus
from core.opportunities.models import Invitation, Opportunity


def close_opportunity(
    session: Session,
    opportunity: Opportunity,
    grade: Grade,
    actor_id: int,
    now: datetime,
    *,
    defeat_reason: str | None = None,
    competitor_brand: str | None = None,
    note: str | None = None,
) -> None:
    """Won (grade O) or lost (grade F) as of ``now``, by ``actor_id``: nothing is due on it any
    more (follow-up, cycle, callback date, the refill pool): its scheduled invitations and its
    open callbacks are cancelled (by ``actor_id``, at ``now``). ``graded_by`` is whoever closed
    it: the nightly run calls back the defeats that consultants recorded, not those customer
    service recorded."""
    assert grade in (Grade.O, Grade.F)
    won = grade == Grade.O
    opportunity.status = (OpportunityStatus.WON if won else OpportunityStatus.LOST).value
    opportunity.grade = grade.value
    opportunity.graded_at = now
    opportunity.graded_by = actor_id
    opportunity.closed_at = now
    opportunity.close_note = note
    if not won:
        opportunity.defeat_reason = defeat_reason
        opportunity.competitor_brand = competitor_brand
    opportunity.next_follow_up_due = None
    opportunity.cycle_deadline = None
    opportunity.next_callback_on = None
    opportunity.pool_since = None
    opportunity.pool_reason = None
    session.execute(
        update(Invitation)
        .where(
            Invitation.opportunity_id == opportunity.id,
            Invitation.status == InvitationStatus.SCHEDULED.value,
        )
        .values(status=InvitationStatus.CANCELLED.value)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(CallbackTask)
        .where(
            CallbackTask.opportunity_id == opportunity.id,
            CallbackTask.status == CallbackStatus.OPEN.value,
        )
        .values(status=CallbackStatus.CANCELLED.value, completed_at=now, completed_by=actor_id)
        .execution_options(synchronize_session="fetch")  # tasks this session holds see it
    )
