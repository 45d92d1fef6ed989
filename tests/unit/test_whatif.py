"""The what-if preview: what tonight's run would do under proposed rules, against the rules in
force; it agrees with the real run once the rules are saved, and never leaves a row behind."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from core.audit import AuditEvent
from core.callbacks.models import CallbackTask
from core.dispatch.models import Assignment
from core.enums import JobKind
from core.nightly import run as nightly
from core.nightly import whatif
from core.opportunities.models import Opportunity
from core.rules import admin as rule_admin
from core.rules.rulesets import current_rules
from core.stores.models import ConsultantSettings
from core.timeutil import local_date, local_moment

TZ = "Asia/Shanghai"


def at(day: date, hour: int) -> datetime:
    return local_moment(day, time(hour), TZ)


@pytest.fixture
def night():
    """Tonight's run: tomorrow at 01:00 in the store (the dates do not depend on the clock)."""
    day = date(2026, 12, 1)
    return day, at(day, 1)


def counts(session, store) -> tuple[int, ...]:
    def n(model, *where):
        return session.scalar(select(func.count()).select_from(model).where(*where))

    return (
        n(CallbackTask, CallbackTask.store_id == store.id),
        n(Assignment, Assignment.store_id == store.id),
        n(AuditEvent, AuditEvent.store_id == store.id),
        n(Opportunity, Opportunity.store_id == store.id, Opportunity.owner_id.is_(None)),
        session.scalar(
            select(func.count()).where(
                ConsultantSettings.store_id == store.id, ConsultantSettings.active
            )
        ),
    )


def scene(factory, run_on: date):
    """Three consultants: Anna at her cap of 5, Ben with room, Cara with 2 customers; a
    stalled H customer of Ben's (followed up 4 days ago), one graded dormant yesterday, a
    defeat yesterday, and 4 customers waiting in the pool."""
    store = factory.store()
    anna = factory.consultant(store, cap=5, name="Anna")
    ben = factory.consultant(store, cap=8, name="Ben")
    cara = factory.consultant(store, name="Cara")
    factory.book(anna, 5, "A")
    factory.book(ben, 2, "B")
    factory.book(cara, 2, "A")
    four_days = at(run_on - timedelta(days=4), 10)
    factory.opportunity(
        factory.customer(store),
        owner=ben,
        grade="H",
        created_at=four_days,
        graded_at=four_days,
        last_follow_up_at=four_days,
        last_visit_at=four_days,
    )
    yesterday = at(run_on - timedelta(days=1), 15)
    factory.opportunity(factory.customer(store), grade="C", graded_at=yesterday, dormant_by=cara.id)
    factory.opportunity(
        factory.customer(store), owner=anna, grade="F", graded_at=yesterday, defeat_reason="price"
    )
    for grade in ("H", "A", "B", None):
        factory.opportunity(factory.customer(store), grade=grade, in_pool=True)
    return store, anna, ben, cara


def change(session, store, *, cap=30, retry=3, cycles=None, consultants=None):
    return rule_admin.validate_dispatch(
        session,
        store.id,
        cap,
        retry,
        cycles or {"H": (2, 7), "A": (4, 15), "B": (7, 30)},
        consultants or {},
    )


def real_run(session, store, run_on, now):
    ctx = nightly.store_context(session, store.id, run_on, now, None)
    result = nightly.run(session, ctx)
    session.flush()
    moves = session.execute(
        select(Assignment.from_owner_id, Assignment.to_owner_id, func.count())
        .where(Assignment.store_id == store.id, Assignment.assigned_at == now)
        .group_by(Assignment.from_owner_id, Assignment.to_owner_id)
    ).all()
    return result, moves


