from datetime import date, timedelta

import pytest

from core.analytics.dashboard import consultant_today, store_today
from core.audit import AuditEvent
from core.db import utcnow
from core.dispatch.team import consultant_loads
from core.enums import Presence, Role
from core.errors import AuthenticationFailed, NotFound
from core.opportunities.models import Customer
from core.rules.rulesets import DEFAULT_CYCLES, current_rules
from core.scoping import get_in_store
from core.stores.auth import authenticate, load_identity
from tests.factories import PASSWORD, viewer_of


def test_sign_in_with_the_right_password(factory, session):
    user = factory.user(factory.store(), Role.MANAGER)
    identity = authenticate(session, user.username.upper(), PASSWORD)
    assert (identity.id, identity.role) == (user.id, "manager")
    assert session.query(AuditEvent).filter_by(actor_id=user.id, action="sign_in").count() == 1


@pytest.mark.parametrize("case", ["wrong password", "unknown user", "disabled user"])
def test_sign_in_failures_all_look_the_same(factory, session, case):
    user = factory.user(factory.store(), active=case != "disabled user")
    username = "nobody-here" if case == "unknown user" else user.username
    password = "wrong-pass" if case == "wrong password" else PASSWORD
    with pytest.raises(AuthenticationFailed) as info:
        authenticate(session, username, password)
    assert info.value.message == "Wrong username or password."


def test_identity_carries_the_store(factory, session):
    store = factory.store(timezone="Europe/Berlin")
    user = factory.user(store)
    identity = load_identity(session, user.id)
    assert identity.store_id == store.id
    assert identity.timezone == "Europe/Berlin"
    assert load_identity(session, 987654321) is None


def test_a_new_store_starts_with_the_default_rules(factory, session):
    rules = current_rules(session, factory.store().id)
    assert rules.version == 1
    assert rules.callback_retry_limit == 3
    assert {g: (c.follow_up_days, c.cycle_days) for g, c in rules.cycles.items()} == {
        str(g): v for g, v in DEFAULT_CYCLES.items()
    }
    assert rules.cycles["H"].follow_up_days == 2 and rules.cycles["B"].cycle_days == 30


def test_records_of_another_store_do_not_exist(factory, session):
    a, b = factory.store(), factory.store()
    customer = factory.customer(b)
    assert get_in_store(session, Customer, customer.id, b.id) is customer
    with pytest.raises(NotFound):
        get_in_store(session, Customer, customer.id, a.id)


def test_load_counts_new_and_high_intent_only(factory, session):
    store = factory.store()
    anna = factory.consultant(store, cap=5, name="Anna")
    factory.consultant(store, presence=Presence.ON_BREAK, name="Ben")
    factory.book(anna, 2, grade="H")
    factory.book(anna, 1, grade=None)
    factory.book(anna, 1, grade="B")
    factory.book(anna, 3, grade="C")  # dormant: not counted
    for grade in ("O", "F"):  # closed: not counted
        factory.opportunity(factory.customer(store), owner=anna, grade=grade)
    loads = {row.display_name: row for row in consultant_loads(session, store.id)}
    assert (loads["Anna"].load, loads["Anna"].cap, loads["Anna"].room) == (4, 5, 1)
    assert loads["Anna"].by_grade == {"H": 2, "new": 1, "B": 1, "C": 3}
    assert (loads["Ben"].load, loads["Ben"].cap, loads["Ben"].presence) == (0, 30, "on_break")


def test_consultant_today_counts_due_and_overdue(factory, session):
    store = factory.store()
    anna = factory.consultant(store)
    today = date(2026, 11, 29)
    for due in (today, today, today - timedelta(days=3), today + timedelta(days=2)):
        factory.opportunity(factory.customer(store), owner=anna, grade="A", next_follow_up_due=due)
    mine = consultant_today(session, anna.id, store.id, today)
    assert (mine.load, mine.due_today, mine.overdue) == (4, 2, 1)


def test_store_today_counts_only_that_store_and_day(factory, session):
    from core.timeutil import local_moment

    store, other = factory.store(), factory.store()
    today = date(2026, 11, 29)
    at_9 = local_moment(today, __import__("datetime").time(9), store.timezone)
    yesterday = at_9 - timedelta(days=1)
    factory.visit(factory.customer(store), status="waiting", checked_in_at=at_9)
    factory.visit(factory.customer(store), status="finished", checked_in_at=at_9)
    factory.visit(factory.customer(store), status="finished", checked_in_at=yesterday)
    factory.visit(factory.customer(other), status="waiting", checked_in_at=at_9)
    factory.callback_task(factory.customer(store), kind="defeat", due_on=today)
    factory.callback_task(factory.customer(store), kind="dormant", due_on=today + timedelta(1))
    result = store_today(session, store.id, today, store.timezone)
    assert result.visits_by_status == {"waiting": 1, "finished": 1}
    assert result.callbacks_by_kind == {"defeat": 1}


def test_search_by_surname_prefix_or_mobile_ending(factory, session):
    from core.opportunities.customers import search_customers

    store = factory.store()
    factory.customer(store, surname="欧阳", mobile="13811112222")
    factory.customer(store, surname="王", mobile="13933334444")
    factory.customer(store, surname="%王", mobile="13955556666")
    desk = viewer_of(factory.user(store, Role.CS_AGENT))
    names = lambda q: {r.name for r in search_customers(session, desk, utcnow(), q).rows}  # noqa: E731
    assert names("欧") == {"欧阳"}
    assert names("4444") == {"王"}
    assert names("%") == {"%王"}  # a literal percent sign, not a wildcard
    assert names("") == {"欧阳", "王", "%王"}
    assert names("5555") == set()


def test_a_consultant_finds_only_the_customers_on_their_book(factory, session):
    """Their open and won customers and today's visitors handed to them; not a customer they
    lost, nor another consultant's (core.opportunities.access)."""
    from core.opportunities.customers import search_customers

    store = factory.store()
    me, other = factory.consultant(store), factory.consultant(store)
    won = factory.opportunity(factory.customer(store, surname="甲"), owner=me, grade="O")
    factory.opportunity(factory.customer(store, surname="乙"), owner=me, grade="A")
    factory.opportunity(factory.customer(store, surname="丙"), owner=other, grade="H")
    lost = factory.customer(store, surname="丁")
    factory.opportunity(lost, owner=me, grade="F")
    walk_in = factory.customer(store, surname="戊")
    factory.visit(walk_in, consultant=me)
    yesterday = factory.customer(store, surname="己")
    factory.visit(yesterday, consultant=me, checked_in_at=utcnow() - timedelta(days=1))
    page = search_customers(session, viewer_of(me), utcnow())
    assert [r.name for r in page.rows] == ["戊", "乙", "甲"] and page.total == 3
    assert page.rows[2].status == "won" and won.status == "won"
