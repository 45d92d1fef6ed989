"""Need to know (issue 16, finding 1): who opens a customer and who sees the full number, the
reveal throttle and who revealed how many (core/opportunities/access.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from core.audit import AuditEvent
from core.callbacks import claims
from core.enums import Role
from core.errors import DomainError, NotFound, PermissionDenied, ValidationError
from core.opportunities import access
from core.opportunities.customers import customer_profile
from tests.factories import viewer_of

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai


@pytest.fixture
def shop(factory):
    store = factory.store()
    me, other = factory.consultant(store, name="Me"), factory.consultant(store, name="Other")
    return store, me, other


def test_a_consultant_opens_only_the_customers_on_their_book(factory, session, shop):
    store, me, other = shop
    mine = factory.customer(store)
    factory.opportunity(mine, owner=me, grade="A")
    sold = factory.customer(store)
    factory.opportunity(sold, owner=me, grade="O")
    walk_in = factory.customer(store)
    factory.visit(walk_in, consultant=me, checked_in_at=NOW - timedelta(hours=1))
    theirs = factory.customer(store)
    factory.opportunity(theirs, owner=other, grade="H")
    lost = factory.customer(store)
    factory.opportunity(lost, owner=me, grade="F")
    yesterday = factory.customer(store)
    factory.visit(yesterday, consultant=me, checked_in_at=NOW - timedelta(days=1))
    foreign = factory.customer(factory.store())
    viewer = viewer_of(me)
    for customer in (mine, sold, walk_in):
        assert access.open_customer(session, viewer, customer.id, NOW) is customer
        assert access.reveal_mobile(session, viewer, customer.id, NOW) == customer.mobile
    for customer in (theirs, lost, yesterday):
        with pytest.raises(PermissionDenied, match="another consultant"):
            access.open_customer(session, viewer, customer.id, NOW)
        with pytest.raises(PermissionDenied):
            access.reveal_mobile(session, viewer, customer.id, NOW)
        with pytest.raises(PermissionDenied):
            customer_profile(session, viewer, customer.id, NOW)
    with pytest.raises(NotFound):
        access.open_customer(session, viewer, foreign.id, NOW)


def test_customer_service_sees_a_number_only_on_the_call_it_claimed(factory, session, shop):
    store, me, _ = shop
    agent = factory.user(store, Role.CS_AGENT)
    customer = factory.customer(store)
    factory.opportunity(customer, owner=me, grade="A")
    task = factory.callback_task(customer, due_on=NOW.date())
    viewer = viewer_of(agent)
    assert customer_profile(session, viewer, customer.id, NOW).id == customer.id  # opens
    with pytest.raises(PermissionDenied, match="claimed"):
        access.reveal_mobile(session, viewer, customer.id, NOW)
    with pytest.raises(DomainError, match="Claim this callback"):
        claims.reveal_task_mobile(session, viewer, task.id, NOW)  # not claimed yet
    claims.claim(session, store.id, task.id, agent.id, NOW)
    assert claims.reveal_task_mobile(session, viewer, task.id, NOW) == customer.mobile


def test_a_manager_reveals_with_a_written_reason(factory, session, shop):
    store, me, _ = shop
    manager = factory.user(store, Role.MANAGER)
    customer = factory.customer(store)
    factory.opportunity(customer, owner=me, grade="A")
    viewer = viewer_of(manager)
    for reason in (None, "  ", "x" * 201):
        with pytest.raises(ValidationError) as refused:
            access.reveal_mobile(session, viewer, customer.id, NOW, reason=reason)
        assert "reason" in refused.value.errors
    mobile = access.reveal_mobile(session, viewer, customer.id, NOW, reason="客户投诉，需回电")
    assert mobile == customer.mobile
    [event] = session.query(AuditEvent).filter_by(action="reveal_mobile", actor_id=manager.id)
    assert (event.entity_id, event.data, event.at) == (
        customer.id,
        {"reason": "客户投诉，需回电"},
        NOW,
    )


def test_reveals_are_throttled_per_person_and_counted_for_the_manager(factory, session, shop):
    store, me, other = shop
    customers = []
    for _ in range(access.REVEALS_PER_HOUR + 1):
        customer = factory.customer(store)
        factory.opportunity(customer, owner=me, grade="A")
        customers.append(customer)
    viewer = viewer_of(me)
    for n, customer in enumerate(customers[:-1]):
        access.reveal_mobile(session, viewer, customer.id, NOW + timedelta(seconds=n))
    later = NOW + timedelta(minutes=30)
    with pytest.raises(access.TooManyReveals):
        access.reveal_mobile(session, viewer, customers[-1].id, later)
    access.reveal_mobile(session, viewer, customers[0].id, later)  # seen this hour: no new one
    an_hour_on = NOW + timedelta(hours=1, seconds=1)
    access.reveal_mobile(session, viewer, customers[-1].id, an_hour_on)
    mine = factory.customer(store)
    factory.opportunity(mine, owner=other, grade="A")
    access.reveal_mobile(session, viewer_of(other), mine.id, NOW)  # their own quota
    counts = access.reveals_by_person(session, store.id, NOW - timedelta(days=7))
    assert [(c.name, c.customers, c.reveals) for c in counts] == [
        ("Me", access.REVEALS_PER_HOUR + 1, access.REVEALS_PER_HOUR + 2),
        ("Other", 1, 1),
    ]
    assert access.reveals_by_person(session, factory.store().id, NOW - timedelta(days=7)) == []
