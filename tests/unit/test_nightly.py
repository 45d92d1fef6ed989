"""The nightly run with fixed dates: every callback rule, releases, refill, idempotency."""

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from core.callbacks.models import CallbackTask
from core.dispatch.models import Assignment
from core.enums import Presence, Role
from core.nightly import run as nightly
from core.opportunities.models import Opportunity
from core.rules.rulesets import current_rules
from core.timeutil import local_moment

D = date(2026, 11, 30)


def at(day: date, hour: int, minute: int = 0, tz: str = "Asia/Shanghai") -> datetime:
    return local_moment(day, time(hour, minute), tz)


def ago(days: int, hour: int = 10) -> datetime:
    return at(D - timedelta(days=days), hour)


def run(session, store, day=D, now=None, rules=None):
    ctx = nightly.RunContext(
        store_id=store.id,
        timezone=store.timezone,
        run_on=day,
        now=now or at(day, 1, tz=store.timezone),
        job_run_id=None,
        rules=rules or current_rules(session, store.id),
    )
    counts = nightly.run(session, ctx)
    session.flush()
    session.expire_all()
    return counts


def tasks(session, store):
    return session.scalars(
        select(CallbackTask).where(CallbackTask.store_id == store.id).order_by(CallbackTask.id)
    ).all()


@pytest.fixture
def shop(factory):
    store = factory.store()
    return store, factory.consultant(store, name="Anna"), factory.user(store, Role.CS_AGENT)


def test_dormant_yesterday_gives_a_task_for_today(factory, session, shop):
    store, anna, _ = shop
    yesterday = factory.customer(store)
    factory.opportunity(yesterday, grade="C", graded_at=ago(1), dormant_by=anna.id)
    earlier = factory.customer(store)
    factory.opportunity(earlier, grade="C", graded_at=ago(2), dormant_by=anna.id)
    counts = run(session, store)
    [task] = tasks(session, store)
    assert (task.customer_id, task.kind, task.due_on) == (yesterday.id, "dormant", D)
    assert task.consultant_id == anna.id and task.status == "open" and task.attempt == 1
    assert counts["dormant"] == 1


def test_defeat_by_a_consultant_yesterday_is_called_back(factory, session, shop):
    store, anna, agent = shop
    lost = factory.customer(store)
    factory.opportunity(lost, owner=anna, grade="F", graded_at=ago(1), defeat_reason="price")
    closed_by_cs = factory.customer(store)
    opp = factory.opportunity(closed_by_cs, owner=anna, grade="F", graded_at=ago(1))
    opp.graded_by = agent.id  # customer service closed it: "bought elsewhere", no defeat call
    run(session, store)
    assert [(t.customer_id, t.kind, t.consultant_id) for t in tasks(session, store)] == [
        (lost.id, "defeat", anna.id)
    ]


@pytest.mark.parametrize(
    ("grade", "days_since_contact", "expected_overdue"),
    [("H", 2, None), ("H", 3, 1), ("A", 4, None), ("A", 6, 2), ("B", 7, None), ("B", 8, 1)],
)
def test_follow_up_interval_missed_is_stalled(
    factory, session, shop, grade, days_since_contact, expected_overdue
):
    store, anna, _ = shop
    customer = factory.customer(store)
    factory.opportunity(
        customer,
        owner=anna,
        grade=grade,
        graded_at=ago(days_since_contact + 1),
        last_follow_up_at=ago(days_since_contact, hour=23),
        last_visit_at=ago(days_since_contact),
        created_at=ago(days_since_contact + 1),
    )
    run(session, store)
    found = [(t.kind, t.stall_rule, t.overdue_days) for t in tasks(session, store)]
    expected = [("stalled", "follow_up", expected_overdue)] if expected_overdue else []
    assert found == expected


def test_cycle_without_a_revisit_is_stalled_even_with_calls(factory, session, shop):
    store, anna, _ = shop
    customer = factory.customer(store)
    factory.opportunity(
        customer,
        owner=anna,
        grade="B",
        created_at=ago(40),
        graded_at=ago(40),
        last_visit_at=ago(32),  # cycle 30 -> 2 days over
        last_follow_up_at=ago(1),  # followed up, so the interval is kept
    )
    run(session, store)
    [task] = tasks(session, store)
    assert (task.kind, task.stall_rule, task.overdue_days) == ("stalled", "cycle", 2)
    assert task.consultant_id == anna.id


def test_a_stall_is_called_once_not_every_night(factory, session, shop):
    store, anna, _ = shop
    factory.opportunity(
        factory.customer(store), owner=anna, grade="H", created_at=ago(6), graded_at=ago(5)
    )
    run(session, store)
    [task] = tasks(session, store)
    task.status, task.call_result, task.completed_at = "done", "reached", at(D, 11)
    session.flush()
    run(session, store, day=D + timedelta(days=1))
    assert len(tasks(session, store)) == 1


