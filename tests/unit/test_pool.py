"""The refill pool (core/dispatch/pool.py): the start page, customer service's hand-out, the
manager's reassignment list and the nightly refill count the same customers."""

from __future__ import annotations

from datetime import date

from core.analytics.dashboard import store_today
from core.callbacks.service import pool_size
from core.rules.admin import reassignable


def test_every_reader_of_the_pool_counts_the_same_customers(factory, session):
    store = factory.store()
    consultant = factory.consultant(store)
    waiting = [
        factory.opportunity(factory.customer(store), grade=g, in_pool=True)
        for g in ("A", None, "C")
    ]
    factory.opportunity(factory.customer(store), grade="B")  # unowned, not in the pool
    factory.opportunity(factory.customer(store), owner=consultant, grade="H")
    factory.opportunity(factory.customer(store), grade="F")  # lost
    session.flush()
    expected = {o.id for o in waiting}
    assert pool_size(session, store.id) == len(expected)
    assert store_today(session, store.id, date.today(), store.timezone).pool == len(expected)
    listed = reassignable(session, store.id, None)
    assert {r.opportunity_id for r in listed.rows} == expected and listed.total == len(expected)
