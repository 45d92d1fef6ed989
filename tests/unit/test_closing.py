"""One closer for an opportunity (core/opportunities/closing.py): an order, a defeat and
customer service's "bought elsewhere" all leave nothing due and no invitation scheduled."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.db import utcnow
from core.enums import DefeatReason, Grade, InvitationStatus
from core.opportunities import actions
from core.opportunities.closing import close_opportunity


@pytest.mark.parametrize("how", ["order", "defeat", "customer_service"])
def test_closing_cancels_scheduled_invitations_and_clears_what_is_due(factory, session, how):
    store = factory.store()
    consultant = factory.consultant(store)
    agent = factory.user(store, role="cs_agent")
    opportunity = factory.opportunity(
        factory.customer(store),
        owner=consultant,
        grade="A",
        next_follow_up_due=date.today() + timedelta(days=2),
        cycle_deadline=date.today() + timedelta(days=9),
    )
    now = utcnow()
    scheduled = factory.invitation_at(opportunity, consultant, now - timedelta(hours=1))
    honoured = factory.invitation_at(
        opportunity, consultant, now - timedelta(days=3), status=InvitationStatus.HONOURED.value
    )
    if how == "order":
        actions.record_order(session, store.id, opportunity.id, consultant.id, now)
    elif how == "defeat":
        actions.record_defeat(
            session, store.id, opportunity.id, consultant.id, now, reason=DefeatReason.PRICE.value
        )
    else:
        close_opportunity(
            session,
            opportunity,
            Grade.F,
            agent.id,
            now,
            defeat_reason=DefeatReason.OTHER_BRAND.value,
            competitor_brand="比亚迪",
        )
    session.flush()
    session.refresh(scheduled)
    session.refresh(honoured)
    assert scheduled.status == InvitationStatus.CANCELLED.value
    assert honoured.status == InvitationStatus.HONOURED.value
    assert opportunity.status == ("won" if how == "order" else "lost")
    assert opportunity.grade == ("O" if how == "order" else "F")
    assert opportunity.closed_at == now
    assert opportunity.next_follow_up_due is None and opportunity.cycle_deadline is None
    assert opportunity.next_callback_on is None and opportunity.pool_since is None
    assert opportunity.graded_by == (agent.id if how == "customer_service" else consultant.id)
