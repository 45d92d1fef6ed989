"""The database itself refuses what the domain forbids (on SQLite and PostgreSQL)."""

from datetime import date

import pytest
from sqlalchemy.exc import IntegrityError

from core.callbacks.models import CallbackAnswers, CallbackTask
from core.opportunities.models import Customer, Opportunity
from core.stores.models import User


def _refused(session, record):
    """The insert fails; the savepoint around it keeps the rest of the test's data."""
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(record)
        session.flush()


def test_mobile_is_unique_per_store_not_across_stores(factory, session):
    a, b = factory.store(), factory.store()
    factory.customer(a, mobile="13900000001")
    factory.customer(b, mobile="13900000001")  # another store: allowed
    _refused(session, Customer(store_id=a.id, mobile="13900000001", surname="李"))


def test_role_must_be_known(factory, session):
    store = factory.store()
    _refused(
        session,
        User(store_id=store.id, username="x1", display_name="x", password_hash="h", role="boss"),
    )


def test_grade_must_fit_status(factory, session):
    store = factory.store()
    customer = factory.customer(store)
    _refused(
        session,
        Opportunity(store_id=store.id, customer_id=customer.id, status="won", grade="H"),
    )
    customer = factory.customer(store)
    _refused(
        session,
        Opportunity(store_id=store.id, customer_id=customer.id, status="open", grade="F"),
    )


def test_one_open_opportunity_per_customer(factory, session):
    store = factory.store()
    customer = factory.customer(store)
    factory.opportunity(customer, grade="F")  # a closed one does not count
    factory.opportunity(customer, grade="A")
    _refused(session, Opportunity(store_id=store.id, customer_id=customer.id, status="open"))


def test_one_open_callback_task_per_customer(factory, session):
    store = factory.store()
    customer = factory.customer(store)
    factory.callback_task(customer, kind="dormant")
    _refused(
        session,
        CallbackTask(store_id=store.id, customer_id=customer.id, kind="retry", due_on=date.today()),
    )


def test_callback_kind_and_satisfaction_are_checked(factory, session):
    store = factory.store()
    customer = factory.customer(store)
    task = factory.callback_task(customer, status="done", call_result="reached")
    _refused(session, CallbackAnswers(task_id=task.id, satisfaction=6))
    _refused(
        session,
        CallbackAnswers(task_id=task.id, has_bought=False, bought_brand="本田"),
    )
    other = factory.customer(store)
    _refused(
        session,
        CallbackTask(store_id=store.id, customer_id=other.id, kind="someday", due_on=task.due_on),
    )


def test_foreign_keys_are_enforced(factory, session):
    store = factory.store()
    _refused(session, Opportunity(store_id=store.id, customer_id=999_999, status="open"))
