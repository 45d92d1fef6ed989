"""A night run again (Run now, or a re-run by date, after customer service worked the list)
finds nothing new to do."""

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from core.callbacks.claims import claim
from core.callbacks.models import CallbackTask
from core.callbacks.service import CallbackForm, record_callback
from core.enums import Role
from core.nightly import run as nightly
from core.rules.rulesets import current_rules
from core.timeutil import local_moment

D = date(2026, 11, 30)
TZ = "Asia/Shanghai"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return local_moment(day, time(hour, minute), TZ)


def run(session, store, day: date, now: datetime) -> dict[str, int]:
    ctx = nightly.RunContext(store.id, TZ, day, now, None, current_rules(session, store.id))
    counts = nightly.run(session, ctx)
    session.flush()
    session.expire_all()
    return counts


def tasks(session, store) -> list[CallbackTask]:
    return list(
        session.scalars(
            select(CallbackTask).where(CallbackTask.store_id == store.id).order_by(CallbackTask.id)
        )
    )


def test_a_customer_refilled_tonight_is_not_stalled_by_a_second_run(factory, session):
    store = factory.store()
    anna = factory.consultant(store, name="Anna")
    old = at(D - timedelta(days=10), 15)
    factory.opportunity(
        factory.customer(store),
        grade="H",
        in_pool=True,
        created_at=old,
        graded_at=old,
        last_visit_at=old,
        last_follow_up_at=old,
    )
    first = run(session, store, D, at(D, 1))
    assert first["refilled"] == 1 and first["stalled"] == 0
    again = run(session, store, D, at(D, 15))
    assert all(v == 0 for v in again.values()), again
    assert tasks(session, store) == []
    # the refill started the new owner's clock: she has H's two days to follow up, not less
    for day in (1, 2):
        quiet = run(session, store, D + timedelta(days=day), at(D + timedelta(days=day), 1))
        assert quiet["stalled"] == 0, day
    late = run(session, store, D + timedelta(days=3), at(D + timedelta(days=3), 1))
    assert late["stalled"] == 1
    [task] = tasks(session, store)
    assert (task.kind, task.consultant_id) == ("stalled", anna.id)


def test_an_overturned_defeat_to_call_again_is_not_called_as_dormant_by_a_second_run(
    factory, session
):
    store = factory.store()
    anna = factory.consultant(store, name="Anna")
    agent = factory.user(store, Role.CS_AGENT, name="Cathy")
    customer = factory.customer(store)
    factory.opportunity(
        customer,
        owner=anna,
        grade="F",
        graded_at=at(D - timedelta(days=1), 15),
        defeat_reason="price",
    )
    assert run(session, store, D, at(D, 1))["defeat"] == 1
    [task] = tasks(session, store)
    claim(session, store.id, task.id, agent.id, at(D, 10))
    later = D + timedelta(days=10)
    form = CallbackForm(
        call_result="reached",
        remembers_consultant=True,
        received_follow_up=True,
        has_bought=False,
        would_revisit=True,
        same_consultant_ok=True,
    )
    record_callback(
        session,
        store.id,
        task.id,
        agent.id,
        at(D, 10),
        replace(form, outcome="call_again", call_again_on=later),
    )
    session.flush()
    again = run(session, store, D, at(D, 15))
    assert all(v == 0 for v in again.values()), again
    assert [t.kind for t in tasks(session, store)] == ["defeat"]


def test_a_customer_on_the_days_list_is_not_listed_again_once_called(factory, session):
    store = factory.store()
    anna = factory.consultant(store, name="Anna")
    agent = factory.user(store, Role.CS_AGENT, name="Cathy")
    customer = factory.customer(store)
    yesterday = D - timedelta(days=1)
    # lost in the morning, back in the afternoon on a new opportunity graded dormant
    factory.opportunity(
        customer, owner=anna, grade="F", graded_at=at(yesterday, 11), defeat_reason="price"
    )
    factory.opportunity(customer, grade="C", graded_at=at(yesterday, 15), dormant_by=anna.id)
    first = run(session, store, D, at(D, 1))
    assert (first["defeat"], first["dormant"]) == (1, 0)  # the most urgent kind wins
    [task] = tasks(session, store)
    claim(session, store.id, task.id, agent.id, at(D, 10))
    form = CallbackForm(call_result="no_answer")
    record_callback(session, store.id, task.id, agent.id, at(D, 10), form)
    session.flush()
    again = run(session, store, D, at(D, 15))
    assert all(v == 0 for v in again.values()), again
    assert [t.kind for t in tasks(session, store)] == ["defeat"]
