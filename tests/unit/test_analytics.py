"""Analytics (DESIGN.md section 4): every figure against a small fixture counted by hand.

The period is March 2026 in the store's calendar; ``local(day, hh, mm)`` is a store-local
moment. Rows just outside the period (the last minute of February, the first of April) check
the store-local bounds.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from console import analytics_tables
from core.analytics import report as analytics
from core.dispatch.team import consultant_loads
from core.enums import Role
from core.errors import ValidationError
from core.opportunities.models import Opportunity
from core.timeutil import local_moment
from tests.querycount import count_statements

FROM, TO = date(2026, 3, 1), date(2026, 3, 31)
TZ = "Asia/Shanghai"


def local(day: int | date, hh: int = 10, mm: int = 0, tz: str = TZ) -> datetime:
    when = day if isinstance(day, date) else date(2026, 3, day)
    return local_moment(when, time(hh, mm), tz)


def new_opp(factory, store, **kw) -> Opportunity:
    return factory.opportunity(factory.customer(store), **kw)


@pytest.fixture
def shop(factory):
    store = factory.store()
    a = factory.consultant(store, name="李娜", cap=5)
    b = factory.consultant(store, name="王磊")
    cs = factory.user(store, Role.CS_AGENT, name="林晓雯")
    return store, a, b, cs


# --- period -----------------------------------------------------------------------------------


def test_a_period_is_validated_field_by_field():
    today = date(2026, 3, 20)
    assert analytics.check_period(date(2026, 3, 1), date(2026, 3, 20), today) == (
        date(2026, 3, 1),
        today,
    )
    cases = [
        ((None, date(2026, 3, 2)), {"from": "Enter a date."}),
        ((date(2026, 3, 1), date(2026, 3, 21)), {"to": "Choose a date that is not in the future."}),
        (
            (date(2026, 3, 5), date(2026, 3, 4)),
            {"to": "The end date must not be before the start date."},
        ),
        ((date(2025, 3, 19), date(2026, 3, 20)), {"from": "Choose a period of at most one year."}),
    ]
    for (period_from, period_to), expected in cases:
        with pytest.raises(ValidationError) as caught:
            analytics.check_period(period_from, period_to, today)
        assert caught.value.errors == expected
    # exactly 366 days is allowed
    assert analytics.check_period(date(2025, 3, 20), today, today)[0] == date(2025, 3, 20)


def test_presets_are_store_local_calendar_periods():
    today = date(2026, 3, 20)
    assert analytics.preset_period("last_7", today) == (date(2026, 3, 14), today)
    assert analytics.preset_period("last_30", today) == (date(2026, 2, 19), today)
    assert analytics.preset_period("this_month", today) == (date(2026, 3, 1), today)
    assert analytics.preset_period("last_month", today) == (date(2026, 2, 1), date(2026, 2, 28))
    assert analytics.preset_period("last_month", date(2026, 1, 5)) == (
        date(2025, 12, 1),
        date(2025, 12, 31),
    )


# --- funnel -----------------------------------------------------------------------------------


def build_funnel(factory, store, a, b):
    # visits: A two first visits received; B a revisit and a first visit at 23:30 on the last
    # day; one visitor nobody received; two just outside the period
    c = [factory.customer(store) for _ in range(8)]
    factory.visit(c[0], consultant=a, checked_in_at=local(5), reception_started_at=local(5, 10, 5))
    factory.visit(
        c[1], consultant=a, checked_in_at=local(10), reception_started_at=local(10, 10, 9)
    )
    factory.visit(
        c[2],
        consultant=b,
        checked_in_at=local(12),
        reception_started_at=local(12, 10, 1),
        is_first_visit=False,
    )
    factory.visit(
        c[3], consultant=b, checked_in_at=local(31, 23, 30), reception_started_at=local(31, 23, 31)
    )
    factory.visit(c[4], checked_in_at=local(20), status="left")
    factory.visit(c[5], consultant=a, checked_in_at=local(date(2026, 4, 1), 0, 10))
    factory.visit(c[6], consultant=a, checked_in_at=local(date(2026, 2, 28), 23, 59))
    # a returning visitor honouring an invitation counts as a revisit, once
    honoured = factory.visit(
        c[7],
        consultant=a,
        checked_in_at=local(14),
        reception_started_at=local(14, 10, 2),
        is_first_visit=False,
    )
    # intent: first analyses in March (A twice); B's customer had its first in February
    o1 = new_opp(factory, store, owner=a, grade="A")
    o2 = new_opp(factory, store, owner=b, grade="B")
    o3 = new_opp(factory, store, owner=a, grade="H")
    factory.assessment_at(o1, a, local(5, 11))
    factory.assessment_at(o1, a, local(15), grade="H")
    factory.assessment_at(o2, b, local(date(2026, 2, 20)))
    factory.assessment_at(o2, b, local(8), grade="B")
    factory.assessment_at(o3, a, local(31, 22))
    # invitations: one for each in March, one in April
    inv = factory.invitation_at(o1, a, local(6))
    honoured.invitation_id = inv.id
    factory.invitation_at(o2, b, local(7))
    factory.invitation_at(o2, b, local(date(2026, 4, 2)))
    # orders: A one in March; B one in February
    new_opp(factory, store, owner=a, grade="O", closed_at=local(18))
    new_opp(factory, store, owner=b, grade="O", closed_at=local(date(2026, 2, 27)))
    factory.session.flush()


def test_funnel_counts_each_step_per_consultant_in_the_store_calendar(factory, session, shop):
    store, a, b, _cs = shop
    build_funnel(factory, store, a, b)
    result = analytics.funnel(session, [store.id], FROM, TO)
    rows = {r.name: r for r in result.rows}
    assert set(rows) == {"李娜", "王磊", None}
    la, wl, nobody = rows["李娜"], rows["王磊"], rows[None]
    assert (la.visits, la.first_receptions, la.intent, la.invitations, la.revisits, la.orders) == (
        3,
        2,
        2,
        1,
        1,
        1,
    )
    assert (wl.visits, wl.first_receptions, wl.intent, wl.invitations, wl.revisits, wl.orders) == (
        2,
        1,
        0,
        1,
        1,
        0,
    )
    assert (nobody.visits, nobody.first_receptions) == (1, 0)
    t = result.totals
    assert [t.count(s) for s in analytics.FUNNEL_STEPS] == [6, 3, 2, 2, 2, 1]
    assert t.rate("visits") is None
    assert t.rate("first_receptions") == pytest.approx(3 / 6)
    assert t.rate("intent") == pytest.approx(2 / 3)
    assert t.rate("invitations") == pytest.approx(1.0)
    assert t.rate("revisits") == pytest.approx(1.0)
    assert t.rate("orders") == pytest.approx(1 / 2)
    assert t.order_rate == pytest.approx(1 / 6)
    # named rows by visits; the visitors nobody received last
    assert [r.name for r in result.rows] == ["李娜", "王磊", None]
    assert wl.rate("intent") == 0 and analytics.FunnelRow(None, None).rate("intent") is None


def test_the_funnel_of_one_consultant(factory, session, shop):
    store, a, b, _cs = shop
    build_funnel(factory, store, a, b)
    result = analytics.funnel(session, [store.id], FROM, TO, consultant_id=b.id)
    assert [r.name for r in result.rows] == ["王磊"]
    assert [result.totals.count(s) for s in analytics.FUNNEL_STEPS] == [2, 1, 0, 1, 1, 0]


def test_a_group_counts_each_store_in_its_own_calendar(factory, session):
    shanghai = factory.store()
    london = factory.store(timezone="Europe/London")
    for store in (shanghai, london):
        c = factory.consultant(store)
        # 23:30 on the last day, store-local: inside; 00:10 the next day: outside
        factory.visit(
            factory.customer(store), consultant=c, checked_in_at=local(31, 23, 30, store.timezone)
        )
        factory.visit(
            factory.customer(store),
            consultant=c,
            checked_in_at=local(date(2026, 4, 1), 0, 10, store.timezone),
        )
    result = analytics.funnel(session, [shanghai.id, london.id], FROM, TO, by=analytics.BY_STORE)
    assert {r.name: r.visits for r in result.rows} == {shanghai.name: 1, london.name: 1}
    assert result.totals.visits == 2


# --- misjudgement and callback results --------------------------------------------------------


def build_callbacks(factory, store, a, b):
    def done(consultant, day, **kw):
        return factory.callback_done(
            factory.customer(store), consultant=consultant, completed_at=local(day), **kw
        )

    # A graded four dormant customers CS reached: two had bought elsewhere, one would come back
    done(
        a,
        2,
        outcome="bought_elsewhere",
        has_bought=True,
        bought_brand="大众",
        bought_reason="价格更低",
        satisfaction=4,
    )
    done(
        a,
        3,
        outcome="bought_elsewhere",
        has_bought=True,
        bought_brand=" tesla",
        bought_reason="提车快",
    )
    done(a, 4, outcome="invite_back", has_bought=False, would_revisit=True, satisfaction=5)
    done(a, 5, outcome="call_again", has_bought=False, would_revisit=False)
    # not misjudgement: unanswered, a stalled call, a dormant call in February
    done(a, 6, call_result="no_answer", outcome="unreachable")
    done(
        a,
        7,
        kind="stalled",
        outcome="bought_elsewhere",
        has_bought=True,
        bought_brand="Tesla ",
        bought_reason="价格更低 ",
        satisfaction=3,
    )
    factory.callback_done(
        factory.customer(store),
        consultant=a,
        completed_at=local(date(2026, 2, 28), 23, 59),
        outcome="bought_elsewhere",
        has_bought=True,
        bought_brand="大众",
    )
    # B: two reached, both willing to come back
    done(b, 8, outcome="invite_back", has_bought=False, would_revisit=True, satisfaction=2)
    done(b, 9, outcome="call_again", would_revisit=True)
    # B's defeat call that overturned the defeat on the 22nd
    overturned = new_opp(factory, store, defeat_overturned_at=local(22))
    factory.callback_done(
        overturned.customer,
        consultant=b,
        completed_at=local(22),
        kind="defeat",
        outcome="invite_back",
        opportunity=overturned,
    )
    # an open (not completed) task counts nowhere
    factory.callback_task(factory.customer(store), consultant_id=a.id)
    factory.session.flush()


def test_misjudgement_per_consultant_ranked(factory, session, shop):
    store, a, b, _cs = shop
    build_callbacks(factory, store, a, b)
    result = analytics.misjudgement(session, [store.id], FROM, TO)
    assert [(r.name, r.reached, r.bought_elsewhere, r.willing) for r in result.rows] == [
        ("李娜", 4, 2, 1),
        ("王磊", 2, 0, 2),
    ]
    first = result.rows[0]
    assert first.bought_share == pytest.approx(0.5) and first.willing_share == pytest.approx(0.25)
    assert result.rows[1].bought_share == 0 and result.rows[1].willing_share == 1
    t = result.totals
    assert (t.reached, t.bought_elsewhere, t.willing) == (6, 2, 3)
    assert t.bought_share == pytest.approx(1 / 3) and t.willing_share == pytest.approx(0.5)
    only_b = analytics.misjudgement(session, [store.id], FROM, TO, consultant_id=b.id)
    assert [r.name for r in only_b.rows] == ["王磊"] and only_b.totals.reached == 2


def test_callback_results(factory, session, shop):
    store, a, b, _cs = shop
    build_callbacks(factory, store, a, b)
    result = analytics.callback_results(session, [store.id], FROM, TO)
    rows = {r.name: r for r in result.rows}
    la, wl = rows["李娜"], rows["王磊"]
    assert (la.attempted, la.reached, la.bought_elsewhere, la.willing) == (6, 5, 3, 1)
    assert la.reach_rate == pytest.approx(5 / 6) and la.willing_rate == pytest.approx(1 / 5)
    assert la.satisfaction == pytest.approx((4 + 5 + 3) / 3) and la.overturned == 0
    assert (wl.attempted, wl.reached, wl.bought_elsewhere, wl.willing, wl.overturned) == (
        3,
        3,
        0,
        2,
        1,
    )
    assert wl.satisfaction == pytest.approx(2.0)
    t = result.totals
    assert (t.attempted, t.reached, t.bought_elsewhere, t.willing, t.overturned) == (9, 8, 3, 3, 1)
    assert t.reach_rate == pytest.approx(8 / 9) and t.satisfaction == pytest.approx(14 / 4)
    assert [(s.key, s.n) for s in result.outcomes] == [
        ("bought_elsewhere", 3),
        ("invite_back", 3),
        ("call_again", 2),
        ("unreachable", 1),
    ]
    assert result.outcomes[0].share == pytest.approx(3 / 9)
    # brands and reasons merged across case and spaces
    # (which spelling names the merged brand depends on the database's collation)
    assert [(s.key.lower(), s.n) for s in result.brands] == [("tesla", 2), ("大众", 1)]
    assert result.brands[0].share == pytest.approx(2 / 3)
    assert [(s.key, s.n) for s in result.reasons] == [("价格更低", 2), ("提车快", 1)]
    only_b = analytics.callback_results(session, [store.id], FROM, TO, consultant_id=b.id)
    assert [r.name for r in only_b.rows] == ["王磊"]
    assert only_b.totals.overturned == 1 and only_b.brands == []


# --- defeats ----------------------------------------------------------------------------------


def test_defeats_by_reason_brand_and_consultant(factory, session, shop):
    store, a, b, cs = shop
    new_opp(factory, store, owner=a, grade="F", closed_at=local(3), defeat_reason="price")
    new_opp(
        factory,
        store,
        owner=a,
        grade="F",
        closed_at=local(9),
        defeat_reason="other_brand",
        competitor_brand="本田",
    )
    # a dormant customer of B's that customer service closed: B's
    new_opp(
        factory,
        store,
        grade="F",
        closed_at=local(11),
        defeat_reason="other_brand",
        competitor_brand=" 本田",
        dormant_by=b.id,
        graded_by=cs.id,
    )
    new_opp(
        factory,
        store,
        owner=b,
        grade="F",
        closed_at=local(date(2026, 4, 1), 0, 5),
        defeat_reason="other_brand",
        competitor_brand="丰田",
    )
    result = analytics.defeats(session, [store.id], FROM, TO)
    assert [(r.name, r.defeats, r.by_reason) for r in result.rows] == [
        ("李娜", 2, {"price": 1, "other_brand": 1}),
        ("王磊", 1, {"other_brand": 1}),
    ]
    assert [(s.key, s.n) for s in result.reasons] == [("other_brand", 2), ("price", 1)]
    assert result.reasons[0].share == pytest.approx(2 / 3)
    assert [(s.key, s.n, s.share) for s in result.brands] == [("本田", 2, 1.0)]
    assert analytics.defeats(session, [store.id], FROM, TO, consultant_id=b.id).totals.defeats == 1


# --- workload (now) ---------------------------------------------------------------------------


def test_workload_now_matches_the_team_page(factory, session, shop):
    store, a, b, _cs = shop
    now = local(date(2026, 4, 10), 12)
    today = date(2026, 4, 10)
    new_opp(factory, store, owner=a, grade="H", next_follow_up_due=today - timedelta(days=2))
    new_opp(factory, store, owner=a, grade="A", next_follow_up_due=today)
    new_opp(factory, store, owner=a)  # new, not graded
    new_opp(factory, store, owner=a, grade="O")  # closed: not load
    new_opp(factory, store, owner=b, grade="B", next_follow_up_due=date(2026, 4, 1))
    new_opp(factory, store, grade="C")  # with customer service
    result = analytics.workload(session, [store.id], now=now)
    rows = {r.name: r for r in result.rows}
    assert (rows["李娜"].overdue, rows["李娜"].load, rows["李娜"].cap) == (1, 3, 5)
    assert rows["李娜"].load_share == pytest.approx(0.6)
    assert (rows["王磊"].overdue, rows["王磊"].load, rows["王磊"].cap) == (1, 1, 30)
    assert (result.totals.overdue, result.totals.load, result.totals.cap) == (2, 4, 35)
    team = {c.user_id: (c.load, c.cap) for c in consultant_loads(session, store.id)}
    assert {r.key: (r.load, r.cap) for r in result.rows} == team


# --- reception times --------------------------------------------------------------------------


def test_average_reception_and_wait(factory, session, shop):
    store, a, b, _cs = shop
    c = [factory.customer(store) for _ in range(5)]
    # A: 40 min reception after a 2 min wait; 20 min after a 10 min wait (no assignment)
    factory.visit(
        c[0],
        consultant=a,
        checked_in_at=local(5),
        assigned_at=local(5, 10, 2),
        reception_started_at=local(5, 10, 5),
        reception_ended_at=local(5, 10, 45),
    )
    factory.visit(
        c[1],
        consultant=a,
        checked_in_at=local(6),
        reception_started_at=local(6, 10, 10),
        reception_ended_at=local(6, 10, 30),
    )
    # B: 60 min after 1 min; one still in reception (wait counted, no duration)
    factory.visit(
        c[2],
        consultant=b,
        checked_in_at=local(7),
        assigned_at=local(7, 10, 1),
        reception_started_at=local(7, 10, 1),
        reception_ended_at=local(7, 11, 1),
    )
    factory.visit(
        c[3],
        consultant=b,
        checked_in_at=local(8),
        assigned_at=local(8, 10, 3),
        reception_started_at=local(8, 10, 4),
        status="in_reception",
    )
    factory.visit(c[4], checked_in_at=local(9), status="left")  # nobody: no times
    result = analytics.reception(session, [store.id], FROM, TO)
    rows = {r.name: r for r in result.rows}
    assert set(rows) == {"李娜", "王磊"}
    assert rows["李娜"].receptions == 2 and rows["李娜"].average_reception == pytest.approx(30 * 60)
    assert rows["李娜"].average_wait == pytest.approx(6 * 60)
    assert rows["王磊"].receptions == 1 and rows["王磊"].average_reception == pytest.approx(3600)
    assert rows["王磊"].waits == 2 and rows["王磊"].average_wait == pytest.approx(2 * 60)
    t = result.totals
    assert t.average_reception == pytest.approx((40 + 20 + 60) * 60 / 3)
    assert t.average_wait == pytest.approx((2 + 10 + 1 + 3) * 60 / 4)


# --- the report and its tables ----------------------------------------------------------------


def test_tables_carry_every_figure_and_the_totals(factory, session, shop):
    store, a, b, _cs = shop
    build_funnel(factory, store, a, b)
    build_callbacks(factory, store, a, b)
    result = analytics.report(session, [store.id], FROM, TO)
    tables = analytics_tables.tables(result)
    assert list(tables) == list(analytics_tables.TABLE_NAMES)
    funnel = tables["funnel"]
    assert funnel.rows[1] == ["first_receptions", 3, pytest.approx(0.5)]
    mis = tables["misjudgement"]
    assert [c.key for c in mis.columns] == [
        "name",
        "reached",
        "bought_elsewhere",
        "bought_share",
        "willing",
        "willing_share",
    ]
    assert mis.rows[0] == ["李娜", 4, 2, 0.5, 1, 0.25]
    assert mis.totals == [None, 6, 2, pytest.approx(1 / 3), 3, 0.5]
    for name in analytics_tables.TABLE_NAMES:
        one = analytics_tables.table(session, name, [store.id], FROM, TO)
        assert one.rows == tables[name].rows and one.totals == tables[name].totals


def test_the_report_issues_the_same_statements_whatever_the_size(factory, session, shop):
    store, a, b, _cs = shop
    build_funnel(factory, store, a, b)
    build_callbacks(factory, store, a, b)
    engine = session.get_bind()

    def statements() -> int:
        with count_statements(engine) as seen:
            analytics.report(session, [store.id], FROM, TO)
        return len(seen)

    def opportunities() -> int:
        return (
            session.scalar(
                select(func.count())
                .select_from(Opportunity)
                .where(Opportunity.store_id == store.id)
            )
            or 0
        )

    small, before = statements(), opportunities()
    for _ in range(3):
        build_funnel(factory, store, factory.consultant(store), factory.consultant(store))
        build_callbacks(factory, store, factory.consultant(store), a)
    assert opportunities() >= 4 * before
    assert statements() == small == 10