def test_preview_compares_current_and_proposed_and_writes_nothing(factory, session, night):
    run_on, now = night
    store, anna, ben, cara = scene(factory, run_on)
    before = counts(session, store)
    proposal = change(
        session,
        store,
        cycles={"H": (5, 7), "A": (5, 15), "B": (7, 30)},
        consultants={anna.id: (3, True), ben.id: (8, True), cara.id: (None, False)},
    )
    result = whatif.preview(session, store.id, now, proposal, run_on=run_on)
    assert counts(session, store) == before
    assert result.run_on == run_on

    # now: stalled H (4 days > 2), dormant, defeat; the pool goes to Cara (the most room)
    assert result.current.tasks == {
        "dormant": 1,
        "stalled": 1,
        "defeat": 1,
        "scheduled": 0,
        "retry": 0,
    }
    assert (result.current.released_inactive, result.current.released_over_cap) == (0, 0)
    assert (result.current.refilled, result.current.unplaced) == (4, 0)
    # proposed: H followed up every 5 days, so no stall; Anna's cap 3 releases 2; Cara
    # inactive releases her 2; 8 in the pool, and only Ben (8 - 3 = 5 room) takes any
    assert result.proposed.tasks["stalled"] == 0
    assert result.proposed.total_tasks == 2
    assert (result.proposed.released_inactive, result.proposed.released_over_cap) == (2, 2)
    assert (result.proposed.refilled, result.proposed.unplaced) == (5, 3)
    by_name = {c.name: c for c in result.consultants}
    assert [c.name for c in result.consultants] == ["Anna", "Ben", "Cara"]
    assert by_name["Anna"].proposed.released == 2 and by_name["Anna"].proposed.load_after == 3
    assert by_name["Anna"].proposed.cap == 3 and by_name["Anna"].current.cap == 5
    assert by_name["Ben"].proposed.received == 5 and by_name["Ben"].proposed.load_after == 8
    assert by_name["Cara"].proposed.released == 2 and not by_name["Cara"].proposed.active
    assert by_name["Cara"].proposed.received == 0 and by_name["Cara"].proposed.load_after == 0
    assert by_name["Cara"].current.received == 4 and by_name["Cara"].current.load_after == 6
    assert result.changed

    # nothing moved for real: the consultants' settings, owners and rules are as they were
    session.expire_all()
    assert session.get(ConsultantSettings, cara.id).active
    assert session.get(ConsultantSettings, anna.id).load_cap == 5
    assert current_rules(session, store.id).cycles["H"].follow_up_days == 2


def test_the_preview_agrees_with_the_nightly_run_under_the_saved_rules(factory, session, night):
    run_on, now = night
    store, anna, ben, cara = scene(factory, run_on)
    manager = factory.user(store, "manager")
    proposal = change(
        session,
        store,
        cap=6,
        retry=2,
        cycles={"H": (3, 7), "A": (4, 15), "B": (7, 30)},
        consultants={anna.id: (4, True), ben.id: (None, True), cara.id: (None, False)},
    )
    preview = whatif.preview(session, store.id, now, proposal, run_on=run_on)
    rule_admin.save_dispatch(session, store.id, manager.id, now, proposal)
    result, moves = real_run(session, store, run_on, now)

    expected = preview.proposed
    assert {k: result[k] for k in expected.tasks} == expected.tasks
    assert result["released_inactive"] == expected.released_inactive == 2
    assert result["released_over_cap"] == expected.released_over_cap == 1
    assert result["refilled"] == expected.refilled
    assert result["unplaced"] == expected.unplaced
    released = {f: 0 for f in (anna.id, ben.id, cara.id)}
    received = dict(released)
    for from_id, to_id, n in moves:
        if from_id:
            released[from_id] += n
        if to_id:
            received[to_id] += n
    for c in preview.consultants:
        assert (released[c.user_id], received[c.user_id]) == (
            c.proposed.released,
            c.proposed.received,
        ), c.name
    from core.dispatch.authority import candidates

    loads = {s.user_id: s.load for s in candidates(session, store.id, 6)}
    assert {c.user_id: c.proposed.load_after for c in preview.consultants} == loads


def test_a_preview_with_no_change_shows_the_same_on_both_sides(factory, session, night):
    run_on, now = night
    store, *_ = scene(factory, run_on)
    result = whatif.preview(session, store.id, now, change(session, store), run_on=run_on)
    assert result.current == result.proposed and not result.changed
    assert not any(c.changed for c in result.consultants)


def test_tonights_run_is_today_until_todays_run_exists(factory, session):
    from core.nightly import jobruns

    store = factory.store()
    now = at(date(2026, 12, 1), 0)  # 00:00 local: the 01:00 run of today is still to come
    today = local_date(now, TZ)
    assert whatif.next_run_on(session, store.id, TZ, now) == today
    jobruns.create(session, JobKind.NIGHTLY, store_id=store.id, run_on=today)
    assert whatif.next_run_on(session, store.id, TZ, now) == today + timedelta(days=1)


def test_the_preview_issues_a_fixed_number_of_statements(factory, session, night, engine):
    from tests.querycount import count_statements

    run_on, now = night

    def statements(store, proposal):
        with count_statements(session.get_bind().engine) as found:
            whatif.preview(session, store.id, now, proposal, run_on=run_on)
        return len(found)

    small, anna, *_ = scene(factory, run_on)
    big, big_anna, _ben, big_cara = scene(factory, run_on)
    factory.book(big_cara, 20, "H")
    for grade in ("A", "B") * 10:
        factory.opportunity(factory.customer(big), grade=grade, in_pool=True)
    a = statements(small, change(session, small, consultants={anna.id: (2, True)}))
    b = statements(big, change(session, big, consultants={big_anna.id: (2, True)}))
    assert a == b