def test_scheduled_callback_date_is_consumed(factory, session, shop):
    store, anna, _ = shop
    due = factory.opportunity(
        factory.customer(store),
        grade="C",
        graded_at=ago(10),
        dormant_by=anna.id,
        next_callback_on=D,
    )
    later = factory.opportunity(
        factory.customer(store), grade="C", graded_at=ago(10), next_callback_on=D + timedelta(3)
    )
    run(session, store)
    [task] = tasks(session, store)
    assert (task.opportunity_id, task.kind, task.consultant_id) == (due.id, "scheduled", anna.id)
    assert session.get(Opportunity, due.id).next_callback_on is None
    assert session.get(Opportunity, later.id).next_callback_on == D + timedelta(3)


@pytest.mark.parametrize(("attempt", "retried"), [(1, True), (2, True), (3, False)])
def test_unreachable_is_retried_up_to_the_limit(factory, session, shop, attempt, retried):
    store, anna, _ = shop
    customer = factory.customer(store)
    opp = factory.opportunity(customer, grade="C", graded_at=ago(5), dormant_by=anna.id)
    factory.callback_task(
        customer,
        kind="dormant",
        due_on=D - timedelta(1),
        opportunity_id=opp.id,
        status="done",
        call_result="no_answer",
        outcome="unreachable",
        attempt=attempt,
        completed_at=ago(1, hour=15),
        consultant_id=anna.id,
    )
    run(session, store)
    new = [t for t in tasks(session, store) if t.status == "open"]
    if retried:
        [task] = new
        assert (task.kind, task.attempt, task.opportunity_id) == ("retry", attempt + 1, opp.id)
    else:
        assert new == []


def test_never_a_customer_without_consent_or_who_said_do_not_contact(factory, session, shop):
    store, anna, _ = shop
    for customer in (
        factory.customer(store, consented=False),
        factory.customer(store, do_not_contact=True),
    ):
        factory.opportunity(customer, grade="C", graded_at=ago(1), dormant_by=anna.id)
    run(session, store)
    assert tasks(session, store) == []


def test_never_two_open_tasks_and_the_most_urgent_kind_wins(factory, session, shop):
    store, anna, _ = shop
    busy = factory.customer(store)
    factory.opportunity(busy, grade="C", graded_at=ago(1), dormant_by=anna.id)
    factory.callback_task(busy, kind="scheduled", due_on=D - timedelta(2))  # still open
    both = factory.customer(store)
    factory.opportunity(
        both, owner=anna, grade="H", created_at=ago(9), graded_at=ago(9), next_callback_on=D
    )
    run(session, store)
    kinds = {(t.customer_id, t.kind, t.status) for t in tasks(session, store)}
    assert kinds == {(busy.id, "scheduled", "open"), (both.id, "stalled", "open")}


def test_a_store_in_another_time_zone_uses_its_own_calendar(factory, session):
    store = factory.store(timezone="America/Los_Angeles")
    anna = factory.consultant(store)
    late = factory.customer(store)  # 23:30 on Nov 29 in Los Angeles = Nov 30 07:30 UTC
    factory.opportunity(
        late,
        grade="C",
        dormant_by=anna.id,
        graded_at=at(D - timedelta(1), 23, 30, "America/Los_Angeles"),
    )
    early = factory.customer(store)  # 00:30 on Nov 30 there: belongs to Dec 1's list
    factory.opportunity(
        early, grade="C", dormant_by=anna.id, graded_at=at(D, 0, 30, "America/Los_Angeles")
    )
    run(session, store, now=at(D, 1, tz="America/Los_Angeles"))
    assert [t.customer_id for t in tasks(session, store)] == [late.id]
    run(session, store, day=D + timedelta(1), now=at(D + timedelta(1), 1, tz=store.timezone))
    assert [t.customer_id for t in tasks(session, store)] == [late.id, early.id]


def test_a_run_just_after_midnight(factory, session, shop):
    store, anna, _ = shop
    before = factory.customer(store)
    factory.opportunity(
        before, grade="C", graded_at=at(D - timedelta(1), 23, 59), dormant_by=anna.id
    )
    after = factory.customer(store)
    factory.opportunity(after, grade="C", graded_at=at(D, 0, 1), dormant_by=anna.id)
    run(session, store, now=at(D, 0, 5))
    assert [t.customer_id for t in tasks(session, store)] == [before.id]


def _assignments(session, store):
    return session.scalars(
        select(Assignment).where(Assignment.store_id == store.id).order_by(Assignment.id)
    ).all()


