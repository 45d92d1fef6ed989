"""Retention: a customer nobody has been in contact with for three years is deleted, whole."""

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from core.audit import AuditEvent
from core.callbacks.models import CallbackAnswers, CallbackTask
from core.checkin.models import Visit
from core.dispatch.models import Assignment
from core.nightly import retention
from core.opportunities.models import (
    ConsentRecord,
    Customer,
    FollowUp,
    Invitation,
    NeedsAssessment,
    Opportunity,
)
from core.timeutil import local_moment

NOW = local_moment(date(2026, 11, 30), time(1, 0), "Asia/Shanghai")
CUTOFF = local_moment(date(2023, 11, 30), time(0, 0), "Asia/Shanghai")
OLD = CUTOFF - timedelta(minutes=1)  # just outside the three years
RECENT = CUTOFF  # just inside


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def old_customer(factory, store, consultant, at: datetime = OLD) -> Customer:
    """A customer with a whole history, all of it at ``at``: visit, assignment, needs analysis,
    follow-up, invitation honoured by the visit, a completed callback with answers, an audit
    event about each record."""
    customer = factory.customer(store)
    customer.created_at = at
    opportunity = factory.opportunity(customer, owner=consultant, grade="C", graded_at=at)
    visit = factory.visit(
        customer, consultant=consultant, checked_in_at=at, opportunity_id=opportunity.id
    )
    invitation = factory.invitation_at(
        opportunity, consultant, at, scheduled_at=at, visit_id=visit.id
    )
    visit.invitation_id = invitation.id
    factory.assessment_at(opportunity, consultant, at, grade="C")
    session = factory.session
    session.add(
        FollowUp(
            opportunity_id=opportunity.id, consultant_id=consultant.id, kind="call", occurred_at=at
        )
    )
    session.add(
        Assignment(
            store_id=store.id,
            opportunity_id=opportunity.id,
            visit_id=visit.id,
            to_owner_id=consultant.id,
            assigned_at=at,
            reason="rotation",
        )
    )
    task = factory.callback_done(
        customer, consultant=consultant, completed_at=at, opportunity=opportunity, satisfaction=4
    )
    for entity, entity_id in (
        ("customer", customer.id),
        ("opportunity", opportunity.id),
        ("visit", visit.id),
        ("callback_task", task.id),
    ):
        session.add(
            AuditEvent(store_id=store.id, action="test", entity=entity, entity_id=entity_id, at=at)
        )
    session.flush()
    return customer


@pytest.fixture
def shop(factory):
    store = factory.store()
    return store, factory.consultant(store, name="Anna")


def test_the_cutoff_is_the_same_local_date_three_years_back():
    assert retention.cutoff(NOW, "Asia/Shanghai") == CUTOFF
    leap = local_moment(date(2028, 2, 29), time(9, 0), "Asia/Shanghai")
    assert retention.cutoff(leap, "Asia/Shanghai") == local_moment(
        date(2025, 2, 28), time(0, 0), "Asia/Shanghai"
    )
    # the store's own calendar: 01:00 in Shanghai is still the day before in Los Angeles
    assert retention.cutoff(NOW, "America/Los_Angeles") == local_moment(
        date(2023, 11, 29), time(0, 0), "America/Los_Angeles"
    )


def test_an_expired_customer_is_deleted_with_everything_about_them(factory, session, shop):
    store, anna = shop
    gone = old_customer(factory, store, anna)
    kept = old_customer(factory, store, anna)
    factory.visit(kept, consultant=anna, checked_in_at=RECENT)  # came back: three years again
    elsewhere = old_customer(factory, factory.store(), factory.consultant(factory.store()))
    gone_id, opportunity_ids = (
        gone.id,
        [
            o.id
            for o in session.scalars(select(Opportunity).where(Opportunity.customer_id == gone.id))
        ],
    )

    task_ids = list(
        session.scalars(select(CallbackTask.id).where(CallbackTask.customer_id == gone.id))
    )
    assert count(session, CallbackAnswers, CallbackAnswers.task_id.in_(task_ids)) == 1
    factory.settings(anna).current_visit_id = session.scalar(
        select(Visit.id).where(Visit.customer_id == gone.id)
    )
    session.flush()
    assert retention.expired_count(session, store.id, NOW, store.timezone) == 1
    assert retention.purge(session, store.id, NOW, store.timezone) == 1
    session.expire_all()

    assert session.get(Customer, gone_id) is None
    for model, column in (
        (Opportunity, Opportunity.customer_id),
        (Visit, Visit.customer_id),
        (Invitation, Invitation.customer_id),
        (CallbackTask, CallbackTask.customer_id),
        (ConsentRecord, ConsentRecord.customer_id),
    ):
        assert count(session, model, column == gone_id) == 0, model
    for model, column in (
        (NeedsAssessment, NeedsAssessment.opportunity_id),
        (FollowUp, FollowUp.opportunity_id),
        (Assignment, Assignment.opportunity_id),
    ):
        assert count(session, model, column.in_(opportunity_ids)) == 0, model
    assert count(session, CallbackAnswers, CallbackAnswers.task_id.in_(task_ids)) == 0
    assert (
        count(session, AuditEvent, AuditEvent.store_id == store.id, AuditEvent.action == "test")
        == 4
    )
    assert factory.settings(anna).current_visit_id is None  # the visit she was in went
    # the others keep everything
    for customer in (kept, elsewhere):
        assert session.get(Customer, customer.id) is not None
        assert count(session, Visit, Visit.customer_id == customer.id) >= 1
        assert count(session, CallbackTask, CallbackTask.customer_id == customer.id) == 1
    [event] = session.scalars(
        select(AuditEvent).where(
            AuditEvent.store_id == store.id, AuditEvent.action == "retention.purged"
        )
    ).all()
    assert event.data == {"customers": 1, "years": 3}
    # a second run finds nothing more
    assert retention.purge(session, store.id, NOW, store.timezone) == 0


@pytest.mark.parametrize(
    "contact",
    [
        "created",
        "visit",
        "callback made",
        "callback to make",
        "invitation made",
        "invited for later",
        "follow-up",
    ],
)
def test_any_contact_within_three_years_keeps_the_customer(factory, session, shop, contact):
    store, anna = shop
    customer = old_customer(factory, store, anna)
    opportunity = session.scalars(
        select(Opportunity).where(Opportunity.customer_id == customer.id)
    ).one()
    if contact == "created":
        customer.created_at = RECENT
    elif contact == "visit":
        factory.visit(customer, checked_in_at=RECENT)
    elif contact == "callback made":
        factory.callback_done(customer, consultant=anna, completed_at=RECENT)
    elif contact == "callback to make":
        factory.callback_task(customer, created_at=RECENT)
    elif contact == "invitation made":
        factory.invitation_at(opportunity, anna, RECENT)
    elif contact == "invited for later":
        factory.invitation_at(opportunity, anna, OLD, scheduled_at=RECENT)
    else:
        session.add(
            FollowUp(
                opportunity_id=opportunity.id,
                consultant_id=anna.id,
                kind="call",
                occurred_at=RECENT,
            )
        )
    session.flush()
    assert retention.purge(session, store.id, NOW, store.timezone) == 0
    assert session.get(Customer, customer.id) is not None