def test_refill_by_grade_then_waiting_time_to_the_most_room(factory, session):
    store = factory.store()
    roomy = factory.consultant(store, cap=5, name="Roomy")  # room 5
    busy = factory.consultant(store, cap=5, name="Busy")
    factory.book(busy, 3, grade="A")  # room 2
    waiting = {}
    for grade, hours in (("B", 50), ("H", 10), (None, 80), ("H", 20)):
        waiting[(grade, hours)] = factory.opportunity(
            factory.customer(store),
            grade=grade,
            in_pool=True,
            pool_since=ago(0, hour=1) - timedelta(hours=hours),
        )
    counts = run(session, store)
    placed = [
        (a.opportunity_id, a.to_owner_id, a.to_load, a.to_cap) for a in _assignments(session, store)
    ]
    # H waiting longest, H, B, then the ungraded one; Roomy 5,4,3 then Busy (2) ties Roomy (2)
    assert placed == [
        (waiting[("H", 20)].id, roomy.id, 0, 5),
        (waiting[("H", 10)].id, roomy.id, 1, 5),
        (waiting[("B", 50)].id, roomy.id, 2, 5),
        (waiting[(None, 80)].id, busy.id, 3, 5),
    ]
    assert counts["refilled"] == 4 and counts["unplaced"] == 0
    opp = session.get(Opportunity, waiting[("H", 20)].id)
    assert opp.owner_id == roomy.id and opp.pool_since is None and opp.next_follow_up_due == D


def test_refill_never_goes_past_a_cap_nor_to_a_declined_consultant(factory, session):
    store = factory.store()
    only = factory.consultant(store, cap=2, name="Only")
    factory.consultant(store, cap=0, name="Full")
    declined = factory.opportunity(factory.customer(store), grade="A", in_pool=True)
    factory.decline(declined.customer, only)
    for _ in range(3):
        factory.opportunity(factory.customer(store), grade="A", in_pool=True)
    counts = run(session, store)
    assert (counts["refilled"], counts["unplaced"]) == (2, 2)
    assert session.get(Opportunity, declined.id).owner_id is None
    skipped = {c["name"]: c["skipped"] for c in _assignments(session, store)[0].candidates}
    assert skipped == {"Only": None, "Full": "at_cap"}


def test_inactive_consultants_customers_and_load_above_a_cap_are_handed_on(factory, session):
    store = factory.store()
    leaving = factory.consultant(store, name="Leaving")
    factory.book(leaving, 2, grade="H")
    factory.settings(leaving).active = False
    over = factory.consultant(store, cap=3, name="Over")
    b_ones = factory.book(over, 2, grade="B")
    h_ones = factory.book(over, 3, grade="H")
    taker = factory.consultant(store, cap=10, name="Taker")
    counts = run(session, store)
    assert counts["released_inactive"] == 2 and counts["released_over_cap"] == 2
    for opp in b_ones:  # the B customers are taken away first, H kept
        assert session.get(Opportunity, opp.id).owner_id == taker.id
    assert {session.get(Opportunity, o.id).owner_id for o in h_ones} == {over.id}
    loads = {s.name: (s.load, s.cap) for s in nightly.candidates(session, store.id, 30)}
    assert loads == {"Leaving": (0, 30), "Over": (3, 3), "Taker": (4, 10)}


def test_after_a_run_nobody_is_above_their_cap(factory, session):
    store = factory.store()
    team = [factory.consultant(store, cap=cap) for cap in (4, 6, 8)]
    for person, n in zip(team, (7, 2, 9), strict=True):
        factory.book(person, n, grade="A")
    for _ in range(6):
        factory.opportunity(factory.customer(store), grade="H", in_pool=True)
    run(session, store)
    for seat in nightly.candidates(session, store.id, 30):
        assert seat.load <= seat.cap


def test_a_second_run_changes_nothing(factory, session, shop):
    store, anna, _ = shop
    factory.opportunity(factory.customer(store), grade="C", graded_at=ago(1), dormant_by=anna.id)
    factory.opportunity(
        factory.customer(store), owner=anna, grade="H", created_at=ago(5), graded_at=ago(5)
    )
    factory.opportunity(factory.customer(store), grade="A", in_pool=True)
    factory.opportunity(factory.customer(store), grade="C", graded_at=ago(3), next_callback_on=D)
    first = run(session, store)
    snapshot = (
        session.scalar(select(func.count()).select_from(CallbackTask)),
        session.scalar(select(func.count()).select_from(Assignment)),
    )
    second = run(session, store, now=at(D, 9))
    assert sum(first.values()) >= 4
    assert all(v == 0 for v in second.values()), second
    assert snapshot == (
        session.scalar(select(func.count()).select_from(CallbackTask)),
        session.scalar(select(func.count()).select_from(Assignment)),
    )


def test_presence_does_not_matter_at_night(factory, session):
    store = factory.store()
    off = factory.consultant(store, presence=Presence.OFF_DUTY)
    factory.opportunity(factory.customer(store), grade="B", in_pool=True)
    assert run(session, store)["refilled"] == 1
    assert (
        session.scalar(select(Opportunity.owner_id).where(Opportunity.store_id == store.id))
        == off.id
    )
